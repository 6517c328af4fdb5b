"""The left atrium in ``lunet predict --sequence``: label 3 kept for a model trained on it, per-frame LA area,
the LA QC of the ES frames, the LA volume at the detected ES and the largest over the cine; an older bundle's
sequences unchanged (no label 3, no LA keys)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np
import pytest
from sequence_helpers import SIZE, SPACING, DarkDiskPredictor, disk_cine, half_cycle_radii

from lunet.data.camus_io import read_sequence, write_image
from lunet.data.labels import Label
from lunet.evaluation.atrium import la_volume_ml
from lunet.inference.sequence import SequenceOptions, analyse, atrium_volumes
from lunet.inference.sequence_io import read_cine
from lunet.inference.sequence_outputs import predict_cine_groups, write_sequence

N = 12
#: LA height (rows) per frame of the 2CH cine (ED → ES): largest at frame 8 (0-based), not at ES (frame 11).
HEIGHTS = np.array([4, 5, 6, 7, 8, 9, 10, 11, 14, 12, 11, 10])
PIXEL_MM2 = SPACING[0] * SPACING[1]


def _labels(heights, la_cols, reverse=False):
    """``(N, 64, 64)`` labels: an LV disk shrinking ED → ES, an LA rectangle of the given heights below it
    (not touching it); ``reverse``: the file runs ES → ED."""
    radii = half_cycle_radii(N, 12.0, 8.0)
    rr, cc = np.mgrid[:SIZE, :SIZE]
    labels = np.zeros((N, SIZE, SIZE), np.uint8)
    for t, (r, h) in enumerate(zip(radii, heights)):
        labels[t][np.hypot(rr - 16, cc - 32) < r] = Label.LV
        labels[t, 40 : 40 + h, la_cols[0] : la_cols[1]] = Label.LA
    return labels[::-1].copy() if reverse else labels


def _views(tmp_path, heights_2ch=HEIGHTS, heights_4ch=HEIGHTS):
    results = {}
    for view, cols, reverse, heights in (
        ("2CH", (24, 40), False, heights_2ch),
        ("4CH", (22, 44), True, heights_4ch),
    ):
        path = write_image(
            tmp_path / f"patient0001_{view}_half_sequence.nii.gz", disk_cine(np.ones(N)), SPACING
        )
        results[view] = analyse(read_cine(path), _labels(heights, cols, reverse), atrium=True)
    return results


def test_la_volume_at_es_and_its_largest_over_the_cine_are_at_the_known_frames(tmp_path):
    views = _views(tmp_path)
    a2c, a4c = views["2CH"], views["4CH"]
    assert a2c.phases.es_frames == (11,) and a4c.phases.es_frames == (0,)
    np.testing.assert_allclose(a2c.la_area_mm2, HEIGHTS * 16 * PIXEL_MM2)
    np.testing.assert_allclose(a4c.la_area_mm2, HEIGHTS[::-1] * 22 * PIXEL_MM2)

    def volume(f2, f4):
        return la_volume_ml((a4c.labels[f4], SPACING), (a2c.labels[f2], SPACING))

    la = atrium_volumes(a2c, a4c)
    assert la["la_volume_ml"] == pytest.approx(volume(11, 0))  # at ES: 2CH frame 12, 4CH frame 1 (1-based)
    assert la["la_beats"] == [{"es_frames": {"2CH": 12, "4CH": 1}, "la_volume_ml": la["la_volume_ml"]}]
    # the tallest atrium: 2CH frame 9 (1-based), the same phase in the reversed 4CH cine is its frame 4
    assert la["la_max_frames"] == {"2CH": 9, "4CH": 4}
    assert la["la_volume_max_ml"] == pytest.approx(volume(8, 3))
    assert la["la_max_phase"] == pytest.approx(8 / 11 * 0.5)
    assert la["la_volume_max_ml"] > la["la_volume_ml"] > 0
    assert max(la["la_volume_curve_ml"]) == la["la_volume_max_ml"] and len(la["la_volume_curve_ml"]) == N
    assert "area-length" in la["la_method"] and "detected ventricular end-systole" in la["la_note"]
    # both ES atria lie inside the image, but these made atria are ~0.1 ml: below the plausible range
    assert la["la_qc_flags"] == ["la_volume_out_of_range"]


def test_an_es_frame_without_atrium_gives_a_null_volume_and_la_empty(tmp_path):
    heights = HEIGHTS.copy()
    heights[-1] = 0  # 2CH ES frame: no LA
    views = _views(tmp_path, heights_2ch=heights)
    la = atrium_volumes(views["2CH"], views["4CH"])
    assert np.isnan(la["la_volume_ml"]) and "la_empty" in la["la_qc_flags"]
    assert la["la_max_frames"] == {"2CH": 9, "4CH": 4}  # the largest is still found where both have an LA


def test_atrium_volumes_refuses_labels_of_a_model_not_trained_on_the_atrium(tmp_path):
    views = _views(tmp_path)
    old = analyse(views["2CH"].cine, views["2CH"].labels)  # atrium=False: no LA curve
    assert old.la_area_mm2 is None
    with pytest.raises(ValueError, match="not trained on the left atrium"):
        atrium_volumes(old, views["4CH"])


class AtriumDiskPredictor(DarkDiskPredictor):
    """The dark-disk stand-in with an LA channel that wins in rows 52–59, columns 20–43 (below the disk)."""

    meta: ClassVar[dict[str, Any]] = {"model": "dark-disk", "labels": [0, 1, 2, 3]}
    la_rows: ClassVar[slice] = slice(52, 60)

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        out = super().__call__(batch)
        out["logits"][:, 3] = -5.0
        out["logits"][:, 3, self.la_rows, 20:44] = 8.0
        return out


class BorderAtriumPredictor(AtriumDiskPredictor):
    """The LA reaches the image's bottom edge (rows 56–63)."""

    la_rows: ClassVar[slice] = slice(56, 64)


