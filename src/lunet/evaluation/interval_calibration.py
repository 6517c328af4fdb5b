"""A run's EF/EDV/ESV interval calibration: ``calibration.json`` (stored with the run, carried by its bundle).

The file is written by ``lunet calibrate`` (:func:`lunet.inference.calibrate.calibrate_run`) and read by
``lunet predict`` and ``lunet evaluate``. It holds, for each index (``ef_percent``, ``edv_ml``, ``esv_ml``),
the split-conformal calibration of :mod:`lunet.evaluation.intervals` made on the run's *validation* patients
(never its test patients), at one level, with one conformity score, and the test-time augmentation passes
(:mod:`lunet.inference.tta`) the spreads were measured with::

    {"format": 1, "level": 0.9, "score": "normalised", "passes": ["identity", ...], "models": 1,
     "patients": "validation", "n_patients": 20, "ef_convention": "geometric",
     "score_choice": {"absolute": 9.1, "normalised": 7.4, "rule": "..."}, "backend": "torch",
     "indices": {"ef_percent": {"quantile": 1.9, "n": 20, "n_dropped": 0, "spread_floor": 0.5}, ...}}

The point estimate is the unaugmented pass of the first model (today's figure); the spread is the SD over all
passes (and ensemble members). The interval is the conformal one, clipped to ``[0, 100]`` for EF and to
``[0, ∞)`` for volumes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from lunet.evaluation.intervals import SCORES, ConformalCalibration, apply_interval, calibrate

Record = TypeVar("Record")

__all__ = [
    "CALIBRATION_FILE",
    "INDICES",
    "INTERVAL_COLUMNS",
    "PASSES_FILE",
    "SPREAD_FLOORS",
    "VALUE_KEYS",
    "CalibrationFileError",
    "IntervalCalibration",
    "PatientPasses",
    "calibrate_indices",
    "calibrate_passes",
    "choose_score",
    "read_calibration",
    "read_passes",
    "write_calibration",
    "write_passes",
]

CALIBRATION_FILE = "calibration.json"
FORMAT = 1
#: Indices with an interval, their column stem, unit and bounds.
INDICES: dict[str, tuple[str, str, tuple[float, float]]] = {
    "ef_percent": ("ef", "percent", (0.0, 100.0)),
    "edv_ml": ("edv", "ml", (0.0, math.inf)),
    "esv_ml": ("esv", "ml", (0.0, math.inf)),
}
#: Output columns ``{index: (lo, hi)}``: ``ef_lo_percent`` … ``esv_hi_ml``.
INTERVAL_COLUMNS = {k: (f"{s}_lo_{u}", f"{s}_hi_{u}") for k, (s, u, _) in INDICES.items()}
#: Spreads below these are raised to them in the ``normalised`` score (EF points, ml): a patient whose passes
#: all agree would otherwise get a zero-width interval. About a tenth of the phantom's typical pass SD.
SPREAD_FLOORS = {"ef_percent": 0.25, "edv_ml": 0.5, "esv_ml": 0.5}
#: Per-pass values of a run's validation and test patients, next to ``calibration.json``.
PASSES_FILE = "calibration_passes.csv"
#: Columns of a pass: EDV (ml), ESV (ml), EF (%).
VALUE_KEYS = ("edv_ml", "esv_ml", "ef_percent")


class CalibrationFileError(ValueError):
    """A ``calibration.json`` that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class IntervalCalibration:
    """What ``calibration.json`` holds (module docstring)."""

    level: float
    score: str
    passes: tuple[str, ...]
    indices: dict[str, ConformalCalibration]
    models: int = 1
    patients: str = "validation"
    n_patients: int = 0
    ef_convention: str = "geometric"
    score_choice: dict[str, object] = field(default_factory=dict)
    backend: str = "torch"  # the prediction back-end the passes were measured with

    @property
    def needs_spread(self) -> bool:
        """Whether new patients need the passes' spread (``normalised``) or only the point estimate."""
        return self.score == "normalised"

    def intervals(
        self, estimates: Mapping[str, float], spreads: Mapping[str, float] | None = None
    ) -> dict[str, float]:
        """``{ef_lo_percent: …, …, esv_hi_ml: …}`` of one patient (NaN where undefined).

        Args:
            estimates: ``{"ef_percent", "edv_ml", "esv_ml"}`` point estimates.
            spreads: their SD over the passes (needed for ``normalised``; NaN spreads give NaN intervals).
        """
        out: dict[str, float] = {}
        for index, (lo_name, hi_name) in INTERVAL_COLUMNS.items():
            cal = self.indices.get(index)
            y_hat = float(estimates.get(index, math.nan))
            sigma = None if spreads is None else [float(spreads.get(index, math.nan))]
            if cal is None or (cal.score == "normalised" and sigma is None):
                out[lo_name] = out[hi_name] = math.nan
                continue
            lo, hi = apply_interval(cal, [y_hat], sigma, INDICES[index][2])
            out[lo_name], out[hi_name] = float(lo[0]), float(hi[0])
        return out

    def to_json(self) -> dict[str, object]:
        """The ``calibration.json`` object."""
        return {
            "format": FORMAT,
            "level": self.level,
            "score": self.score,
            "passes": list(self.passes),
            "models": self.models,
            "patients": self.patients,
            "n_patients": self.n_patients,
            "ef_convention": self.ef_convention,
            "score_choice": self.score_choice,
            "backend": self.backend,
            "indices": {
                k: {
                    "quantile": c.quantile,
                    "n": c.n,
                    "n_dropped": c.n_dropped,
                    "spread_floor": c.spread_floor,
                }
                for k, c in self.indices.items()
            },
        }


