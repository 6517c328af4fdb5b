"""Split-conformal prediction intervals for clinical indices (EF in points, EDV and ESV in ml).

Pure functions over numpy arrays, no model and no I/O. The caller gives calibration pairs measured on patients
the model was not trained on (a run's validation patients): a point estimate ``ŷ`` (e.g. EF from the
prediction, or the mean over test-time augmentations / an ensemble), optionally a spread ``σ`` (the SD of
those passes), and the reference value ``y``. Two conformity scores:

- ``absolute``: ``s = |y − ŷ|``; interval ``ŷ ± q̂`` (the same width for every patient);
- ``normalised``: ``s = |y − ŷ| / σ``; interval ``ŷ ± q̂ · σ`` (wider where the passes disagree).

``q̂`` is the ``k``-th smallest of the ``n`` calibration scores with ``k = ⌈(n + 1) · level⌉`` (the
finite-sample correction of split-conformal prediction; Vovk et al. 2005, Lei et al. 2018, Angelopoulos
& Bates 2021). If calibration and new patients are exchangeable, a new patient's interval contains its true
value with probability at least ``level`` (and, for continuous scores, at most ``level + 1/(n + 1)``); this is
a marginal guarantee over patients, not a per-patient one. It needs ``k ≤ n``, i.e. at least
``⌈level / (1 − level)⌉`` calibration pairs: 4 at 80 %, 9 at 90 %, 19 at 95 % (fewer: ``ValueError``).

Pairs with a non-finite estimate, truth or (normalised) spread are left out of the calibration and counted in
:attr:`ConformalCalibration.n_dropped`; a new estimate that is not finite gets a NaN interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SCORES",
    "ConformalCalibration",
    "apply_interval",
    "calibrate",
    "choose_score",
    "conformal_quantile",
    "coverage",
    "coverage_ci",
    "min_calibration_size",
    "pass_statistics",
]

#: Conformity scores: ``absolute`` |y − ŷ|, ``normalised`` |y − ŷ| / σ.
SCORES = ("absolute", "normalised")

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class ConformalCalibration:
    """The result of :func:`calibrate`: what :func:`apply_interval` needs, and how it was obtained.

    Attributes:
        level: nominal coverage in (0, 1), e.g. 0.90.
        score: ``"absolute"`` or ``"normalised"``.
        quantile: ``q̂`` — in the index's unit (``absolute``: points of EF, ml) or in spreads (``normalised``).
        n: calibration pairs used.
        n_dropped: pairs left out (non-finite estimate, truth or spread).
        spread_floor: spreads below it were raised to it (``normalised`` only; same unit as the index).
    """

    level: float
    score: str
    quantile: float
    n: int
    n_dropped: int = 0
    spread_floor: float = 0.0


def min_calibration_size(level: float) -> int:
    """Smallest ``n`` with ``⌈(n + 1) · level⌉ ≤ n`` (a finite conformal quantile), ``⌈level / (1 − level)⌉``.

    Raises:
        ValueError: on a level outside (0, 1).
    """
    _check_level(level)
    n = max(1, math.ceil(level / (1.0 - level) - 1e-9))
    while math.ceil((n + 1) * level - 1e-9) > n:  # guard against rounding at exact multiples
        n += 1
    return n


def conformal_quantile(scores: ArrayLike, level: float) -> float:
    """The ``⌈(n + 1) · level⌉``-th smallest of ``n`` finite scores.

    Args:
        scores: (n,) conformity scores (non-negative, finite).
        level: nominal coverage in (0, 1).

    Returns:
        ``q̂`` in the scores' unit.

    Raises:
        ValueError: on a level outside (0, 1), non-finite or negative scores, or fewer than
            :func:`min_calibration_size` scores.
    """
    _check_level(level)
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("conformal scores must be finite and non-negative")
    n = s.size
    k = math.ceil((n + 1) * level - 1e-9)
    if k > n:
        raise ValueError(
            f"split-conformal calibration at level {level:g} needs at least {min_calibration_size(level)} "
            f"calibration pairs with finite values, got {n}"
        )
    return float(np.partition(s, k - 1)[k - 1])


def calibrate(
    estimates: ArrayLike,
    truths: ArrayLike,
    spreads: ArrayLike | None = None,
    level: float = 0.90,
    spread_floor: float = 0.0,
) -> ConformalCalibration:
    """Split-conformal calibration on validation patients (module docstring).

    Args:
        estimates: (n,) point estimates ``ŷ`` of the calibration patients (EF in %, volumes in ml).
        truths: (n,) reference values ``y``, same unit.
        spreads: (n,) spreads ``σ`` (same unit; e.g. the SD over test-time augmentations or ensemble members)
            for the ``normalised`` score; None for the ``absolute`` score.
        level: nominal coverage in (0, 1); 0.90 by default.
        spread_floor: spreads below it are raised to it (``normalised``); a spread still ≤ 0 is an error.

    Returns:
        The calibration (``quantile`` in the index's unit, or in spreads).

    Raises:
        ValueError: on mismatched lengths, a bad level, a non-positive spread, or too few finite pairs.
    """
    _check_level(level)
    y_hat = _vector(estimates, "estimates")
    y = _vector(truths, "truths")
    if y.size != y_hat.size:
        raise ValueError(f"estimates and truths differ in length: {y_hat.size} vs {y.size}")
    finite = np.isfinite(y_hat) & np.isfinite(y)
    residual = np.abs(y - y_hat)
    if spreads is None:
        scores, score = residual[finite], "absolute"
    else:
        sigma = _spreads(spreads, y.size, spread_floor)
        finite &= np.isfinite(sigma)
        scores, score = residual[finite] / sigma[finite], "normalised"
    return ConformalCalibration(
        level=float(level),
        score=score,
        quantile=conformal_quantile(scores, level),
        n=int(finite.sum()),
        n_dropped=int((~finite).sum()),
        spread_floor=float(spread_floor) if spreads is not None else 0.0,
    )


def apply_interval(
    calibration: ConformalCalibration,
    estimates: ArrayLike,
    spreads: ArrayLike | None = None,
    bounds: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals ``[lo, hi]`` of new estimates from a calibration.

    Args:
        calibration: from :func:`calibrate` on other (validation) patients.
        estimates: (m,) point estimates of the new patients.
        spreads: (m,) their spreads; required for a ``normalised`` calibration, ignored otherwise.
        bounds: optional ``(lower, upper)`` the index cannot leave (e.g. ``(0, 100)`` for EF in %); the
            interval is clipped to it, which never lowers coverage of a truth inside the bounds, but still
            contains an estimate that lies outside them.

    Returns:
        ``(lo, hi)``, each (m,) float64, ``lo ≤ ŷ ≤ hi``; NaN where the estimate (or spread) is not finite.
    """
    y_hat = _vector(estimates, "estimates")
    if calibration.score == "normalised":
        if spreads is None:
            raise ValueError("a normalised calibration needs the new estimates' spreads")
        half = calibration.quantile * _spreads(spreads, y_hat.size, calibration.spread_floor)
    elif calibration.score == "absolute":
        half = np.full(y_hat.shape, calibration.quantile)
    else:
        raise ValueError(f"unknown conformity score {calibration.score!r}; expected one of {SCORES}")
    lo, hi = y_hat - half, y_hat + half
    if bounds is not None:
        lower, upper = bounds
        if not lower < upper:
            raise ValueError(f"bounds must be (lower, upper) with lower < upper, got {bounds}")
        lo, hi = np.clip(lo, lower, upper), np.clip(hi, lower, upper)
        # an estimate outside the bounds (e.g. EF < 0 when the ESV mask is larger than the EDV one) stays
        # inside its own interval: the interval is clipped, never moved off its estimate
        lo, hi = np.minimum(lo, y_hat), np.maximum(hi, y_hat)
    bad = ~np.isfinite(half) | ~np.isfinite(y_hat)
    lo[bad], hi[bad] = np.nan, np.nan
    return lo, hi


def coverage(lo: ArrayLike, hi: ArrayLike, truths: ArrayLike) -> float:
    """Fraction of finite intervals ``[lo, hi]`` containing the truth (NaN if none is finite)."""
    lo_a, hi_a, y = (np.asarray(v, dtype=np.float64).ravel() for v in (lo, hi, truths))
    ok = np.isfinite(lo_a) & np.isfinite(hi_a) & np.isfinite(y)
    if not ok.any():
        return float("nan")
    return float(np.mean((lo_a[ok] <= y[ok]) & (y[ok] <= hi_a[ok])))


def coverage_ci(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson (exact binomial) interval of a measured coverage ``hits / n``.

    Args:
        hits: intervals that contained the truth.
        n: intervals measured (> 0).
        confidence: of the interval, in (0, 1).

    Returns:
        ``(low, high)`` in [0, 1].
    """
    from scipy.stats import beta

    _check_level(confidence)
    if n <= 0 or not 0 <= hits <= n:
        raise ValueError(f"coverage needs 0 <= hits <= n and n > 0, got hits={hits}, n={n}")
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if hits == 0 else float(beta.ppf(tail, hits, n - hits + 1))
    high = 1.0 if hits == n else float(beta.ppf(1.0 - tail, hits + 1, n - hits))
    return low, high


def pass_statistics(values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Point estimate and spread of several passes per patient (test-time augmentations, ensemble members).

    Args:
        values: (passes, patients) one index (EF in %, or a volume in ml) per pass and patient; NaN passes
            (a degenerate mask) are left out for that patient.

    Returns:
        ``(mean (patients,), sd (patients,))``; SD with ``ddof=1`` (NaN with fewer than two finite passes).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 2:
        raise ValueError(f"pass_statistics needs (passes >= 2, patients) values, got shape {v.shape}")
    finite = np.isfinite(v)
    count = finite.sum(axis=0)
    total = np.where(finite, v, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        square = np.where(finite, (v - mean) ** 2, 0.0).sum(axis=0)
        sd = np.where(count > 1, np.sqrt(square / np.maximum(count - 1, 1)), np.nan)
    return mean, sd


def _check_level(level: float) -> None:
    if not (0.0 < float(level) < 1.0):
        raise ValueError(f"interval level must lie in (0, 1), e.g. 0.90; got {level!r}")


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one value per patient (1-D), got shape {array.shape}")
    return array


def _spreads(spreads: ArrayLike, size: int, floor: float) -> np.ndarray:
    sigma = _vector(spreads, "spreads")
    if sigma.size != size:
        raise ValueError(f"spreads and estimates differ in length: {sigma.size} vs {size}")
    sigma = np.where(np.isfinite(sigma), np.maximum(sigma, floor), np.nan)
    if np.any(sigma[np.isfinite(sigma)] <= 0):
        raise ValueError(
            "normalised conformal scores need positive spreads; pass spread_floor > 0 (same unit as the "
            "index) to raise zero spreads"
        )
    return sigma


def choose_score(
    estimates: Sequence[float], truths: Sequence[float], spreads: Sequence[float], level: float, floor: float
) -> tuple[str, dict[str, float]]:
    """Pick the conformity score by leave-one-out on the calibration patients themselves.

    Both scores give the same marginal coverage guarantee, so the better one is the one with narrower
    intervals: each patient in turn is left out, the rest calibrate, and the left-out patient's interval
    width is recorded. ``normalised`` is chosen only when its mean width is smaller (ties, or too few
    patients to leave one out: ``absolute``, which needs no extra passes at prediction).

    Args:
        estimates, truths, spreads: (n,) EF (or a volume) of the calibration patients and the passes' SD.
        level: nominal coverage.
        floor: spread floor of the ``normalised`` score.

    Returns:
        ``(score, {"absolute": mean width, "normalised": mean width})`` (NaN widths when not computable).
    """
    y_hat, y, sigma = (np.asarray(v, dtype=np.float64) for v in (estimates, truths, spreads))
    widths: dict[str, list[float]] = {"absolute": [], "normalised": []}
    try:
        for i in range(y.size):
            keep = np.arange(y.size) != i
            for score in SCORES:
                s = None if score == "absolute" else sigma[keep]
                cal = calibrate(y_hat[keep], y[keep], s, level, floor if s is not None else 0.0)
                lo, hi = apply_interval(cal, y_hat[i : i + 1], None if s is None else sigma[i : i + 1])
                widths[score].append(float(hi[0] - lo[0]))
    except ValueError:
        return "absolute", {k: math.nan for k in SCORES}
    mean = {k: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for k, v in widths.items()}
    normalised_better = math.isfinite(mean["normalised"]) and mean["normalised"] < mean["absolute"]
    return ("normalised" if normalised_better else "absolute"), mean
