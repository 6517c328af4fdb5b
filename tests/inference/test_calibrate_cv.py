"""``lunet calibrate CV_RUN``: CV+ over the out-of-fold patients of a cross-validation (stand-in fold models
that segment the LV of a CAMUS-style folder exactly, each shifted by a known EF bias)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from eval_helpers import SIZES, lv_labels, write_nifti, write_patient
from inference_helpers import LvBandNet

from lunet.cli import main
from lunet.evaluation.cv_plus import CvPlusCalibration
from lunet.evaluation.interval_calibration import PASSES_FILE, read_calibration, run_intervals
from lunet.inference.calibrate import calibrate_run
from lunet.inference.calibrate_cv import calibrate_cv_run
from lunet.inference.tta import DEFAULT_PASSES
from lunet.run_files import cv_members

PATIENTS = [f"patient{i:04d}" for i in range(1, 31)]
SPACING = (0.4, 0.3)
SHAPE = (128, 112)
LOADS: list[str] = []  # the folds whose model the stand-in loader was asked for


@pytest.fixture
def cv_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """3 folds of 10 patients: fold K tests patients 10(K−1)+1 … 10K and validates the next fold's."""
    data = tmp_path / "data"
    for pid in PATIENTS:
        folder = write_patient(data, pid, "Good", SIZES, SPACING)
        for key, (a, b) in SIZES.items():
            write_nifti(folder / f"{pid}_{key}.nii.gz", 10.0 + 100.0 * (lv_labels(SHAPE, SPACING, a, b) == 1),
                        SPACING)  # fmt: skip
    groups = [PATIENTS[10 * k : 10 * k + 10] for k in range(3)]
    run = tmp_path / "cv"
    for k in range(3):
        fold = run / f"fold_{k + 1}"
        (fold / "folds").mkdir(parents=True)
        for j in range(3):
            lists = {"testing": groups[j], "validation": groups[(j + 1) % 3], "training": groups[(j + 2) % 3]}
            for split, ids in lists.items():
                (fold / "folds" / f"subGroup{j + 1}_{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        (fold / "config.json").write_text(json.dumps({"model": "unet1", "data": str(data), "fold": k + 1}))
        (fold / "model.safetensors").write_bytes(b"")
    import lunet.inference.backends as backends

    LOADS.clear()
    monkeypatch.setattr(
        backends, "load_predictor", lambda path, *a, **k: LOADS.append(Path(path).name) or LvBandNet()
    )
    return run


def test_cv_members_are_the_trained_folds(cv_run: Path, tmp_path: Path) -> None:
    assert [p.name for p in cv_members(cv_run)] == ["fold_1", "fold_2", "fold_3"]
    (cv_run / "fold_10").mkdir()  # not trained: no weights
    assert len(cv_members(cv_run)) == 3
    assert cv_members(cv_run / "fold_1") == [] and cv_members(tmp_path / "nowhere") == []


def test_cv_plus_known_answer_and_reuse_of_the_folds_passes(cv_run: Path) -> None:
    """Identical patients and exact fold models: every out-of-fold residual is |EF − 50| (the cfg EF), so
    the absolute CV+ interval is the point ± that residual. A fold whose own calibration stored its test
    patients' passes is not predicted again."""
    calibrate_run(cv_run / "fold_1", level=0.8, score="absolute", passes=DEFAULT_PASSES[:3])
    LOADS.clear()
    cal = calibrate_cv_run(cv_run, level=0.9, score="absolute", passes=DEFAULT_PASSES[:3])
    assert LOADS == ["fold_2", "fold_3"]
    assert isinstance(cal, CvPlusCalibration) and cal.members == ("fold_1", "fold_2", "fold_3")
    assert cal.n_patients == 30 and cal.models == 3 and cal.patients == "out-of-fold"
    empty = hashlib.sha256(b"").hexdigest()  # the stand-in folds' weights files are empty
    assert cal.weights_sha256 == {"fold_1": empty, "fold_2": empty, "fold_3": empty}
    ef = cal.indices["ef_percent"]
    assert sorted(np.bincount(ef.members).tolist()) == [10, 10, 10]
    assert np.ptp(ef.scores) < 1e-9  # identical patients, identical models
    back = read_calibration(cv_run)
    assert isinstance(back, CvPlusCalibration) and back.members == cal.members
    assert np.array_equal(back.indices["ef_percent"].scores, ef.scores)
    point = 50.0 + ef.scores[0]  # EF of the exact masks is above the cfg's 50 % (or below: either side)
    out = cal.intervals([{"ef_percent": point, "edv_ml": 40.0, "esv_ml": 20.0}] * 3)
    assert out["ef_lo_percent"] == pytest.approx(point - ef.scores[0])
    assert out["ef_hi_percent"] == pytest.approx(point + ef.scores[0])


def test_cli_calibrate_on_a_cv_folder_and_the_gathered_intervals(
    cv_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lunet calibrate CV_RUN` writes the CV+ file; the gathered run's clinical intervals come from each
    fold's own split-conformal calibration (its quantile), not from the CV+ one."""
    assert main(["calibrate", str(cv_run), "--passes", "2", "--score", "absolute"]) == 0
    assert "CV+ 90 % intervals for the ensemble of 3 folds" in capsys.readouterr().out
    assert main(["calibrate", str(cv_run), "--ensemble", str(cv_run / "fold_1")]) == 2
    assert "is its own ensemble (3 folds)" in capsys.readouterr().err
    for k in (1, 2):  # fold 3 stays without its own calibration
        calibrate_run(cv_run / f"fold_{k}", level=0.9, score="absolute", passes=DEFAULT_PASSES[:2])
    (cv_run / "folds_gathered.txt").write_text("fold_1\nfold_2\nfold_3\n")
    calibrations, spreads = run_intervals(cv_run)  # type: ignore[misc]
    assert set(calibrations) == set(PATIENTS[:20]) and set(spreads) == set(PATIENTS[:20])
    assert calibrations["patient0001"] == read_calibration(cv_run / "fold_1")
    assert calibrations["patient0015"] == read_calibration(cv_run / "fold_2")
    assert (cv_run / "fold_1" / PASSES_FILE).is_file()


def test_too_few_folds_or_patients(cv_run: Path, caplog: pytest.LogCaptureFixture) -> None:
    from lunet.inference.calibrate_cv import calibrate_cv_after_gathering

    with pytest.raises(ValueError, match="two or more trained folds"):
        calibrate_cv_run(cv_run / "fold_1")
    assert calibrate_cv_after_gathering(cv_run, level=0.99) is None  # 30 patients: 99 % needs 99
    assert "no ensemble (CV+) intervals" in caplog.text and not (cv_run / "calibration.json").exists()