@dataclass
class PatientPasses:
    """EDV/ESV/EF of one patient under every pass.

    Attributes:
        patient: id.
        values: ``(passes, 3)`` EDV (ml), ESV (ml), EF (%) per pass (models × TTA passes, the first model's
            identity pass first); NaN where a mask is degenerate.
        names: ``model<k>:<pass>`` per row.
        seconds: wall time of the patient's passes (model calls, inverse maps and Simpson).
    """

    patient: str
    values: np.ndarray
    names: list[str]
    seconds: float = math.nan

    def point(self) -> dict[str, float]:
        """The first model's unaugmented pass: ``{"edv_ml", "esv_ml", "ef_percent"}``."""
        return dict(zip(VALUE_KEYS, (float(v) for v in self.values[0])))

    def spread(self) -> dict[str, float]:
        """SD (ddof 1) over the finite passes of each index (NaN with fewer than two)."""
        out = {}
        for j, key in enumerate(VALUE_KEYS):
            column = self.values[:, j]
            finite = column[np.isfinite(column)]
            out[key] = float(np.std(finite, ddof=1)) if finite.size > 1 else math.nan
        return out


def calibrate_passes(
    validation: Sequence[PatientPasses],
    truths: Sequence[dict[str, float]],
    level: float = 0.90,
    score: str = "auto",
    passes: Sequence[str] = ("identity",),
    models: int = 1,
    ef_convention: str = "geometric",
) -> IntervalCalibration:
    """The interval calibration from the validation patients' passes and their reference values.

    Args:
        validation: passes of each validation patient.
        truths: their reference ``{"edv_ml", "esv_ml", "ef_percent"}``, same order.
        level: nominal coverage.
        score: ``"absolute"``, ``"normalised"`` or ``"auto"`` (:func:`choose_score` on EF).
        passes: the TTA pass names (recorded).
        models: number of models (1, or the ensemble's size).
        ef_convention: the Simpson convention of the values (recorded).
    """
    if score not in ("auto", "absolute", "normalised"):
        raise ValueError(f"score must be auto, absolute or normalised, got {score!r}")
    estimates = {k: [p.point()[k] for p in validation] for k in INDICES}
    spreads = {k: [p.spread()[k] for p in validation] for k in INDICES}
    reference = {k: [t[k] for t in truths] for k in INDICES}
    choice: dict[str, object] = {}
    if score == "auto":
        score, widths = choose_score(
            estimates["ef_percent"], reference["ef_percent"], spreads["ef_percent"], level,
            SPREAD_FLOORS["ef_percent"],
        )  # fmt: skip
        choice = {  # null widths: too few patients to leave one out (JSON has no NaN)
            **{f"loo_mean_ef_width_{k}": v if math.isfinite(v) else None for k, v in widths.items()},
            "rule": "leave-one-out on the validation patients: normalised if its mean EF width is smaller",
        }
    n_passes = len(validation[0].names) if validation else 0
    if score == "normalised" and n_passes < 2:
        raise ValueError("the normalised score needs at least two passes per patient")
    indices = calibrate_indices(estimates, reference, spreads if score == "normalised" else None, level)
    return IntervalCalibration(
        level=float(level), score=score, passes=tuple(passes), indices=indices, models=models,
        n_patients=len(validation), ef_convention=ef_convention, score_choice=choice,
    )  # fmt: skip


def calibrate_indices(
    estimates: Mapping[str, Sequence[float]],
    truths: Mapping[str, Sequence[float]],
    spreads: Mapping[str, Sequence[float]] | None,
    level: float,
) -> dict[str, ConformalCalibration]:
    """One conformal calibration per index of :data:`INDICES` (``spreads`` None: ``absolute`` score)."""
    return {
        index: calibrate(
            estimates[index],
            truths[index],
            None if spreads is None else spreads[index],
            level,
            SPREAD_FLOORS[index] if spreads is not None else 0.0,
        )
        for index in INDICES
    }


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