class OldDiskPredictor(AtriumDiskPredictor):
    """The same outputs from a bundle trained on LV and myocardium only."""

    meta: ClassVar[dict[str, Any]] = {"model": "dark-disk", "labels": [0, 1, 2]}


def test_one_view_of_an_la_model_keeps_label_3_and_says_why_its_volume_is_null(tmp_path):
    path = write_image(
        tmp_path / "patient0003_2CH_half_sequence.nii.gz", disk_cine(half_cycle_radii(10, 14.0, 9.0)), SPACING
    )
    options = SequenceOptions(animation=False)
    new_rows = predict_cine_groups(AtriumDiskPredictor(), [[path]], tmp_path / "new", options)
    old_rows = predict_cine_groups(OldDiskPredictor(), [[path]], tmp_path / "old", options)
    assert new_rows[0]["status"] == old_rows[0]["status"] == "ok"
    new, _ = read_sequence(tmp_path / "new" / "masks" / "patient0003_2CH_half_sequence.nii.gz")
    old, _ = read_sequence(tmp_path / "old" / "masks" / "patient0003_2CH_half_sequence.nii.gz")
    assert ((new == Label.LA).reshape(10, -1).sum(1) == 8 * 24).all()
    assert set(np.unique(old)) == {0, 1}  # the untrained LA channel merged into the background
    np.testing.assert_array_equal(np.where(new == Label.LA, 0, new), old)

    record = json.loads((tmp_path / "new" / "sequences" / "patient0003_2CH_half_sequence.json").read_text())
    np.testing.assert_allclose(record["la_area_mm2"], [8 * 24 * PIXEL_MM2] * 10)
    assert record["la_area_max_mm2"] == pytest.approx(8 * 24 * PIXEL_MM2) and record["la_area_max_frame"] == 1
    assert record["la_es_qc"] == [{"frame": 10, "flags": []}]  # the ES frame's LA lies inside the image
    assert record["la_volume_ml"] is None and "only the 2CH cine" in record["la_volume_note"]
    old_record = json.loads(
        (tmp_path / "old" / "sequences" / "patient0003_2CH_half_sequence.json").read_text()
    )
    assert not [key for key in old_record if key.startswith("la_")]
    assert old_record["lv_area_mm2"] == record["lv_area_mm2"]


def test_the_la_qc_of_the_es_frame_flags_an_atrium_cut_by_the_image_border(tmp_path):
    path = write_image(
        tmp_path / "patient0004_4CH_half_sequence.nii.gz", disk_cine(half_cycle_radii(9)), SPACING
    )
    predict_cine_groups(BorderAtriumPredictor(), [[path]], tmp_path / "out", SequenceOptions(animation=False))
    record = json.loads((tmp_path / "out" / "sequences" / "patient0004_4CH_half_sequence.json").read_text())
    assert record["la_es_qc"] == [{"frame": 9, "flags": ["la_touches_image_border"]}]


