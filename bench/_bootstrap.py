"""Patient-level bootstrap confidence intervals of the benches' summary figures.

Every summary figure of a test set is a ratio of sums over its patients: the mean LV_Endo Dice over the
Good + Medium images is (sum of those images' Dice) / (their count), a share of outlier patients is
(flagged patients) / (patients), the EF MAE is (sum of |error|) / (patients with an EF). :class:`PatientSums`
holds the two sums of each patient, so a resample of patients is a resample of rows. :func:`ratio_ci`
resamples the test patients with replacement (``n_resamples`` = 2000, ``numpy.random.default_rng(seed)``:
the same data and seed give the same interval) and takes the interval from ``scipy.stats.bootstrap`` —
bias-corrected and accelerated (BCa, the method of ``lunet.evaluation.agreement``) by default, or
``"percentile"``. A paired difference (model A − model B, or Good + Medium − Poor of one model) uses the same
resampled patients for both terms.

Edge cases: a figure whose bootstrap distribution is constant (a share of 0 outliers, a difference of a
model with itself) has the point interval ``[value, value]``; fewer than 2 patients give NaN bounds. Resamples
in which a term has no patient (e.g. no Poor patient drawn) have no figure: while they are under 10 % of the
resamples the interval is the percentile interval of the others (method ``"percentile (defined
resamples)"``), else NaN.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Resamples and confidence of the benches' intervals.
N_RESAMPLES = 2000
CONFIDENCE = 0.95
#: Share of resamples that must define the figure for an interval (module docstring).
MIN_DEFINED = 0.9


@dataclass(frozen=True)
class PatientSums:
    """Per-patient sums of one figure: figure = ``num.sum() / den.sum()`` over the (resampled) patients.

    ``num``, ``den``: ``(P,)`` float arrays in the same patient order for every figure that is compared.
    """

    num: np.ndarray
    den: np.ndarray

    def value(self) -> float:
        """The figure on the patients as they are (NaN when ``den`` sums to 0)."""
        total = float(self.den.sum())
        return float(self.num.sum()) / total if total > 0 else math.nan


def patient_sums(
    patients: Sequence[str], items: Sequence[tuple[str, float]], weight: float = 1.0
) -> PatientSums:
    """Sum ``(patient, value)`` items per patient (non-finite values skipped).

    Args:
        patients: the patient order (every id of ``items`` must be in it).
        items: ``(patient id, value)`` pairs, e.g. one per image (Dice) or one per patient (a 0/1 flag).
        weight: added to ``den`` per kept item (1: the figure is a mean over items).

    Returns:
        :class:`PatientSums` of shape ``(len(patients),)``.
    """
    index = {pid: i for i, pid in enumerate(patients)}
    num, den = np.zeros(len(patients)), np.zeros(len(patients))
    for pid, value in items:
        if value is not None and math.isfinite(float(value)):
            num[index[pid]] += float(value)
            den[index[pid]] += weight
    return PatientSums(num, den)


@dataclass(frozen=True)
class Interval:
    """A figure and its bootstrap interval over ``patients`` patients (``method``: BCa or percentile)."""

    value: float
    low: float
    high: float
    patients: int
    method: str

    def text(self, digits: int = 3, scale: float = 1.0) -> str:
        """``"value [low, high]"`` (each times ``scale``); ``"-"`` for a NaN value, ``[-]`` for NaN bounds."""
        if not math.isfinite(self.value):
            return "-"
        bounds = (self.low, self.high)
        ci = (
            "[-]"
            if not all(map(math.isfinite, bounds))
            else "[{:.{d}f}, {:.{d}f}]".format(*(b * scale for b in bounds), d=digits)
        )
        return f"{self.value * scale:.{digits}f} {ci}"

    def excludes_zero(self) -> bool:
        """Whether the interval lies strictly on one side of 0 (False with NaN bounds)."""
        return bool(self.low > 0 or self.high < 0)

    def as_dict(self) -> dict[str, float | int | str]:
        """JSON-ready fields."""
        return {"value": self.value, "low": self.low, "high": self.high, "patients": self.patients,
                "method": self.method}  # fmt: skip


def _statistic(first: PatientSums, minus: PatientSums | None) -> Callable[..., np.ndarray]:
    def ratio(sums: PatientSums, idx: np.ndarray, axis: int) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return sums.num[idx].sum(axis=axis) / sums.den[idx].sum(axis=axis)

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.intp)
        value = ratio(first, idx, axis)
        return value - ratio(minus, idx, axis) if minus is not None else value

    return statistic


def ratio_ci(
    first: PatientSums,
    minus: PatientSums | None = None,
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    method: str = "BCa",
) -> Interval:
    """Bootstrap interval of ``first``'s figure, or of ``first − minus`` on the same resampled patients.

    Args:
        first: per-patient sums of the figure (:class:`PatientSums`).
        minus: per-patient sums of the figure subtracted (same patient order), or None.
        confidence: coverage (0.95).
        n_resamples: bootstrap resamples of the patients.
        seed: seed of the resampling.
        method: ``"BCa"`` or ``"percentile"`` (``scipy.stats.bootstrap``).

    Returns:
        :class:`Interval` (module docstring for the edge cases).
    """
    from scipy import stats

    if minus is not None and minus.num.shape != first.num.shape:
        raise ValueError(f"paired figures need the same patients: {first.num.shape} vs {minus.num.shape}")
    patients = int(first.num.shape[0])
    statistic = _statistic(first, minus)
    value = float(statistic(np.arange(patients)))
    nan = math.nan
    if patients < 2 or not math.isfinite(value):
        return Interval(value, nan, nan, patients, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate or NaN resamples: handled below / NaN bounds
        result = stats.bootstrap(
            (np.arange(patients),), statistic, vectorized=True, n_resamples=n_resamples,
            confidence_level=confidence, method=method, random_state=np.random.default_rng(seed),
        )  # fmt: skip
    replicates = result.bootstrap_distribution
    defined = replicates[np.isfinite(replicates)]
    if defined.size < MIN_DEFINED * replicates.size:
        return Interval(value, nan, nan, patients, method)
    if np.ptp(defined) <= 1e-12 * max(1.0, abs(value)):
        return Interval(value, value, value, patients, method)
    if defined.size < replicates.size:
        tail = 50.0 * (1.0 - confidence)
        low, high = np.percentile(defined, [tail, 100.0 - tail])
        return Interval(value, float(low), float(high), patients, "percentile (defined resamples)")
    low, high = result.confidence_interval
    return Interval(value, float(low), float(high), patients, method)
