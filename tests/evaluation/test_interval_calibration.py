"""A run's interval calibration (lunet.evaluation.interval_calibration): passes → calibration.json →
intervals, on simulated predictors whose errors are known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lunet.evaluation.interval_calibration import (
    CALIBRATION_FILE,
    INTERVAL_COLUMNS,
    CalibrationFileError,
    PatientPasses,
    calibrate_passes,
    choose_score,
    read_calibration,
    read_passes,
    write_calibration,
    write_passes,
)

N_CAL, N_TEST, REPEATS, PASSES = 39, 40, 150, 7


def simulate(rng: np.random.Generator, n: int, noise: np.ndarray | float) -> tuple[list, list]:
    """Patients whose passes scatter around the point estimate with SD ``noise`` (per patient) and whose point
    estimate misses the truth by a Gaussian error of the same SD (the passes' spread is informative)."""
    noise = np.broadcast_to(np.asarray(noise, dtype=np.float64), (n,))
    out, truths = [], []
    for i in range(n):
        truth = {"edv_ml": rng.uniform(80, 200), "ef_percent": rng.uniform(20, 70)}
        truth["esv_ml"] = truth["edv_ml"] * (1 - truth["ef_percent"] / 100)
        point = np.array([truth["edv_ml"], truth["esv_ml"], truth["ef_percent"]]) + rng.normal(0, noise[i], 3)
        values = point + rng.normal(0, noise[i], (PASSES, 3))
        values[0] = point
        out.append(PatientPasses(f"patient{i:04d}", values, [f"model0:p{k}" for k in range(PASSES)]))
        truths.append(truth)
    return out, truths


def covered(cal, passes: list[PatientPasses], truths: list[dict]) -> np.ndarray:
    lo_name, hi_name = INTERVAL_COLUMNS["ef_percent"]
    hits = []
    for p, t in zip(passes, truths):
        interval = cal.intervals(p.point(), p.spread())
        hits.append(interval[lo_name] <= t["ef_percent"] <= interval[hi_name])
    return np.array(hits)


@pytest.mark.parametrize("score", ["absolute", "normalised"])
@pytest.mark.parametrize("level", [0.80, 0.90, 0.95])
def test_wired_intervals_reach_nominal_coverage(level: float, score: str) -> None:
    """Calibrate on N_CAL patients, cover N_TEST new ones, REPEATS times: the mean coverage is the level
    within 4 SD of the binomial/Beta spread (noise heteroscedastic, 1–6 points)."""
    rng = np.random.default_rng(int(level * 1000) + len(score))
    rates = []
    for _ in range(REPEATS):
        cal_p, cal_t = simulate(rng, N_CAL, rng.uniform(1.0, 6.0, N_CAL))
        cal = calibrate_passes(cal_p, cal_t, level, score)
        new_p, new_t = simulate(rng, N_TEST, rng.uniform(1.0, 6.0, N_TEST))
        rates.append(covered(cal, new_p, new_t).mean())
    tolerance = 4 * math.sqrt((level * (1 - level) / (N_CAL + 2) + level * (1 - level) / N_TEST) / REPEATS)
    assert abs(np.mean(rates) - level) <= tolerance
    assert cal.score == score and cal.n_patients == N_CAL


def test_intervals_bracket_the_point_and_grow_with_the_noise() -> None:
    rng = np.random.default_rng(3)
    cal_p, cal_t = simulate(rng, 60, rng.uniform(1.0, 6.0, 60))
    cal = calibrate_passes(cal_p, cal_t, 0.9, "normalised")
    widths = []
    for noise in (0.5, 2.0, 8.0):
        new_p, _ = simulate(rng, 30, noise)
        for p in new_p:
            interval, point = cal.intervals(p.point(), p.spread()), p.point()
            for index, (lo, hi) in INTERVAL_COLUMNS.items():
                assert interval[lo] <= point[index] <= interval[hi]
        w = [cal.intervals(p.point(), p.spread())["ef_hi_percent"] - cal.intervals(p.point(), p.spread())[
            "ef_lo_percent"] for p in new_p]  # fmt: skip
        widths.append(float(np.median(w)))
    assert widths[0] < widths[1] < widths[2]
    # absolute: the same width for every patient, whatever its passes
    absolute = calibrate_passes(cal_p, cal_t, 0.9, "absolute")
    one = absolute.intervals({"ef_percent": 50.0, "edv_ml": 100.0, "esv_ml": 50.0})
    assert one["ef_hi_percent"] - one["ef_lo_percent"] == pytest.approx(
        2 * absolute.indices["ef_percent"].quantile
    )


def test_ef_interval_is_clipped_to_0_100() -> None:
    rng = np.random.default_rng(4)
    cal = calibrate_passes(*simulate(rng, 30, 5.0), 0.9, "absolute")
    interval = cal.intervals({"ef_percent": 1.0, "edv_ml": 1.0, "esv_ml": 1.0})
    assert (
        interval["ef_lo_percent"] == 0.0 and interval["edv_lo_ml"] == 0.0 and interval["ef_hi_percent"] > 1.0
    )


def test_choose_score_follows_the_information_in_the_spread() -> None:
    """Errors proportional to the passes' spread → normalised (narrower); spread unrelated to the error →
    absolute."""
    rng = np.random.default_rng(5)
    sigma = rng.uniform(0.5, 8.0, 200)
    truth = rng.uniform(20, 70, 200)
    estimate = truth + rng.normal(0, sigma)
    assert choose_score(estimate, truth, sigma, 0.9, 0.25)[0] == "normalised"
    flat = truth + rng.normal(0, 3.0, 200)
    score, widths = choose_score(flat, truth, rng.uniform(0.5, 8.0, 200), 0.9, 0.25)
    assert score == "absolute" and widths["absolute"] < widths["normalised"]
    assert choose_score(flat[:5], truth[:5], sigma[:5], 0.95, 0.25)[0] == "absolute"  # too few to leave out


def test_auto_records_its_choice_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    cal = calibrate_passes(*simulate(rng, 20, rng.uniform(1.0, 6.0, 20)), 0.9, "auto", ["identity", "g"])
    assert cal.score in ("absolute", "normalised") and "rule" in cal.score_choice
    path = write_calibration(tmp_path, cal)
    assert path.name == CALIBRATION_FILE
    data = json.loads(path.read_text())
    assert data["level"] == 0.9 and set(data["indices"]) == {"ef_percent", "edv_ml", "esv_ml"}
    back = read_calibration(tmp_path)
    assert back == cal


def test_auto_with_the_fewest_patients_the_level_allows_writes_its_file(tmp_path: Path) -> None:
    """9 patients at 90 % (the minimum): leaving one out leaves 8, too few, so ``auto`` takes ``absolute`` and
    records null widths (a NaN once made ``write_calibration`` fail: JSON has no NaN)."""
    rng = np.random.default_rng(7)
    cal = calibrate_passes(*simulate(rng, 9, 2.0), 0.9, "auto", ["identity", "g"])
    assert cal.score == "absolute" and cal.score_choice["loo_mean_ef_width_absolute"] is None
    write_calibration(tmp_path, cal)
    assert read_calibration(tmp_path) == cal


def test_missing_and_broken_calibration_files(tmp_path: Path) -> None:
    assert read_calibration(tmp_path) is None
    (tmp_path / CALIBRATION_FILE).write_text('{"format": 1, "level": 0.9}')
    with pytest.raises(CalibrationFileError, match=CALIBRATION_FILE):
        read_calibration(tmp_path)
    (tmp_path / CALIBRATION_FILE).write_text("{not json")
    with pytest.raises(CalibrationFileError, match="lunet calibrate"):
        read_calibration(tmp_path)


def test_passes_file_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    passes, _ = simulate(rng, 3, 2.0)
    path = write_passes(tmp_path / "calibration_passes.csv", [("validation", passes[0]), ("test", passes[1])])
    back = read_passes(path, "test")
    assert list(back) == [passes[1].patient]
    np.testing.assert_allclose(back[passes[1].patient].values, passes[1].values)
    assert back[passes[1].patient].spread() == pytest.approx(passes[1].spread())
