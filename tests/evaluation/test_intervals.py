"""Split-conformal intervals (lunet.evaluation.intervals) on simulated predictors with known errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunet.evaluation.intervals import (
    apply_interval,
    calibrate,
    conformal_quantile,
    coverage,
    coverage_ci,
    min_calibration_size,
    pass_statistics,
)

N_CAL = 39  # (n + 1) · level is an integer at 0.80, 0.90 and 0.95: expected coverage exactly the level
N_TEST = 50
REPEATS = 1000


def simulate(rng: np.random.Generator, n: int, sigma: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """A predictor of EF (%) with Gaussian errors of SD ``sigma``: (estimates, truths)."""
    truth = rng.uniform(20.0, 70.0, n)
    return truth + rng.normal(0.0, 1.0, n) * sigma, truth


def tolerance(level: float) -> float:
    """4 SD of the mean coverage over the repeats: per repeat, the coverage given the calibration set is
    Beta(k, n + 1 − k) (variance level(1 − level)/(n + 2)), observed on N_TEST binomial draws."""
    per_repeat = level * (1 - level) / (N_CAL + 2) + level * (1 - level) / N_TEST
    return 4.0 * math.sqrt(per_repeat / REPEATS)


@pytest.mark.parametrize("level", [0.80, 0.90, 0.95])
def test_absolute_score_reaches_nominal_coverage(level: float) -> None:
    rng = np.random.default_rng(int(level * 100))
    covered = []
    for _ in range(REPEATS):
        est, truth = simulate(rng, N_CAL, 4.0)
        cal = calibrate(est, truth, level=level)
        new_est, new_truth = simulate(rng, N_TEST, 4.0)
        lo, hi = apply_interval(cal, new_est)
        covered.append(coverage(lo, hi, new_truth))
    assert abs(np.mean(covered) - level) < tolerance(level)


@pytest.mark.parametrize("level", [0.80, 0.90, 0.95])
def test_normalised_score_covers_each_noise_level(level: float) -> None:
    """Heteroscedastic errors with a known spread σ_i: the normalised interval holds its level on the noisy
    half of the patients too, where a constant-width (absolute) interval falls short."""
    rng = np.random.default_rng(7 + int(level * 100))
    normalised_noisy, absolute_noisy, normalised_all = [], [], []
    for _ in range(REPEATS // 2):
        sigma_cal = rng.choice([1.0, 6.0], N_CAL)
        est, truth = simulate(rng, N_CAL, sigma_cal)
        sigma = rng.choice([1.0, 6.0], N_TEST)
        new_est, new_truth = simulate(rng, N_TEST, sigma)
        lo, hi = apply_interval(calibrate(est, truth, sigma_cal, level=level), new_est, sigma)
        normalised_all.append(coverage(lo, hi, new_truth))
        noisy = sigma > 3
        normalised_noisy.append(coverage(lo[noisy], hi[noisy], new_truth[noisy]))
        lo_a, hi_a = apply_interval(calibrate(est, truth, level=level), new_est)
        absolute_noisy.append(coverage(lo_a[noisy], hi_a[noisy], new_truth[noisy]))
    assert abs(np.mean(normalised_all) - level) < tolerance(level) * math.sqrt(2)
    assert abs(np.nanmean(normalised_noisy) - level) < 2 * tolerance(level) * math.sqrt(2)
    assert np.nanmean(absolute_noisy) < level - 0.03


def test_intervals_bracket_the_estimate_and_grow_with_the_noise() -> None:
    rng = np.random.default_rng(3)
    widths = []
    for sd in (1.0, 3.0):
        est, truth = simulate(rng, 400, sd)
        cal = calibrate(est, truth, level=0.9)
        new = rng.uniform(20, 70, 30)
        lo, hi = apply_interval(cal, new)
        assert np.all(lo <= new) and np.all(new <= hi)
        widths.append(float(np.mean(hi - lo)))
    assert widths[0] == pytest.approx(2 * 1.645 * 1.0, rel=0.15)  # Gaussian: half-width z_0.95 · SD
    assert widths[1] / widths[0] == pytest.approx(3.0, rel=0.2)
    sigma = np.array([0.5, 1.0, 2.0])
    cal = calibrate(*simulate(rng, 100, 1.0), spreads=np.ones(100))
    lo, hi = apply_interval(cal, np.array([50.0, 50.0, 50.0]), sigma)
    np.testing.assert_allclose(hi - lo, 2 * cal.quantile * sigma)


def test_conformal_quantile_is_the_finite_sample_order_statistic() -> None:
    scores = np.arange(1.0, 20.0)  # n = 19
    assert conformal_quantile(scores, 0.90) == 18.0  # k = ceil(20 · 0.9) = 18
    assert conformal_quantile(scores, 0.95) == 19.0  # k = 19 = n
    assert conformal_quantile(scores, 0.50) == 10.0
    assert conformal_quantile(np.arange(1.0, 11.0), 0.90) == 10.0  # k = ⌈11 · 0.9⌉ = 10, not ⌈10 · 0.9⌉


def test_small_calibration_sets_keep_their_coverage() -> None:
    """n = 10 at 90 %: the (n + 1) correction takes the 10th of 10 scores, expected coverage 10/11; the
    uncorrected 9th would give 9/11 = 82 %."""
    rng = np.random.default_rng(11)
    covered = []
    for _ in range(REPEATS):
        cal = calibrate(*simulate(rng, 10, 2.0), level=0.9)
        new_est, new_truth = simulate(rng, N_TEST, 2.0)
        covered.append(coverage(*apply_interval(cal, new_est), new_truth))
    sd = math.sqrt(((10 / 11) * (1 / 11) / 12 + 0.09 / N_TEST) / REPEATS)
    assert abs(np.mean(covered) - 10 / 11) < 4 * sd
    assert [min_calibration_size(x) for x in (0.8, 0.9, 0.95)] == [4, 9, 19]


def test_too_few_and_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"at least 9 calibration pairs.*got 8"):
        calibrate(np.zeros(8), np.ones(8), level=0.9)
    # non-finite pairs are dropped, then counted
    est = np.r_[np.zeros(9), np.nan]
    cal = calibrate(est, np.ones(10), level=0.9)
    assert cal.n == 9 and cal.n_dropped == 1 and cal.quantile == 1.0
    with pytest.raises(ValueError, match="at least 19"):
        calibrate(est, np.ones(10), level=0.95)
    with pytest.raises(ValueError, match=r"level must lie in \(0, 1\)"):
        calibrate(np.zeros(20), np.ones(20), level=90)
    with pytest.raises(ValueError, match="differ in length"):
        calibrate(np.zeros(20), np.ones(19))
    with pytest.raises(ValueError, match="positive spreads"):
        calibrate(np.zeros(20), np.ones(20), spreads=np.zeros(20))
    cal = calibrate(np.zeros(20), np.ones(20), spreads=np.zeros(20), spread_floor=0.5)
    assert cal.score == "normalised" and cal.quantile == pytest.approx(2.0)
    with pytest.raises(ValueError, match="needs the new estimates' spreads"):
        apply_interval(cal, np.zeros(3))


def test_bounds_and_missing_estimates() -> None:
    cal = calibrate(np.zeros(20), np.full(20, 10.0), level=0.9)  # q̂ = 10
    lo, hi = apply_interval(cal, np.array([5.0, 95.0, np.nan]), bounds=(0.0, 100.0))
    np.testing.assert_array_equal(lo[:2], [0.0, 85.0])
    np.testing.assert_array_equal(hi[:2], [15.0, 100.0])
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    assert coverage(lo, hi, [0.0, 101.0, 50.0]) == 0.5
    # an estimate outside the bounds (EF −3.6 % when the ES mask is larger than the ED one) stays inside
    lo, hi = apply_interval(cal, np.array([-3.6, 104.0]), bounds=(0.0, 100.0))
    np.testing.assert_array_equal(lo, [-3.6, 94.0])
    np.testing.assert_array_equal(hi, [6.4, 104.0])


def test_coverage_ci_is_the_exact_binomial_interval() -> None:
    low, high = coverage_ci(90, 100)
    # Clopper–Pearson, 90 of 100
    assert low == pytest.approx(0.8238, abs=1e-3) and high == pytest.approx(0.9510, abs=1e-3)
    assert coverage_ci(0, 10)[0] == 0.0 and coverage_ci(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="hits"):
        coverage_ci(11, 10)


def test_pass_statistics_of_tta_or_ensemble_passes() -> None:
    passes = np.array([[50.0, 40.0, np.nan], [52.0, np.nan, np.nan], [54.0, 44.0, 30.0]])
    mean, sd = pass_statistics(passes)
    np.testing.assert_allclose(mean, [52.0, 42.0, 30.0])
    np.testing.assert_allclose(sd[:2], [2.0, math.sqrt(8.0)])
    assert np.isnan(sd[2])
    with pytest.raises(ValueError, match="passes >= 2"):
        pass_statistics(np.ones((1, 3)))
