"""Whole-sequence prediction: known ED/ES on analytic cines, reversed files, corrupted frames, outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from sequence_helpers import SPACING, DarkDiskPredictor, disk_cine, half_cycle_radii

from lunet.data.camus_io import write_image
from lunet.inference.sequence import SequenceOptions, biplane_volumes, predict_cine
from lunet.inference.sequence_io import read_cine
from lunet.inference.sequence_outputs import write_sequence
from lunet.inference.sequence_pictures import write_animation, write_curve_plot


def _cine(tmp_path, radii, name="patient0001_2CH_half_sequence.nii.gz", seed=0):
    path = write_image(tmp_path / name, disk_cine(radii, seed=seed), SPACING)
    return read_cine(path)


def test_area_curve_is_the_disk_area_and_phases_are_the_true_frames(tmp_path):
    radii = half_cycle_radii(16)
    result = predict_cine(DarkDiskPredictor(), _cine(tmp_path, radii))
    expected = np.pi * radii**2 * SPACING[0] * SPACING[1]
    np.testing.assert_allclose(result.lv_area_mm2, expected, rtol=0.06)
    assert result.phases.ed_frames == (0,) and result.phases.es_frames == (15,)
    assert result.phases.direction == "ED→ES" and result.cine.hint == "half"


def test_an_es_to_ed_file_gives_the_answer_of_its_reversal(tmp_path):
    radii = half_cycle_radii(14)
    forward = predict_cine(DarkDiskPredictor(), _cine(tmp_path, radii))
    backward = predict_cine(
        DarkDiskPredictor(), _cine(tmp_path, radii[::-1], "patient0002_4CH_half_sequence.nii.gz")
    )
    assert backward.phases.direction == "ES→ED"
    assert backward.phases.ed_frames == (13 - forward.phases.ed_frames[0],)
    assert backward.phases.es_frames == (13 - forward.phases.es_frames[0],)
    np.testing.assert_allclose(backward.lv_area_mm2[::-1], forward.lv_area_mm2, rtol=0.02)


@pytest.mark.parametrize("corruption", ["blank", "noise"])
def test_one_corrupted_frame_is_reported_and_does_not_move_ed_es(tmp_path, corruption):
    radii = half_cycle_radii(16)
    frames = disk_cine(radii)
    rng = np.random.default_rng(1)
    frames[14] = 0.0 if corruption == "blank" else rng.uniform(0, 255, frames[14].shape)
    cine = read_cine(write_image(tmp_path / "patient0001_2CH_half_sequence.nii.gz", frames, SPACING))
    assert cine.bad_frames == ((14,) if corruption == "blank" else ())
    result = predict_cine(DarkDiskPredictor(), cine)
    assert 14 in result.phases.flagged
    assert result.phases.ed_frames == (0,) and result.phases.es_frames == (15,)


def test_camus_folder_context_gives_frame_time_orientation_and_reference(tmp_path):
    radii = half_cycle_radii(10)
    (tmp_path / "Info_2CH.cfg").write_text("ED: 10\nES: 1\nNbFrame: 10\nImageQuality: Good\nFrameRate: 40\n")
    cine = _cine(tmp_path, radii[::-1])
    assert cine.frame_time_ms == pytest.approx(25.0)
    assert (cine.orientation, cine.orientation_source) == ("ES→ED", "cfg")
    assert (cine.reference_ed, cine.reference_es) == (10, 1)


def test_outputs_json_plot_and_animation(tmp_path):
    result = predict_cine(DarkDiskPredictor(), _cine(tmp_path, half_cycle_radii(8)))
    record = write_sequence(tmp_path / "out", "seq", result, SequenceOptions(), {"model": "dark-disk"})
    saved = json.loads((tmp_path / "out" / "sequences" / "seq.json").read_text())
    assert saved == json.loads(json.dumps(saved)) and saved["frames"] == 8
    assert len(saved["lv_area_mm2"]) == 8 and saved["ed_frames"] == [1] and saved["es_frames"] == [8]
    assert record["mask"] == saved["mask"] == "masks/seq.nii.gz"
    from lunet.data.camus_io import read_sequence

    masks, spacing = read_sequence(tmp_path / "out" / saved["mask"])
    assert masks.shape == (8, 64, 64) and spacing == pytest.approx(SPACING)
    with Image.open(tmp_path / "out" / saved["animation"]) as gif:
        assert gif.format == "GIF" and gif.n_frames == 8
    with Image.open(tmp_path / "out" / saved["curve_png"]) as png:
        png.load()
        assert png.format == "PNG" and png.width > 100


def test_biplane_volumes_of_two_views(tmp_path):
    r2, r4 = half_cycle_radii(12), half_cycle_radii(9, 20.0, 13.0)[::-1]
    a2c = predict_cine(DarkDiskPredictor(), _cine(tmp_path, r2))
    a4c = predict_cine(DarkDiskPredictor(), _cine(tmp_path, r4, "patient0001_4CH_half_sequence.nii.gz"))
    volumes = biplane_volumes(a2c, a4c)
    beat = volumes["beats"][0]
    assert beat["ed_frames"] == {"2CH": 1, "4CH": 9} and beat["es_frames"] == {"2CH": 12, "4CH": 1}
    assert volumes["edv_ml"] > volumes["esv_ml"] > 0
    assert 0 < volumes["ef_percent"] < 100
    assert len(volumes["volume_ml"]) == 12 and volumes["volume_ml"][0] == pytest.approx(volumes["edv_ml"])
    png = write_curve_plot(tmp_path / "v.png", [a2c, a4c], volumes)
    assert png.stat().st_size > 1000
    assert write_animation(tmp_path / "a.gif", a2c).stat().st_size > 1000


def test_a_single_frame_file_is_refused(tmp_path):
    path = write_image(tmp_path / "one.nii.gz", disk_cine(half_cycle_radii(1))[0], SPACING)
    with pytest.raises(ValueError, match="at least 2 frames"):
        read_cine(path)


def test_lunet_roi_frames_of_a_sequence_equal_the_single_image_prediction(tmp_path):
    """A native-crop LU-Net: the sequence path (ROI scores composed on the frames' grid) gives each frame the
    labels ``lunet predict`` gives it as an image (:func:`lunet.models.postprocess.frame_prediction`)."""
    import torch
    from inference_helpers import echo_like

    from lunet.bundle import save_bundle
    from lunet.inference.backends import load_predictor
    from lunet.inference.inputs import network_inputs
    from lunet.inference.sequence import segment_frames
    from lunet.models import create_model
    from lunet.models.postprocess import frame_prediction

    torch.manual_seed(2)
    model = create_model("lunet").eval()
    with torch.no_grad():  # a box over the middle of the image, the structures inside it
        box_fc = model.localizer.head.fc[7]
        box_fc.weight.mul_(0.01)
        box_fc.bias.copy_(torch.logit(torch.tensor([0.2, 0.15, 0.8, 0.85])))
        model.segmenter.head.bias.copy_(torch.tensor([0.0, 0.5, 0.5, -5.0]))
    predictor = load_predictor(save_bundle(tmp_path / "l", model, {"model": "lunet", "size": 64}), "torch")
    assert predictor.outputs == ["roi_logits", "box"]
    frames = np.stack([echo_like(50, 40, k) for k in range(3)]).astype(np.float32)
    labels = segment_frames(predictor, frames, (0.3, 0.3), batch_size=2)
    assert all((frame == 0).any() and (frame > 0).any() for frame in labels)  # structures in the box only
    for t, frame in enumerate(frames):
        out = predictor(*(a[None, None] for a in network_inputs(frame, (0.3, 0.3), predictor)))
        np.testing.assert_array_equal(labels[t], frame_prediction(out, 0, frame.shape).labels)