def test_a_cine_without_camus_names_says_why_it_has_no_la_volume(tmp_path):
    path = write_image(tmp_path / "loop.nii.gz", disk_cine(half_cycle_radii(8, 14.0, 9.0)), SPACING)
    predict_cine_groups(AtriumDiskPredictor(), [[path]], tmp_path / "out", SequenceOptions(animation=False))
    record = json.loads((tmp_path / "out" / "sequences" / "loop.json").read_text())
    assert record["la_volume_ml"] is None and "no CAMUS patient and view" in record["la_volume_note"]


def test_write_sequence_of_an_old_model_has_no_la_keys(tmp_path):
    views = _views(tmp_path)
    old = analyse(views["2CH"].cine, np.where(views["2CH"].labels == Label.LA, 0, views["2CH"].labels))
    record = write_sequence(tmp_path / "out", "seq", old, SequenceOptions(animation=False), {})
    assert not [key for key in record if key.startswith("la_")]


# --- a model trained on the LA for one epoch (as tests/training/test_atrium_training.py), end to end ---


@pytest.fixture(scope="module")
def lunet_la_run(tmp_path_factory):
    """Three phantom patients (one per fold list) and one epoch of LU-Net with the default (4-class) loss;
    no run predictions (the test predicts the cines itself): a few seconds."""
    from lunet.config import TrainConfig
    from lunet.training.fit import train

    synthetic = pytest.importorskip("lunet.data.synthetic.generate")
    root = tmp_path_factory.mktemp("sequence_atrium")
    data = root / "synth"
    synthetic.generate_dataset(data, 3, size="256", seed=0, workers=1, progress=False)
    config = TrainConfig.create(
        data=str(data), cache=str(root / "cache"), size=64, epochs=1, batch_size=4, n_folds=3,
        deterministic=True, progress_bar=False, patience=0, model="lunet",
    )  # fmt: skip
    return train(config, root / "lunet", predict=False), data


def _predict(run, data, out):
    from lunet.inference.sequence_outputs import predict_sequences

    folder = data / "database_nifti" / "patient0001"
    files = [folder / f"patient0001_{view}_half_sequence.nii.gz" for view in ("2CH", "4CH")]
    rows = predict_sequences(run, files, out, SequenceOptions(animation=False), backend="torch")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    masks = [read_sequence(out / "masks" / f.name)[0] for f in files]
    records = [json.loads((out / "sequences" / f"{f.name.split('.')[0]}.json").read_text()) for f in files]
    return masks, records, json.loads((out / "patients" / "patient0001_sequence.json").read_text())


def test_a_trained_la_model_writes_label_3_and_the_la_volume_and_an_old_record_does_not(
    lunet_la_run, tmp_path, as_pre_atrium_bundle
):
    run, data = lunet_la_run
    masks, records, patient = _predict(run, data, tmp_path / "new")
    assert all((m == Label.LA).any() for m in masks)  # after one epoch o1 calls much of the image LA
    for mask, record in zip(masks, records):
        areas = (mask == Label.LA).reshape(len(mask), -1).sum(1) * np.prod(record["spacing_mm"])
        np.testing.assert_allclose(record["la_area_mm2"], areas)
        assert record["la_volume_ml"] == patient["la_volume_ml"]
    assert patient["la_volume_ml"] > 0 and "area-length" in patient["la_method"]
    assert "la_volume_max_ml" in patient and isinstance(patient["la_qc_flags"], list)
    # a nonsense atrium after one epoch: the volume range check says so
    assert ("la_volume_out_of_range" in patient["la_qc_flags"]) == (not 10 <= patient["la_volume_ml"] <= 250)

    with as_pre_atrium_bundle(run):
        old_masks, old_records, old_patient = _predict(run, data, tmp_path / "old")
    assert all(set(np.unique(m)) <= {0, 1, 2} for m in old_masks)
    assert not [k for r in [*old_records, old_patient] for k in r if k.startswith("la_")]
    for new, old in zip(masks, old_masks):  # LV and myocardium the same; the LA became background
        np.testing.assert_array_equal(np.where(new == Label.LA, 0, new), old)
