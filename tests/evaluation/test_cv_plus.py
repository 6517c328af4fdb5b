"""CV+ intervals of a cross-validation's ensemble: known answers, coverage of a simulated cross-validation
whose errors are known, the calibration file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lunet.evaluation.cv_plus import (
    CvPlusCalibration,
    calibrate_cv_plus,
    cv_plus_interval,
    cv_plus_scores,
)
from lunet.evaluation.interval_calibration import (
    CalibrationFileError,
    IntervalCalibration,
    PatientPasses,
    read_calibration,
    write_calibration,
)


def test_identical_members_give_the_split_conformal_interval() -> None:
    """With every fold model giving the same estimate, CV+ is ŷ ± the ⌈(n+1)·level⌉-th smallest score, the
    split-conformal interval: scores 1..19 at 90 % → k = 18 on both sides."""
    scores = cv_plus_scores([0, 1, 2] * 6 + [0], np.zeros(19), np.arange(1, 20, dtype=float))
    assert scores.n == 19 and scores.n_dropped == 0
    lo, hi = cv_plus_interval(scores, [50.0, 50.0, 50.0], None, 0.90)
    assert (lo, hi) == (50.0 - 18.0, 50.0 + 18.0)
    assert cv_plus_interval(scores, [99.0, 99.0, 99.0], None, 0.90, (0.0, 100.0)) == (81.0, 100.0)


def test_each_score_moves_with_the_model_that_made_it() -> None:
    """Fold 0 held out the patients with small errors, fold 1 those with large ones: a new patient whom fold 1
    sees 10 points higher shifts the upper bound by 10, not the lower one (taken from fold 0's patients)."""
    members = [0] * 10 + [1] * 10
    residuals = [1.0] * 10 + [5.0] * 10
    scores = cv_plus_scores(members, np.zeros(20), residuals)
    lo, hi = cv_plus_interval(scores, [40.0, 40.0], None, 0.80)
    assert (lo, hi) == (35.0, 45.0)
    lo, hi = cv_plus_interval(scores, [40.0, 50.0], None, 0.80)
    assert (lo, hi) == (39.0, 55.0)  # lower: min over fold 0's 39 and fold 1's 45; upper: fold 1's 55


def test_normalised_width_grows_with_the_members_spread() -> None:
    rng = np.random.default_rng(0)
    sigma = rng.uniform(1, 3, 40)
    scores = cv_plus_scores(np.arange(40) % 4, np.zeros(40), rng.normal(0, sigma), sigma, spread_floor=0.25)
    narrow = cv_plus_interval(scores, [50.0] * 4, [1.0] * 4, 0.9)
    wide = cv_plus_interval(scores, [50.0] * 4, [2.0] * 4, 0.9)
    assert narrow[0] < 50 < narrow[1]
    assert wide[1] - wide[0] == pytest.approx(2 * (narrow[1] - narrow[0]))
    floor = cv_plus_interval(scores, [50.0] * 4, [0.0] * 4, 0.9)  # raised to the 0.25 floor
    assert floor[1] - floor[0] == pytest.approx(0.25 * (narrow[1] - narrow[0]))


def test_nan_member_estimate_gives_nan_and_too_few_patients_raise() -> None:
    scores = cv_plus_scores([0, 1] * 10, np.zeros(20), np.ones(20))
    assert all(math.isnan(v) for v in cv_plus_interval(scores, [50.0, math.nan], None, 0.9))
    few = cv_plus_scores([0, 1] * 4, np.zeros(8), np.ones(8))
    with pytest.raises(ValueError, match="at least 9"):
        cv_plus_interval(few, [50.0, 50.0], None, 0.9)
    with pytest.raises(ValueError, match="fold model 1"):
        cv_plus_interval(scores, [50.0], None, 0.9)


def _simulated_cv(rng: np.random.Generator, n: int, k: int, fold_sd: float, noise: float = 6.0) -> tuple:
    """A K-fold cross-validation whose fold models err by a fold bias, plus an error of the patient's image
    that every model shares (scaled by a per-patient spread, the passes' SD), plus a little of their own."""
    bias = rng.normal(0, fold_sd, k)

    def predict(y: np.ndarray, fold: np.ndarray, sigma: np.ndarray, z: np.ndarray) -> np.ndarray:
        return y + bias[fold] + noise * sigma * z + rng.normal(0, 0.5, y.size)

    truth = rng.uniform(20, 75, n)
    fold = np.arange(n) % k
    sigma = rng.uniform(0.5, 2.0, n)
    estimates = predict(truth, fold, sigma, rng.normal(0, 1, n))
    return predict, cv_plus_scores(fold, estimates, truth, sigma)


@pytest.mark.parametrize("level", [0.8, 0.9])
@pytest.mark.parametrize("fold_sd", [0.0, 2.0])
def test_simulated_cross_validation_reaches_its_coverage(level: float, fold_sd: float) -> None:
    """5 folds, 100 out-of-fold patients, errors known: over 20 independent cross-validations × 100 new
    patients the CV+ coverage is never below the binomial 99.9 % band of the nominal level. With fold models
    that agree it lies inside the band; with fold models biased apart (SD 2 EF points) CV+ over-covers, as it
    is known to (its interval spans the members' disagreement; Barber et al. 2021, §4), here by < 8 points."""
    rng = np.random.default_rng(1)
    hits, total = 0, 0
    for _ in range(20):
        predict, scores = _simulated_cv(rng, 100, 5, fold_sd)
        y, sigma, z = rng.uniform(20, 75, 100), rng.uniform(0.5, 2.0, 100), rng.normal(0, 1, 100)
        members = np.stack([predict(y, np.full(100, f), sigma, z) for f in range(5)], axis=1)
        for j in range(100):
            lo, hi = cv_plus_interval(scores, members[j], [sigma[j]] * 5, level)
            hits += lo <= y[j] <= hi
            total += 1
    low, high = stats.binom.ppf([0.0005, 0.9995], total, level) / total
    assert hits / total >= low, hits / total
    assert hits / total <= (high if fold_sd == 0 else level + 0.08), hits / total


def _passes(pid: str, ef: float, spread: float) -> PatientPasses:
    values = np.array([[120.0, 60.0, ef]] + [[120.0, 60.0, ef + s] for s in (-spread, spread)])
    return PatientPasses(pid, values, ["model0:identity", "model0:zoom0.95", "model0:zoom1.05"])


def test_calibrate_write_read_round_trip(tmp_path: Path) -> None:
    oof = [(i % 3, _passes(f"patient{i:04d}", 50.0 + (i % 7), 1.0 + i % 2)) for i in range(30)]
    truths = [{"edv_ml": 121.0, "esv_ml": 59.0, "ef_percent": 50.0} for _ in oof]
    cal = calibrate_cv_plus(
        oof, truths, ["fold_1", "fold_2", "fold_3"], 0.9, "absolute", ["identity", "a", "b"]
    )
    assert cal.method == "cv+" and cal.models == 3 and cal.n_patients == 30 and not cal.needs_spread
    write_calibration(tmp_path, cal)
    data = json.loads((tmp_path / "calibration.json").read_text())
    assert data["method"] == "cv+" and data["members"] == ["fold_1", "fold_2", "fold_3"]
    back = read_calibration(tmp_path)
    assert isinstance(back, CvPlusCalibration) and back.members == cal.members
    assert np.array_equal(back.indices["ef_percent"].scores, cal.indices["ef_percent"].scores)
    estimates = [{"ef_percent": 55.0, "edv_ml": 120.0, "esv_ml": 60.0}] * 3
    out = back.intervals(estimates)
    assert out == cal.intervals(estimates)
    assert out["ef_lo_percent"] == 55.0 - 6.0 and out["ef_hi_percent"] == 55.0 + 6.0  # residuals 0..6
    # the ensemble's reported estimate is always inside its interval
    wide = back.intervals(estimates, point={"ef_percent": 70.0, "edv_ml": 120.0, "esv_ml": 60.0})
    assert wide["ef_hi_percent"] == 70.0 and wide["ef_lo_percent"] == 49.0
    with pytest.raises(ValueError, match="3"):
        back.intervals(estimates[:2])


def test_split_calibration_still_reads_and_bad_files_are_named(tmp_path: Path) -> None:
    from lunet.evaluation.intervals import ConformalCalibration

    split = IntervalCalibration(
        0.9, "absolute", ("identity",), {"ef_percent": ConformalCalibration(0.9, "absolute", 5.0, 20)}
    )
    write_calibration(tmp_path, split)
    assert read_calibration(tmp_path).method == "split"  # type: ignore[union-attr]
    data = json.loads((tmp_path / "calibration.json").read_text())
    data.pop("method")  # a file written before the key: split-conformal
    (tmp_path / "calibration.json").write_text(json.dumps(data))
    assert isinstance(read_calibration(tmp_path), IntervalCalibration)
    data.update(method="cv+", members=["fold_1"])
    data["indices"]["ef_percent"] = {"members": [0, 3], "scores": [1.0, 2.0]}
    (tmp_path / "calibration.json").write_text(json.dumps(data))
    with pytest.raises(CalibrationFileError, match=r"calibration\.json.*1 folds"):
        read_calibration(tmp_path)


def test_a_patient_held_out_twice_or_too_few_are_refused() -> None:
    truths = [{"edv_ml": 1.0, "esv_ml": 1.0, "ef_percent": 1.0}] * 2
    twice = [(0, _passes("patient0001", 50, 1)), (1, _passes("patient0001", 50, 1))]
    with pytest.raises(ValueError, match="patient0001"):
        calibrate_cv_plus(twice, truths, ["fold_1", "fold_2"])
    few = [(i % 2, _passes(f"patient{i:04d}", 50, 1)) for i in range(5)]
    with pytest.raises(ValueError, match="at least 9"):
        calibrate_cv_plus(few, truths[:1] * 5, ["fold_1", "fold_2"], score="absolute")
    with pytest.raises(ValueError, match="5 patients, 2 reference"):
        calibrate_cv_plus(few, truths, ["fold_1", "fold_2"], score="absolute")
