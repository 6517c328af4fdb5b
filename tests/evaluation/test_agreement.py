"""Agreement statistics (the one definition) and their bootstrap confidence intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lunet.evaluation.agreement import CI_METHOD, agreement, agreement_ci


def test_agreement_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(100, 20, 50)
    pred = ref + rng.normal(2, 5, 50)
    pred[3] = np.nan  # dropped pair
    a = agreement(pred, ref)
    keep = np.isfinite(pred)
    diff = pred[keep] - ref[keep]
    assert a.n == 49
    assert a.corr == pytest.approx(stats.pearsonr(pred[keep], ref[keep])[0], rel=1e-12)
    assert a.bias == pytest.approx(diff.mean())
    assert a.sd == pytest.approx(diff.std(ddof=1))
    assert a.loa_high == pytest.approx(diff.mean() + 1.96 * diff.std(ddof=1))
    assert a.loa_low == pytest.approx(diff.mean() - 1.96 * diff.std(ddof=1))
    assert a.mae == pytest.approx(np.abs(diff).mean())


def test_agreement_edge_cases() -> None:
    exact = agreement(np.array([11.0, 12.0, np.nan, 14.0]), np.array([10.0, 11.0, 5.0, 13.0]))
    assert (exact.n, exact.bias, exact.sd, exact.mae) == (3, 1.0, 0.0, 1.0)
    assert exact.corr == pytest.approx(1.0)
    assert math.isnan(agreement(np.array([1.0]), np.array([2.0])).corr)
    assert agreement(np.array([]), np.array([])).n == 0
    with pytest.raises(ValueError, match="paired"):
        agreement(np.ones(3), np.ones(4))


def _bivariate(rng: np.random.Generator, n: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)
    return 50 + 10 * x, 50 + 10 * y


def test_intervals_are_seeded_and_hold_the_sample_statistic() -> None:
    pred, ref = _bivariate(np.random.default_rng(2), 30, 0.8)
    ci = agreement_ci(pred, ref, seed=7)
    assert ci == agreement_ci(pred, ref, seed=7)
    assert ci != agreement_ci(pred, ref, seed=8)
    a = agreement(pred, ref)
    assert ci.corr_low < a.corr < ci.corr_high <= 1.0
    assert ci.mae_low < a.mae < ci.mae_high
    assert (ci.n, ci.confidence, ci.method) == (30, 0.95, CI_METHOD)
    wider = agreement_ci(pred, ref, confidence=0.99, seed=7)
    assert wider.mae_high - wider.mae_low > ci.mae_high - ci.mae_low


def test_ninety_five_percent_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    """Bivariate normal, ρ = 0.8, σ = 10: true correlation 0.8, true MAE σ_d·√(2/π), σ_d² = 2σ²(1 − ρ)."""
    rng = np.random.default_rng(0)
    true_mae = 10 * math.sqrt(2 * (1 - 0.8)) * math.sqrt(2 / math.pi)
    trials, hits_corr, hits_mae = 200, 0, 0
    for k in range(trials):
        pred, ref = _bivariate(rng, 40, 0.8)
        ci = agreement_ci(pred, ref, n_resamples=499, seed=k)
        hits_corr += ci.corr_low <= 0.8 <= ci.corr_high
        hits_mae += ci.mae_low <= true_mae <= ci.mae_high
    # binomial SD of the coverage over 200 trials: 1.5 points; BCa under-covers slightly at n = 40
    assert 0.88 <= hits_corr / trials <= 0.99
    assert 0.88 <= hits_mae / trials <= 0.99


def test_too_few_or_degenerate_pairs_give_nan() -> None:
    two = agreement_ci(np.array([1.0, 2.0, np.nan]), np.array([1.5, 2.5, 3.0]))
    assert two.n == 2 and all(math.isnan(v) for v in (two.corr_low, two.corr_high, two.mae_low, two.mae_high))
    constant = agreement_ci(np.full(10, 5.0), np.arange(10.0))
    assert math.isnan(constant.corr_low) and math.isfinite(constant.mae_low)
