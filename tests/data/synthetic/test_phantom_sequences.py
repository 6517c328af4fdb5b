"""Sequences of the phantom: realistic half sequences, cines of several beats, moving speckle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lunet.data.labels import Label, View
from lunet.data.synthetic.generate import generate_dataset
from lunet.data.synthetic.patient import PhantomOptions, render_patient
from lunet.data.synthetic.timing import cine, half_sequence_fractions, sample_rhythm, systole_s


def test_realistic_half_sequences_have_camus_lengths():
    lengths = []
    for seed in range(200):
        rhythm = sample_rhythm(np.random.default_rng(seed))
        f = half_sequence_fractions("realistic", 1, rhythm)
        assert f[0] == 0.0 and f[-1] == pytest.approx(1.0) and np.all(np.diff(f) > 0)
        expected = round(systole_s(rhythm.rr_s) * rhythm.frame_rate) + 1
        assert len(f) == min(max(expected, 10), 30)
        lengths.append(len(f))
    assert min(lengths) == 10 and max(lengths) >= 25  # CAMUS: about 10–30 frames ED → ES
    assert len(half_sequence_fractions("short", 3, rhythm)) == 5
    with pytest.raises(ValueError, match="sequence_frames"):
        half_sequence_fractions("long", 1, rhythm)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cine_beats_vary_and_ed_es_are_the_volume_extremes(seed):
    rhythm = sample_rhythm(np.random.default_rng(seed))
    c = cine(rhythm, 3)
    assert len(c.rr_s) == 3 and np.ptp(c.rr_s) > 0  # heart rate varies from beat to beat
    assert all(abs(rr / rhythm.rr_s - 1) <= 0.12 for rr in c.rr_s)
    assert len(c.es_frames) == 3 and len(c.ed_frames) == 4  # ED of each beat and the one that ends the cine
    assert np.all(np.diff(c.ed_frames) > 0) and all(a < b for a, b in zip(c.ed_frames, c.es_frames))
    for k, es in enumerate(c.es_frames):  # ES: the smallest LV (largest phase fraction) of its beat
        beat = slice(c.ed_frames[k], c.ed_frames[k + 1] + 1)
        assert c.fractions[es] == c.fractions[beat].max() > 0.95
    for ed in c.ed_frames:  # ED: the largest LV around each beat's start
        assert c.fractions[ed] == c.fractions[max(ed - 5, 0) : ed + 6].min() < 0.05
    duration = c.times_s[-1] - c.times_s[0]
    assert duration == pytest.approx(sum(c.rr_s), abs=1.0)


@pytest.mark.slow
def test_patient_half_sequence_and_cine_from_the_analytic_curve():
    options = PhantomOptions(sequence_frames="realistic", cycles=2)
    p = render_patient(2, 0, "256", options)
    for view in View:
        vr, vt = p.views[view], p.truth["views"][view.value]
        n = vr.frames.shape[0]
        assert 10 <= n <= 30 and vr.frame_labels.shape[0] == n == vt["n_frames"]
        area = np.asarray(vt["lv_area_mm2"])
        assert np.all(np.diff(area) <= 1e-9 + 2 * np.prod(vr.spacing) * 40)  # ED → ES: the LV shrinks
        assert area[0] > area[-1]
        lv_px = (vr.cine_labels == Label.LV).sum(axis=(1, 2))
        ct = vt["cine"]
        assert ct["frames"] == vr.cine_frames.shape[0] == len(ct["lv_area_mm2"])
        for k, es in enumerate(ct["es_frames"]):  # 1-based frames at the area extremes of each beat
            beat = slice(ct["ed_frames"][k] - 1, ct["ed_frames"][k + 1])
            assert lv_px[es - 1] == lv_px[beat].min()
        for ed in ct["ed_frames"]:
            assert lv_px[ed - 1] == lv_px[max(ed - 6, 0) : ed + 5].max()
    assert p.truth["edv_ml"] == render_patient(2, 0, "256").truth["edv_ml"]


def test_speckle_moves_with_the_tissue():
    p = render_patient(5, 0, "256", PhantomOptions(sequence_frames="realistic", hard_fraction=0))
    vr = p.views[View.A4C]
    myo = (
        (vr.frame_labels[0] == Label.MYO)
        & (vr.frame_labels[1] == Label.MYO)
        & (vr.frame_labels[-1] == Label.MYO)
    )
    frames = vr.frames.astype(float)

    def corr(a: int, b: int) -> float:
        return float(np.corrcoef(frames[a][myo], frames[b][myo])[0, 1])

    assert corr(0, 1) > 0.6  # neighbouring frames: slow decorrelation
    assert corr(0, -1) < corr(0, 1) - 0.1  # ED vs ES: the speckle has moved with the wall
    far = np.zeros_like(myo)
    far[-20:, 100:156] = True  # deep tissue below the heart does not move
    assert np.array_equal(vr.frames[0][far], vr.frames[1][far]) or corr_far(frames, far) > 0.95


def corr_far(frames: np.ndarray, far: np.ndarray) -> float:
    return float(np.corrcoef(frames[0][far], frames[1][far])[0, 1])


def test_annotation_variability_moves_contours_not_images():
    exact = render_patient(4, 0, "256")
    observer = render_patient(4, 0, "256", PhantomOptions(annotation_sd_mm=1.5))
    for view in View:
        a, b = exact.views[view], observer.views[view]
        assert np.array_equal(a.frames, b.frames)  # same images
        assert not np.array_equal(a.frame_labels, b.frame_labels)
        lv_a, lv_b = a.frame_labels[0] == Label.LV, b.frame_labels[0] == Label.LV
        dice = 2 * np.sum(lv_a & lv_b) / (lv_a.sum() + lv_b.sum())
        assert 0.85 < dice < 0.99  # a second observer: close, not identical
    assert observer.truth["edv_ml"] == exact.truth["edv_ml"]
    assert observer.truth["annotation_sd_mm"] == 1.5


def test_hard_cases_are_foreshortened_or_cut():
    flags = []
    for index in range(1, 9):
        p = render_patient(index, 0, "256", PhantomOptions(hard_fraction=1.0))
        for vt in p.truth["views"].values():
            flags.append((vt["foreshortening_offset_mm"] > 0, vt["sector_cut"]))
    assert any(f for f, _ in flags) and any(c for _, c in flags)


def test_foreshortened_views_have_a_shorter_cavity_and_the_apex_at_its_tip():
    for index in range(1, 9):
        p = render_patient(index, 0, "256", PhantomOptions(hard_fraction=1.0))
        for view, vt in p.truth["views"].items():
            if vt["foreshortening_offset_mm"] == 0:
                continue
            vr = p.views[View(view)]
            lab = vr.label("ED")
            r, c = (round(x) for x in vt["instants"]["ED"]["apex_px"])
            assert (lab[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4] == Label.LV).any()  # the visible tip
            rows = np.flatnonzero((lab == Label.LV).any(axis=1))
            shown_mm = (rows.max() - rows.min() + 1) * vr.spacing[0]
            assert shown_mm < vt["instants"]["ED"]["long_axis_mm"] + 1  # never longer than the true axis
            return
    raise AssertionError("no foreshortened view among 8 hard patients")


@pytest.mark.slow
def test_cine_files_on_disk(tmp_path):
    root = generate_dataset(tmp_path / "ds", 1, size="256", seed=1, workers=1, cycles=1, progress=False)
    import SimpleITK as sitk

    folder = root / "database_nifti" / "patient0001"
    truth = json.loads((folder / "phantom_truth.json").read_text())
    cine_img = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "patient0001_4CH_cine.nii.gz")))
    cine_gt = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "patient0001_4CH_cine_gt.nii.gz")))
    assert cine_img.shape == cine_gt.shape and cine_img.shape[0] == truth["views"]["4CH"]["cine"]["frames"]


def test_sequence_options_are_validated(tmp_path):
    with pytest.raises(ValueError, match="cycles"):
        generate_dataset(tmp_path / "bad", 1, size="256", cycles=99)
    with pytest.raises(ValueError, match="sequence_frames"):
        generate_dataset(tmp_path / "bad", 1, size="256", sequence_frames="long")
    with pytest.raises(ValueError, match="annotation_sd_mm"):
        generate_dataset(tmp_path / "bad", 1, size="256", annotation_sd_mm=-1)


def test_circular_option_keeps_views_exact_for_simpson():
    for index in range(1, 7):
        p = render_patient(index, 0, "256", PhantomOptions(circular=True, hard_fraction=1.0))
        for vt in p.truth["views"].values():
            assert vt["foreshortening_offset_mm"] == 0 and not vt["sector_cut"]