def write_calibration(folder: str | os.PathLike[str], calibration: IntervalCalibration) -> Path:
    """Write ``folder/calibration.json`` atomically; returns its path."""
    from lunet.io import write_text_atomic

    path = Path(folder) / CALIBRATION_FILE
    write_text_atomic(path, json.dumps(calibration.to_json(), indent=2, allow_nan=False) + "\n")
    return path


def write_passes(path: Path, rows: Sequence[tuple[str, PatientPasses]]) -> Path:
    """``calibration_passes.csv``: ``patient, split, pass, edv_ml, esv_ml, ef_percent`` (atomic)."""
    from lunet.io import write_text_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("patient", "split", "pass", *VALUE_KEYS))
    for split, result in rows:
        for name, values in zip(result.names, result.values):
            writer.writerow((result.patient, split, name, *(repr(float(v)) for v in values)))
    write_text_atomic(path, buffer.getvalue())
    return path


def read_passes(path: str | os.PathLike[str], split: str | None = None) -> dict[str, PatientPasses]:
    """Per patient, the passes of a ``calibration_passes.csv`` (only ``split`` rows when given).

    Raises:
        ValueError: a file without the expected columns (the message names it).
    """
    path = Path(path)
    grouped: dict[str, tuple[list[str], list[list[float]]]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        expected = {"patient", "split", "pass", *VALUE_KEYS}
        if not expected <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: expected columns {sorted(expected)}, got {reader.fieldnames}")
        for row in reader:
            if split is not None and row["split"] != split:
                continue
            names, values = grouped.setdefault(row["patient"], ([], []))
            names.append(row["pass"])
            values.append([float(row[k]) for k in VALUE_KEYS])
    return {p: PatientPasses(p, np.asarray(v, dtype=np.float64), n) for p, (n, v) in grouped.items()}


def run_intervals(
    folder: str | os.PathLike[str],
) -> tuple[IntervalCalibration, dict[str, dict[str, float]]] | None:
    """A run's calibration and its test patients' spreads (``calibration_passes.csv``), or None without a
    ``calibration.json``; what :func:`with_intervals` takes."""
    calibration = read_calibration(folder)
    if calibration is None:
        return None
    path = Path(folder) / PASSES_FILE
    passes = read_passes(path, "test") if path.is_file() else {}
    return calibration, {pid: p.spread() for pid, p in passes.items()}


def with_intervals(
    records: Sequence[Record], calibration: IntervalCalibration, spreads: Mapping[str, Mapping[str, float]]
) -> list[Record]:
    """Clinical records (:class:`lunet.evaluation.schema.ClinicalRecord`) with ``ef_lo_percent`` …
    ``esv_hi_ml`` set from their own EDV/ESV/EF and, for a ``normalised`` calibration, the patient's spread
    (a patient without passes keeps NaN intervals)."""
    out = []
    for record in records:
        estimates = {k: getattr(record, k) for k in VALUE_KEYS}
        spread = spreads.get(record.patient)  # type: ignore[attr-defined]
        if calibration.needs_spread and spread is None:
            out.append(record)
            continue
        out.append(replace(record, **calibration.intervals(estimates, spread)))  # type: ignore[type-var]
    return out


def read_calibration(folder: str | os.PathLike[str]) -> IntervalCalibration | None:
    """The ``calibration.json`` of a run or bundle folder, or None when it has none.

    Raises:
        CalibrationFileError: the file exists but is not a calibration of this format.
    """
    path = Path(folder) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise CalibrationFileError(f"{path}: format {data.get('format')!r}, this lunet reads {FORMAT}")
        level, score = float(data["level"]), str(data["score"])
        if score not in SCORES:
            raise CalibrationFileError(f"{path}: score {score!r} is not one of {SCORES}")
        indices = {
            k: ConformalCalibration(
                level=level,
                score=score,
                quantile=float(v["quantile"]),
                n=int(v["n"]),
                n_dropped=int(v.get("n_dropped", 0)),
                spread_floor=float(v.get("spread_floor", 0.0)),
            )
            for k, v in data["indices"].items()
            if k in INDICES
        }
        return IntervalCalibration(
            level=level,
            score=score,
            passes=tuple(str(p) for p in data.get("passes", ["identity"])),
            indices=indices,
            models=int(data.get("models", 1)),
            patients=str(data.get("patients", "validation")),
            n_patients=int(data.get("n_patients", 0)),
            ef_convention=str(data.get("ef_convention", "geometric")),
            score_choice=dict(data.get("score_choice", {})),
            backend=str(data.get("backend", "torch")),
        )
    except CalibrationFileError:
        raise
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise CalibrationFileError(
            f"{path}: not a lunet interval calibration ({type(err).__name__}: {err}); "
            "run `lunet calibrate RUN` again"
        ) from None
