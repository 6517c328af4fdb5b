"""Sequence evaluation: known scores on analytic disk cines, temporal consistency, EF, evaluate-folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sequence_helpers import SIZE, SPACING, DarkDiskPredictor, disk_cine, half_cycle_radii

from lunet.cli import main
from lunet.data.camus_io import write_image
from lunet.evaluation.sequence import area_roughness, evaluate_sequences, jump_share
from lunet.inference.sequence import SequenceOptions, predict_cine
from lunet.inference.sequence_io import read_cine
from lunet.inference.sequence_outputs import write_patient, write_sequence


def _labels(radii: np.ndarray) -> np.ndarray:
    rr, cc = np.mgrid[:SIZE, :SIZE]
    dist = np.hypot(rr - SIZE / 2 + 0.5, cc - SIZE / 2 + 0.5)
    return np.stack([(dist < r).astype(np.uint8) for r in radii])


def _reference(root, reverse_4ch=True):
    """A CAMUS NIfTI patient with annotated half sequences (the 4CH one stored ES → ED)."""
    folder = root / "database_nifti" / "patient0001"
    folder.mkdir(parents=True)
    for view, n in (("2CH", 9), ("4CH", 7)):
        radii = half_cycle_radii(n)
        radii = radii[::-1] if view == "4CH" and reverse_4ch else radii
        frames, labels = disk_cine(radii), _labels(radii)
        ed, es = (n - 1, 0) if view == "4CH" and reverse_4ch else (0, n - 1)
        write_image(folder / f"patient0001_{view}_half_sequence.nii.gz", frames, SPACING)
        write_image(folder / f"patient0001_{view}_half_sequence_gt.nii.gz", labels, SPACING)
        for instant, k in (("ED", ed), ("ES", es)):
            write_image(folder / f"patient0001_{view}_{instant}.nii.gz", frames[k], SPACING)
            write_image(folder / f"patient0001_{view}_{instant}_gt.nii.gz", labels[k], SPACING)
        (folder / f"Info_{view}.cfg").write_text(
            f"ED: {ed + 1}\nES: {es + 1}\nNbFrame: {n}\nImageQuality: Good\nFrameRate: 40\nEF: 50\n"
        )
    return folder


def _predict(folder, out):
    views = {}
    for view in ("2CH", "4CH"):
        result = predict_cine(
            DarkDiskPredictor(), read_cine(folder / f"patient0001_{view}_half_sequence.nii.gz")
        )
        write_sequence(out, f"patient0001_{view}_half_sequence", result, SequenceOptions(animation=False), {})
        views[view] = result
    write_patient(out, "patient0001", views, {})


def test_scores_of_an_exact_prediction(tmp_path):
    folder = _reference(tmp_path / "ref")
    _predict(folder, tmp_path / "pred")
    result = evaluate_sequences(tmp_path / "pred", tmp_path / "ref", tmp_path / "eval")
    summary = result["summary"]
    assert summary["sequences"] == 2 and summary["frames"] == 16 and summary["synthetic"] is False
    assert summary["lv_endo_dice"] > 0.97
    assert summary["ed_abs_error_frames"] == 0.0 and summary["es_abs_error_ms"] == 0.0
    rows = {r["view"]: r for r in result["sequences"]}
    assert (rows["4CH"]["ed_frame"], rows["4CH"]["ed_reference"]) == (7, 7)
    assert rows["2CH"]["roughness_ratio"] == pytest.approx(1.0, abs=0.5)
    patient = result["patients"][0]
    assert patient["ef_sequence"] == pytest.approx(patient["ef_reference_masks"], abs=3.0)
    for name in ("sequence_per_frame.csv", "sequence_per_sequence.csv", "sequence_patients.csv"):
        assert (tmp_path / "eval" / name).read_text().count("\n") >= 2
    assert json.loads((tmp_path / "eval" / "sequence.json").read_text())["curves"][0]["ref_area_mm2"]


def test_frame_error_in_frames_and_ms(tmp_path):
    folder = _reference(tmp_path / "ref", reverse_4ch=False)
    (folder / "Info_2CH.cfg").write_text("ED: 3\nES: 9\nNbFrame: 9\nImageQuality: Good\nFrameRate: 40\n")
    _predict(folder, tmp_path / "pred")
    rows = {
        r["view"]: r
        for r in evaluate_sequences(tmp_path / "pred", tmp_path / "ref", tmp_path / "e")["sequences"]
    }
    assert rows["2CH"]["ed_error_frames"] == -2.0 and rows["2CH"]["ed_error_ms"] == pytest.approx(-50.0)


def test_temporal_consistency_scores():
    smooth = 1000.0 + 10.0 * np.arange(10)
    assert area_roughness(smooth) == pytest.approx(0.0)
    jittery = smooth + np.tile([0.0, 50.0], 5)
    assert area_roughness(jittery) > 0.05
    radii = half_cycle_radii(10)
    labels = _labels(radii)
    assert jump_share(labels, SPACING) == 0.0
    labels[4] = _labels([5.0])[0]  # one frame collapses: its contour is ~7 mm from both neighbours'
    assert jump_share(labels, SPACING) == pytest.approx(1 / 8)


def test_evaluate_folder_on_sequence_predictions(tmp_path, capsys):
    _predict(_reference(tmp_path / "ref"), tmp_path / "pred")
    code = main(["evaluate-folder", "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref"),
                 "--out", str(tmp_path / "eval")])  # fmt: skip
    assert code == 0
    assert "2 sequences" in capsys.readouterr().out
    assert (tmp_path / "eval" / "sequence.json").is_file()


def test_evaluate_run_segments_the_test_patients_sequences(tmp_path):
    from inference_helpers import make_bundle

    from lunet.data.folds import Fold, write_fold_lists
    from lunet.evaluation.sequence import evaluate_run_sequences
    from lunet.inference.sequence_outputs import predict_run_test_sequences

    _reference(tmp_path / "ref")
    run = tmp_path / "run"
    make_bundle(run, "unet1")
    (run / "config.json").write_text(json.dumps({"model": "unet1", "data": str(tmp_path / "ref"), "fold": 1}))
    write_fold_lists([Fold(index=0, train=["patient0002"], val=[], test=["patient0001"])], run / "folds")
    assert evaluate_run_sequences(run, run / "evaluation") is None  # nothing predicted yet
    predict_run_test_sequences(run)
    result = evaluate_run_sequences(run, run / "evaluation")
    assert result["summary"]["sequences"] == 2 and result["summary"]["frames"] == 16
    assert (run / "predictions_sequence" / "patients" / "patient0001_sequence.json").is_file()
    assert not list((run / "predictions_sequence" / "sequences").glob("*.gif"))
