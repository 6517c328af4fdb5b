"""Agreement of paired measurements (predicted vs reference EDV, ESV, EF): the one definition.

:func:`agreement` gives Pearson's correlation, the bias ± 1.96·SD limits of agreement and the mean absolute
error (MAE); :func:`agreement_ci` their 95 % bootstrap confidence intervals over the pairs (patients).

Bootstrap: ``scipy.stats.bootstrap``, paired resampling of the patients, bias-corrected and accelerated
(BCa) percentile intervals, ``n_resamples`` (2000) resamples from ``numpy.random.default_rng(seed)`` — the
same data and seed give the same interval. With 8–50 test patients a single correlation or MAE misleads;
the interval says by how much. Fewer than 3 pairs, or a degenerate sample (e.g. constant values), give NaN.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

#: How the confidence intervals are computed (written into Table III).
CI_METHOD = "BCa bootstrap over patients"


@dataclass(frozen=True)
class Agreement:
    """Agreement of paired measurements: predicted − reference."""

    n: int
    corr: float  # Pearson correlation
    bias: float  # mean difference
    sd: float  # standard deviation of the differences (ddof=1)
    loa_low: float  # bias − 1.96·sd
    loa_high: float  # bias + 1.96·sd
    mae: float  # mean absolute difference


@dataclass(frozen=True)
class AgreementCI:
    """Bootstrap confidence intervals of the correlation and the MAE (:func:`agreement_ci`)."""

    n: int
    confidence: float  # e.g. 0.95
    n_resamples: int
    seed: int
    corr_low: float
    corr_high: float
    mae_low: float
    mae_high: float
    method: str = CI_METHOD


def _pairs(predicted: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    if p.shape != r.shape:
        raise ValueError(f"agreement needs paired values, got {p.shape} and {r.shape}")
    keep = np.isfinite(p) & np.isfinite(r)
    return p[keep], r[keep]


def agreement(predicted: np.ndarray, reference: np.ndarray) -> Agreement:
    """Pearson correlation, bias ± 1.96·SD limits of agreement and MAE over the pairs where both are finite.

    Args:
        predicted: (N,) values (e.g. EDV in ml).
        reference: (N,) reference values in the same unit.

    Returns:
        :class:`Agreement`; NaN fields where undefined (fewer than 2 pairs, or zero variance for ``corr``).
    """
    p, r = _pairs(predicted, reference)
    n = int(p.size)
    nan = math.nan
    if n == 0:
        return Agreement(0, nan, nan, nan, nan, nan, nan)
    diff = p - r
    bias = float(diff.mean())
    sd = float(diff.std(ddof=1)) if n > 1 else nan
    corr = nan
    if n > 1 and p.std() > 0 and r.std() > 0:
        corr = float(np.corrcoef(p, r)[0, 1])
    return Agreement(n, corr, bias, sd, bias - 1.96 * sd, bias + 1.96 * sd, float(np.abs(diff).mean()))


def _corr(p: np.ndarray, r: np.ndarray, axis: int = -1) -> np.ndarray:
    p = p - p.mean(axis=axis, keepdims=True)
    r = r - r.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (p * r).sum(axis=axis) / np.sqrt((p * p).sum(axis=axis) * (r * r).sum(axis=axis))


def _mae(p: np.ndarray, r: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.abs(p - r).mean(axis=axis)


def _interval(p: np.ndarray, r: np.ndarray, statistic, confidence: float, n_resamples: int, seed: int):
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples: the interval is NaN, said in the docstring
        result = stats.bootstrap(
            (p, r), statistic, paired=True, vectorized=True, confidence_level=confidence,
            n_resamples=n_resamples, method="BCa", random_state=np.random.default_rng(seed),
        )  # fmt: skip
    low, high = result.confidence_interval
    return float(low), float(high)


def agreement_ci(
    predicted: np.ndarray,
    reference: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> AgreementCI:
    """Bootstrap confidence intervals of Pearson's correlation and the MAE (module docstring).

    Args:
        predicted: (N,) values; pairs with a NaN are dropped.
        reference: (N,) reference values in the same unit.
        confidence: coverage of the intervals (0.95).
        n_resamples: bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        :class:`AgreementCI`; NaN bounds with fewer than 3 pairs or a degenerate sample.
    """
    p, r = _pairs(predicted, reference)
    nan = (math.nan, math.nan)
    corr = mae = nan
    if p.size >= 3:
        mae = _interval(p, r, _mae, confidence, n_resamples, seed)
        if p.std() > 0 and r.std() > 0:
            corr = _interval(p, r, _corr, confidence, n_resamples, seed)
    return AgreementCI(int(p.size), confidence, n_resamples, seed, *corr, *mae)
