"""CV+ intervals for the ensemble of a cross-validation's fold models (``lunet cv``).

A cross-validation leaves no patient unseen by the ensemble: every patient trains some fold, so the
split-conformal calibration of one run (its validation patients, :mod:`lunet.evaluation.intervals`) cannot
calibrate the ensemble. CV+ (Barber, Candès, Ramdas & Tibshirani 2021, "Predictive inference with the
jackknife+", Ann. Statist. 49(1), §4) uses instead each patient's *out-of-fold* error: patient ``i`` was
held out (tested) by fold ``k(i)``, whose model ``μ̂_k(i)`` never saw it, and its conformity score is

- ``absolute``: ``R_i = |y_i − μ̂_k(i)(x_i)|``,
- ``normalised``: ``R_i = |y_i − μ̂_k(i)(x_i)| / σ̂_k(i)(x_i)`` (``σ̂``: the SD of that model's test-time
  augmentation passes, raised to the spread floor), the locally weighted form.

A new patient ``x`` is predicted by every fold model; with ``s_k = σ̂_k(x)`` (normalised) or 1 (absolute),

``lo`` = the ``⌊α(n + 1)⌋``-th smallest of ``{μ̂_k(i)(x) − R_i · s_k(i)}``,
``hi`` = the ``⌈(1 − α)(n + 1)⌉``-th smallest of ``{μ̂_k(i)(x) + R_i · s_k(i)}``, over the ``n`` patients,

with ``α = 1 − level``. For exchangeable patients and any models, K-fold CV+ covers with probability at least
``1 − 2α − min(2(1 − 1/K) / (n/K + 1), (1 − K/n) / (K + 1))`` (Barber et al., Theorem 4); in practice close to
``1 − α``, which is what ``bench/bench_intervals.py --cv`` measures. It needs
:func:`lunet.evaluation.intervals.min_calibration_size` patients, as split-conformal does.

:class:`CvPlusCalibration` is the ``"method": "cv+"`` form of ``calibration.json`` (read by
:func:`lunet.evaluation.interval_calibration.read_calibration`); it stores every out-of-fold score with the
fold that made it, since the interval of a new patient is built from all of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from lunet.evaluation.interval_indices import (
    FORMAT,
    INDICES,
    INTERVAL_COLUMNS,
    SPREAD_FLOORS,
    CalibrationFileError,
    PatientPasses,
)
from lunet.evaluation.intervals import SCORES, choose_score, min_calibration_size

__all__ = [
    "METHOD",
    "CvPlusCalibration",
    "CvPlusScores",
    "calibrate_cv_plus",
    "cv_plus_interval",
    "cv_plus_scores",
    "parse_cv_plus",
]

METHOD = "cv+"


@dataclass(frozen=True)
class CvPlusScores:
    """The out-of-fold conformity scores of one index.

    Attributes:
        members: (n,) int: the fold model (index into :attr:`CvPlusCalibration.members`) that held each
            patient out.
        scores: (n,) its score ``R_i`` (the index's unit, or spreads for ``normalised``).
        n_dropped: patients left out (non-finite estimate, truth or spread).
        spread_floor: spreads below it are raised to it (``normalised``; the index's unit).
    """

    members: np.ndarray
    scores: np.ndarray
    n_dropped: int = 0
    spread_floor: float = 0.0

    @property
    def n(self) -> int:
        """Patients whose scores calibrate."""
        return int(self.scores.size)


def cv_plus_scores(
    members: Sequence[int],
    estimates: Sequence[float],
    truths: Sequence[float],
    spreads: Sequence[float] | None = None,
    spread_floor: float = 0.0,
) -> CvPlusScores:
    """Out-of-fold scores ``R_i`` (module docstring) of the patients with finite values.

    Args:
        members: (n,) the fold model that held each patient out.
        estimates: (n,) that model's estimate of the patient (EF in %, volumes in ml).
        truths: (n,) reference values.
        spreads: (n,) that model's pass SD (``normalised``), or None (``absolute``).
        spread_floor: spreads below it are raised to it.

    Raises:
        ValueError: on mismatched lengths or a spread still ≤ 0 after the floor.
    """
    m = np.asarray(members, dtype=np.int64).ravel()
    y_hat, y = (np.asarray(v, dtype=np.float64).ravel() for v in (estimates, truths))
    if not m.size == y_hat.size == y.size:
        raise ValueError(f"members, estimates and truths differ in length: {m.size}, {y_hat.size}, {y.size}")
    residual = np.abs(y - y_hat)
    ok = np.isfinite(residual)
    if spreads is not None:
        sigma = np.maximum(np.asarray(spreads, dtype=np.float64).ravel(), spread_floor)
        if sigma.size != y.size:
            raise ValueError(f"spreads and truths differ in length: {sigma.size} vs {y.size}")
        ok &= np.isfinite(sigma)
        if np.any(sigma[ok] <= 0):
            raise ValueError("spreads must be positive (give a spread floor)")
        residual = np.where(ok, residual / np.where(ok, sigma, 1.0), np.nan)
    return CvPlusScores(
        m[ok], residual[ok], int((~ok).sum()), float(spread_floor) if spreads is not None else 0.0
    )


def cv_plus_interval(
    scores: CvPlusScores,
    member_estimates: Sequence[float],
    member_spreads: Sequence[float] | None,
    level: float,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """The CV+ interval of one new patient (module docstring).

    Args:
        scores: the out-of-fold scores (:func:`cv_plus_scores`).
        member_estimates: (K,) every fold model's estimate of the new patient.
        member_spreads: (K,) their pass SDs (``normalised`` scores), or None (``absolute``).
        level: nominal coverage in (0, 1).
        bounds: ``(lower, upper)`` to clip to (e.g. ``(0, 100)`` for EF in %).

    Returns:
        ``(lo, hi)``; NaN when a fold model that held a calibration patient out gave no finite estimate
        (or spread) for the new patient.

    Raises:
        ValueError: fewer scores than :func:`lunet.evaluation.intervals.min_calibration_size`, or a score
            naming a fold model that is not among ``member_estimates``.
    """
    n = scores.n
    if n < min_calibration_size(level):
        raise ValueError(
            f"CV+ at level {level:g} needs at least {min_calibration_size(level)} out-of-fold patients with "
            f"finite values, got {n}"
        )
    mu = np.asarray(member_estimates, dtype=np.float64).ravel()
    if scores.members.size and int(scores.members.max()) >= mu.size:
        raise ValueError(
            f"scores name fold model {int(scores.members.max())}, only {mu.size} estimates given"
        )
    if member_spreads is None:
        scale = np.ones_like(mu)
    else:
        scale = np.maximum(np.asarray(member_spreads, dtype=np.float64).ravel(), scores.spread_floor)
    centre, half = mu[scores.members], scores.scores * scale[scores.members]
    if not (np.all(np.isfinite(centre)) and np.all(np.isfinite(half))):
        return math.nan, math.nan
    alpha = 1.0 - level
    k_lo = math.floor(alpha * (n + 1) + 1e-9)  # ≥ 1 since n ≥ min_calibration_size(level)
    k_hi = math.ceil((1.0 - alpha) * (n + 1) - 1e-9)  # ≤ n likewise
    lo = float(np.partition(centre - half, k_lo - 1)[k_lo - 1])
    hi = float(np.partition(centre + half, k_hi - 1)[k_hi - 1])
    if bounds is not None:
        lo, hi = float(np.clip(lo, *bounds)), float(np.clip(hi, *bounds))
    return lo, hi


@dataclass(frozen=True)
class CvPlusCalibration:
    """The CV+ calibration of a cross-validation's ensemble (``calibration.json`` with ``"method": "cv+"``).

    Attributes:
        level: nominal coverage. score: ``absolute`` or ``normalised``.
        passes: the TTA pass names every fold model ran (identity first).
        members: the fold folders, relative to the cross-validation run (``fold_1`` …), in the order the
            scores' ``members`` index.
        indices: ``{"ef_percent" | "edv_ml" | "esv_ml": CvPlusScores}``.
        n_patients: out-of-fold patients. ef_convention, backend: how the values were measured.
        score_choice: the leave-one-out widths behind an ``auto`` score.
    """

    level: float
    score: str
    passes: tuple[str, ...]
    members: tuple[str, ...]
    indices: dict[str, CvPlusScores]
    n_patients: int = 0
    ef_convention: str = "geometric"
    backend: str = "torch"
    score_choice: dict[str, object] = field(default_factory=dict)
    weights_sha256: dict[str, str] = field(default_factory=dict)  # fold → its model.safetensors calibrated

    method = METHOD
    patients = "out-of-fold"

    @property
    def models(self) -> int:
        """Fold models in the ensemble."""
        return len(self.members)

    @property
    def needs_spread(self) -> bool:
        """Whether new patients need each model's pass spread (``normalised``)."""
        return self.score == "normalised"

    def intervals(
        self,
        member_estimates: Sequence[Mapping[str, float]],
        member_spreads: Sequence[Mapping[str, float]] | None = None,
        point: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """``{ef_lo_percent: …, esv_hi_ml: …}`` of one new patient (NaN where undefined).

        Args:
            member_estimates: per fold model (in :attr:`members` order) its ``{"ef_percent", "edv_ml",
                "esv_ml"}`` (the unaugmented pass).
            member_spreads: per fold model the SD of its passes (``normalised``).
            point: the ensemble's reported estimate; the interval is widened to contain it (it never loses
                coverage by that).
        """
        if len(member_estimates) != self.models:
            raise ValueError(
                f"{len(member_estimates)} fold models' estimates given, the calibration has {self.models}"
            )
        out: dict[str, float] = {}
        for index, (lo_name, hi_name) in INTERVAL_COLUMNS.items():
            cal = self.indices.get(index)
            mu = [float(m.get(index, math.nan)) for m in member_estimates]
            sigma = None
            if self.needs_spread:
                sigma = (
                    [math.nan] * len(mu)
                    if member_spreads is None
                    else [float(s.get(index, math.nan)) for s in member_spreads]
                )
            if cal is None:
                out[lo_name] = out[hi_name] = math.nan
                continue
            lo, hi = cv_plus_interval(cal, mu, sigma, self.level, INDICES[index][2])
            y = math.nan if point is None else float(point.get(index, math.nan))
            if math.isfinite(lo) and math.isfinite(y):
                lo, hi = min(lo, y), max(hi, y)
            out[lo_name], out[hi_name] = lo, hi
        return out

    def to_json(self) -> dict[str, object]:
        """The ``calibration.json`` object."""
        return {
            "format": FORMAT,
            "method": METHOD,
            "level": self.level,
            "score": self.score,
            "passes": list(self.passes),
            "models": self.models,
            "members": list(self.members),
            "patients": self.patients,
            "n_patients": self.n_patients,
            "ef_convention": self.ef_convention,
            "backend": self.backend,
            "score_choice": self.score_choice,
            "weights_sha256": self.weights_sha256,
            "indices": {
                k: {
                    "n": c.n,
                    "n_dropped": c.n_dropped,
                    "spread_floor": c.spread_floor,
                    "members": c.members.tolist(),
                    "scores": [float(s) for s in c.scores],
                }
                for k, c in self.indices.items()
            },
        }


def parse_cv_plus(data: Mapping[str, object], path: object) -> CvPlusCalibration:
    """A :class:`CvPlusCalibration` from a ``calibration.json`` object (``path`` names it in errors).

    Raises:
        CalibrationFileError: a field missing or malformed.
    """
    try:
        level, score = float(data["level"]), str(data["score"])  # type: ignore[arg-type]
        if score not in SCORES:
            raise CalibrationFileError(f"{path}: score {score!r} is not one of {SCORES}")
        members = tuple(str(m) for m in data["members"])  # type: ignore[attr-defined]
        indices = {}
        for key, value in data["indices"].items():  # type: ignore[attr-defined]
            if key not in INDICES:
                continue
            who = np.asarray(value["members"], dtype=np.int64)
            scores = np.asarray(value["scores"], dtype=np.float64)
            if who.shape != scores.shape or (who.size and (who.min() < 0 or who.max() >= len(members))):
                raise CalibrationFileError(
                    f"{path}: {key}: members and scores do not match the {len(members)} folds"
                )
            indices[key] = CvPlusScores(
                who, scores, int(value.get("n_dropped", 0)), float(value.get("spread_floor", 0.0))
            )
        return CvPlusCalibration(
            level=level, score=score, passes=tuple(str(p) for p in data.get("passes", ["identity"])),  # type: ignore[attr-defined]
            members=members, indices=indices, n_patients=int(data.get("n_patients", 0)),  # type: ignore[call-overload]
            ef_convention=str(data.get("ef_convention", "geometric")),
            backend=str(data.get("backend", "torch")),
            score_choice=dict(data.get("score_choice", {})),  # type: ignore[call-overload]
            weights_sha256={str(k): str(v) for k, v in dict(data.get("weights_sha256", {})).items()},  # type: ignore[call-overload]
        )  # fmt: skip
    except CalibrationFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CalibrationFileError(
            f"{path}: not a lunet CV+ calibration ({type(err).__name__}: {err}); "
            "run `lunet calibrate RUN` again"
        ) from None


def calibrate_cv_plus(
    out_of_fold: Sequence[tuple[int, PatientPasses]],
    truths: Sequence[Mapping[str, float]],
    members: Sequence[str],
    level: float = 0.90,
    score: str = "auto",
    passes: Sequence[str] = ("identity",),
    ef_convention: str = "geometric",
) -> CvPlusCalibration:
    """The CV+ calibration from every patient's passes under the fold model that held it out.

    Args:
        out_of_fold: ``(fold model index, passes)`` of each patient (each patient once).
        truths: their reference ``{"edv_ml", "esv_ml", "ef_percent"}``, same order.
        members: the fold folders (``fold_1`` …), indexed by the first items of ``out_of_fold``.
        level: nominal coverage.
        score: ``absolute``, ``normalised`` or ``auto`` (the narrower by leave-one-out on the pooled
            out-of-fold patients, :func:`lunet.evaluation.intervals.choose_score`).
        passes: the TTA pass names. ef_convention: the Simpson convention (recorded).

    Raises:
        ValueError: a patient twice, too few patients for the level, or a bad score.
    """
    if score not in ("auto", *SCORES):
        raise ValueError(f"score must be auto, absolute or normalised, got {score!r}")
    if len(truths) != len(out_of_fold):
        raise ValueError(f"{len(out_of_fold)} patients, {len(truths)} reference values")
    patients = [p.patient for _, p in out_of_fold]
    if len(set(patients)) != len(patients):
        twice = sorted({p for p in patients if patients.count(p) > 1})
        raise ValueError(f"patients held out by more than one fold: {', '.join(twice[:3])}")
    who = [k for k, _ in out_of_fold]
    estimates = {i: [p.point()[i] for _, p in out_of_fold] for i in INDICES}
    spreads = {i: [p.spread()[i] for _, p in out_of_fold] for i in INDICES}
    reference = {i: [t[i] for t in truths] for i in INDICES}
    choice: dict[str, object] = {}
    if score == "auto":
        score, widths = choose_score(
            estimates["ef_percent"],
            reference["ef_percent"],
            spreads["ef_percent"],
            level,
            SPREAD_FLOORS["ef_percent"],
        )
        choice = {
            **{f"loo_mean_ef_width_{k}": v if math.isfinite(v) else None for k, v in widths.items()},
            "rule": "leave-one-out on the pooled out-of-fold patients: normalised if its mean EF width is "
            "smaller",
        }
    indices = {
        i: cv_plus_scores(
            who, estimates[i], reference[i], spreads[i] if score == "normalised" else None,
            SPREAD_FLOORS[i] if score == "normalised" else 0.0,
        )
        for i in INDICES
    }  # fmt: skip
    for i, s in indices.items():
        if s.n < min_calibration_size(level):
            raise ValueError(
                f"CV+ at level {level:g} needs at least {min_calibration_size(level)} out-of-fold patients "
                f"with a finite {i}, got {s.n}"
            )
    return CvPlusCalibration(
        level=float(level), score=score, passes=tuple(passes), members=tuple(members), indices=indices,
        n_patients=len(out_of_fold), ef_convention=ef_convention, score_choice=choice,
    )  # fmt: skip
