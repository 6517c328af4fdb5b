"""A run's EF/EDV/ESV interval calibration: ``calibration.json`` (stored with the run, carried by its bundle).

The file is written by ``lunet calibrate`` (:func:`lunet.inference.calibrate.calibrate_run`) and read by
``lunet predict`` and ``lunet evaluate``. It holds, for each index (``ef_percent``, ``edv_ml``, ``esv_ml``),
the split-conformal calibration of :mod:`lunet.evaluation.intervals` made on the run's *validation* patients
(never its test patients), at one level, with one conformity score, and the test-time augmentation passes
(:mod:`lunet.inference.tta`) the spreads were measured with::

    {"format": 1, "level": 0.9, "score": "normalised", "passes": ["identity", ...], "models": 1,
     "patients": "validation", "n_patients": 20, "ef_convention": "geometric",
     "score_choice": {"absolute": 9.1, "normalised": 7.4, "rule": "..."}, "backend": "torch",
     "weights_sha256": "9f2c…" (of the calibrated model.safetensors: predict refuses other weights),
     "indices": {"ef_percent": {"quantile": 1.9, "n": 20, "n_dropped": 0, "spread_floor": 0.5}, ...}}

The point estimate is the unaugmented pass of the first model (today's figure); the spread is the SD over all
passes (and ensemble members). The interval is the conformal one, clipped to ``[0, 100]`` for EF and to
``[0, ∞)`` for volumes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from lunet.evaluation.interval_indices import (
    FORMAT,
    INDICES,
    INTERVAL_COLUMNS,
    SPREAD_FLOORS,
    VALUE_KEYS,
    CalibrationFileError,
    PatientPasses,
)
from lunet.evaluation.intervals import SCORES, ConformalCalibration, apply_interval, calibrate, choose_score

if TYPE_CHECKING:
    from lunet.evaluation.cv_plus import CvPlusCalibration

Record = TypeVar("Record")
logger = logging.getLogger(__name__)

__all__ = [
    "CALIBRATION_FILE",
    "GATHERED_FILE",
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
    "gathered_intervals",
    "read_calibration",
    "read_passes",
    "run_intervals",
    "with_intervals",
    "write_calibration",
    "write_passes",
]

CALIBRATION_FILE = "calibration.json"
#: Per-pass values of a run's validation and test patients, next to ``calibration.json``.
PASSES_FILE = "calibration_passes.csv"
#: The folds whose predictions a cross-validation run gathered (``lunet.training.cv``), one folder a line.
GATHERED_FILE = "folds_gathered.txt"


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
    weights_sha256: str = ""  # of the model.safetensors calibrated ("": not recorded)

    method = "split"  # split-conformal on validation patients (``cv+``: :mod:`lunet.evaluation.cv_plus`)

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
            "method": self.method,
            "level": self.level,
            "score": self.score,
            "passes": list(self.passes),
            "models": self.models,
            "patients": self.patients,
            "n_patients": self.n_patients,
            "ef_convention": self.ef_convention,
            "score_choice": self.score_choice,
            "backend": self.backend,
            "weights_sha256": self.weights_sha256,
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


def write_calibration(
    folder: str | os.PathLike[str], calibration: IntervalCalibration | CvPlusCalibration
) -> Path:
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
) -> tuple[IntervalCalibration | dict[str, IntervalCalibration], dict[str, dict[str, float]]] | None:
    """A run's calibration and its test patients' spreads (``calibration_passes.csv``), or None without a
    split-conformal ``calibration.json``; what :func:`with_intervals` takes.

    A gathered cross-validation (``lunet cv``: ``folds_gathered.txt``) gives each patient the calibration of
    the fold that tested it (:func:`gathered_intervals`): its prediction in ``RUN/predictions`` is that
    fold's, so that fold's split-conformal calibration is the one that holds for it (the run's own CV+
    ``calibration.json`` is for the ensemble on new patients).
    """
    folder = Path(folder)
    if (folder / GATHERED_FILE).is_file():
        return gathered_intervals(folder)
    calibration = read_calibration(folder)
    if calibration is None or calibration.method != "split":
        return None
    path = folder / PASSES_FILE
    passes = read_passes(path, "test") if path.is_file() else {}
    return calibration, {pid: p.spread() for pid, p in passes.items()}


def gathered_intervals(
    folder: str | os.PathLike[str],
) -> tuple[dict[str, IntervalCalibration], dict[str, dict[str, float]]] | None:
    """Per patient of a gathered cross-validation, the split-conformal calibration of the fold that tested it
    and the patient's spreads (from ``fold_K/calibration_passes.csv``'s test rows); None when no fold has a
    calibration, or when the folds' levels differ (logged: one ``clinical.csv`` holds one level).
    """
    folder = Path(folder)
    calibrations: dict[str, IntervalCalibration] = {}
    spreads: dict[str, dict[str, float]] = {}
    missing = []
    for name in (folder / GATHERED_FILE).read_text().split():
        found = run_intervals(folder / name)
        if found is None or isinstance(found[0], dict):
            missing.append(name)
            continue
        calibration, fold_spreads = found
        for pid, spread in fold_spreads.items():
            calibrations[pid], spreads[pid] = calibration, spread
    if missing:
        logger.info(
            "%s: no intervals for the patients of %s (no calibration.json)", folder, ", ".join(missing)
        )
    levels = {c.level for c in calibrations.values()}
    if len(levels) > 1:
        logger.warning(
            "%s: the folds were calibrated at different levels (%s): no intervals in clinical.csv; run "
            "`lunet calibrate` on each fold at one level", folder, ", ".join(map(str, sorted(levels))),
        )  # fmt: skip
        return None
    return (calibrations, spreads) if calibrations else None


def with_intervals(
    records: Sequence[Record],
    calibration: IntervalCalibration | Mapping[str, IntervalCalibration],
    spreads: Mapping[str, Mapping[str, float]],
) -> list[Record]:
    """Clinical records (:class:`lunet.evaluation.schema.ClinicalRecord`) with ``ef_lo_percent`` …
    ``esv_hi_ml`` set from their own EDV/ESV/EF and, for a ``normalised`` calibration, the patient's spread
    (a patient without passes keeps NaN intervals). ``calibration``: one for every record, or one per
    patient id (a gathered cross-validation; a patient not in it keeps NaN intervals)."""
    out = []
    for record in records:
        patient = record.patient  # type: ignore[attr-defined]
        cal = calibration.get(patient) if isinstance(calibration, Mapping) else calibration
        estimates = {k: getattr(record, k) for k in VALUE_KEYS}
        spread = spreads.get(patient)
        if cal is None or (cal.needs_spread and spread is None):
            out.append(record)
            continue
        out.append(replace(record, **cal.intervals(estimates, spread)))  # type: ignore[type-var]
    return out


def read_calibration(folder: str | os.PathLike[str]) -> IntervalCalibration | CvPlusCalibration | None:
    """The ``calibration.json`` of a run or bundle folder, or None when it has none.

    A cross-validation's ensemble calibration (``"method": "cv+"``) is returned as a
    :class:`lunet.evaluation.cv_plus.CvPlusCalibration` (``method`` tells them apart; its ``models`` > 1).

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
        method = data.get("method", "split")
        if method == "cv+":
            from lunet.evaluation.cv_plus import parse_cv_plus

            return parse_cv_plus(data, path)
        if method != "split":
            raise CalibrationFileError(f"{path}: method {method!r} is not split or cv+")
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
            weights_sha256=str(data.get("weights_sha256", "")),
        )
    except CalibrationFileError:
        raise
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise CalibrationFileError(
            f"{path}: not a lunet interval calibration ({type(err).__name__}: {err}); "
            "run `lunet calibrate RUN` again"
        ) from None
