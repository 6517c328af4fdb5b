"""EF/EDV/ESV intervals read from ``lunet predict``'s patient JSONs (``lunet evaluate-folder --intervals``).

``lunet predict`` writes ``patients/<patient_id>.json`` for each patient whose four images it predicted, with
``ef_interval_percent``, ``edv_interval_ml``, ``esv_interval_ml`` (``[lo, hi]`` or ``[null, null]``) at
``interval_level`` (:mod:`lunet.inference.patients`). :func:`read_predicted_intervals` reads every such file
of a predict output folder (or of its ``patients/`` folder itself) into ``clinical.csv``'s columns
``ef_lo_percent`` … ``esv_hi_ml`` (:data:`lunet.evaluation.interval_calibration.INTERVAL_COLUMNS`);
:func:`with_predicted_intervals` puts them on the clinical records of those patients (the others keep NaN).

Rules (each break is a :class:`PredictedIntervalsError` naming the file):

- every ``patients/*.json`` is read except the sequences' ``*_sequence.json`` (their EF is measured on the
  detected ED/ES frames of cines, not on the ED/ES images ``--pred`` holds); each must be a JSON object with a
  ``patient_id`` and the three interval keys as two numbers or nulls, and ``interval_level`` a number in
  (0, 1) or null (null only with null intervals: a patient predicted without a calibration);
- one level for all: files at different ``interval_level`` (say 0.8 and 0.9) are refused, since the
  coverage of a mixed set has no stated level; the level read is :attr:`PredictedIntervals.level`, printed by
  ``lunet evaluate-folder``;
- one Simpson convention (``ef_convention``) for all, which must be the evaluation's (checked by
  :func:`lunet.evaluation.evaluate.evaluate_models`): an interval is around its own point estimate.

Reading JSON needs nothing from :mod:`lunet.inference` (the layers: evaluation never imports inference).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from lunet.evaluation.interval_calibration import INDICES, INTERVAL_COLUMNS

logger = logging.getLogger(__name__)

Record = TypeVar("Record")

__all__ = [
    "JSON_KEYS",
    "PredictedIntervals",
    "PredictedIntervalsError",
    "read_predicted_intervals",
    "with_predicted_intervals",
]

#: The patient JSON's key of each index's ``[lo, hi]``: ``{"ef_percent": "ef_interval_percent", …}``.
JSON_KEYS = {index: f"{stem}_interval_{unit}" for index, (stem, unit, _) in INDICES.items()}
#: Largest difference between a JSON's point estimate and the one of the evaluated masks before a warning
#: (EF points, ml): the same masks give the same values to rounding.
POINT_TOLERANCE = {"ef_percent": 0.5, "edv_ml": 1.0, "esv_ml": 1.0}


class PredictedIntervalsError(ValueError):
    """A patient JSON that cannot give intervals; the message names the file and what is wrong."""


@dataclass(frozen=True)
class PredictedIntervals:
    """The intervals of a predict output folder.

    Attributes:
        folder: the ``patients/`` folder read.
        level: the nominal coverage of every interval (None when no JSON had one).
        bounds: ``{patient_id (lower case): {"ef_lo_percent": …, …, "esv_hi_ml": …}}`` (NaN for null bounds).
        points: ``{patient_id: {"ef_percent", "edv_ml", "esv_ml"}}`` the JSONs' point estimates (NaN: null).
        ef_convention: the Simpson convention the JSONs were made with (None when they do not say).
        files: number of patient JSONs read.
    """

    folder: Path
    level: float | None
    bounds: dict[str, dict[str, float]]
    points: dict[str, dict[str, float]]
    ef_convention: str | None
    files: int

    @property
    def patients_with_intervals(self) -> int:
        """Patients whose EF interval is finite."""
        return sum(math.isfinite(b["ef_lo_percent"]) for b in self.bounds.values())


def _patients_folder(path: Path) -> Path:
    if not path.is_dir():
        raise PredictedIntervalsError(f"{path}: not a folder (expected a lunet predict output folder)")
    return path / "patients" if (path / "patients").is_dir() else path


def _number(value: Any, path: Path, key: str) -> float:
    """A JSON number or null as a float (null: NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PredictedIntervalsError(f"{path}: {key} holds {value!r}, expected a number or null")
    return float(value)


def _read_one(path: Path) -> tuple[str, dict[str, float], dict[str, float], float | None, str | None]:
    """``(patient_id, bounds, points, level, ef_convention)`` of one patient JSON."""
    hint = "not a lunet patient JSON (lunet predict's patients/<patient_id>.json with EF/EDV/ESV intervals)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PredictedIntervalsError(f"{path}: {hint}: {type(err).__name__}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("patient_id"), str):
        raise PredictedIntervalsError(f"{path}: {hint}: no patient_id")
    missing = [k for k in (*JSON_KEYS.values(), "interval_level") if k not in data]
    if missing:
        raise PredictedIntervalsError(
            f"{path}: {hint}: no {', '.join(missing)} (written by a lunet predict older than the intervals? "
            "predict again)"
        )
    bounds: dict[str, float] = {}
    for index, key in JSON_KEYS.items():
        pair = data[key]
        if not isinstance(pair, list) or len(pair) != 2:
            raise PredictedIntervalsError(f"{path}: {key} holds {pair!r}, expected [lo, hi]")
        lo, hi = (_number(v, path, key) for v in pair)
        if lo > hi:
            raise PredictedIntervalsError(f"{path}: {key} = [{lo}, {hi}] has lo > hi")
        bounds[INTERVAL_COLUMNS[index][0]], bounds[INTERVAL_COLUMNS[index][1]] = lo, hi
    level = data["interval_level"]
    if level is None:
        if any(math.isfinite(v) for v in bounds.values()):
            raise PredictedIntervalsError(f"{path}: intervals without an interval_level")
    elif isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise PredictedIntervalsError(f"{path}: interval_level {level!r} is not a number in (0, 1)")
    points = {index: _number(data.get(index), path, index) for index in JSON_KEYS}
    convention = data.get("ef_convention")
    return data["patient_id"], bounds, points, level, convention if isinstance(convention, str) else None


def read_predicted_intervals(folder: str | os.PathLike[str]) -> PredictedIntervals:
    """Read the patient JSONs of a ``lunet predict`` output folder (or of its ``patients/`` folder).

    Raises:
        PredictedIntervalsError: no patient JSON, a file that is not one, two files of one patient, mixed
            ``interval_level`` or ``ef_convention`` (module docstring).
    """
    patients = _patients_folder(Path(folder))
    paths = sorted(p for p in patients.glob("*.json") if not p.name.endswith("_sequence.json"))
    if not paths:
        raise PredictedIntervalsError(
            f"{patients}: no patients/<patient_id>.json (lunet predict writes one for each patient whose "
            "2CH/4CH ED/ES images it predicted)"
        )
    bounds: dict[str, dict[str, float]] = {}
    points: dict[str, dict[str, float]] = {}
    levels: dict[float, Path] = {}
    conventions: dict[str, Path] = {}
    first: dict[str, Path] = {}
    for path in paths:
        patient, values, point, level, convention = _read_one(path)
        key = patient.lower()
        if key in first:
            raise PredictedIntervalsError(f"{path}: a second JSON of {patient} (first: {first[key]})")
        first[key], bounds[key], points[key] = path, values, point
        if level is not None:
            levels.setdefault(float(level), path)
        if convention is not None:
            conventions.setdefault(convention, path)
    if len(levels) > 1:
        seen = ", ".join(f"{100 * lv:g} % ({p.name})" for lv, p in sorted(levels.items()))
        raise PredictedIntervalsError(
            f"{patients}: intervals at different levels ({seen}); the coverage of a mixed set has no stated "
            "level: predict them with one calibration"
        )
    if len(conventions) > 1:
        seen = ", ".join(f"{c} ({p.name})" for c, p in sorted(conventions.items()))
        raise PredictedIntervalsError(f"{patients}: patients of different Simpson conventions ({seen})")
    level = next(iter(levels), None)
    convention = next(iter(conventions), None)
    return PredictedIntervals(patients, level, bounds, points, convention, len(paths))


def with_predicted_intervals(records: Sequence[Record], intervals: PredictedIntervals) -> list[Record]:
    """Clinical records (:class:`lunet.evaluation.schema.ClinicalRecord`) with ``ef_lo_percent`` …
    ``esv_hi_ml`` of their patient's JSON; a patient without a JSON keeps NaN.

    A JSON whose point estimate differs from the record's (beyond :data:`POINT_TOLERANCE`) is of another
    prediction than the evaluated masks: its interval is still used, with a warning naming the patient.
    """
    out = []
    for record in records:
        patient = str(record.patient).lower()  # type: ignore[attr-defined]
        bounds = intervals.bounds.get(patient)
        if bounds is None:
            out.append(record)
            continue
        point = intervals.points[patient]
        off = [
            f"{index} {point[index]:.1f} in the JSON, {getattr(record, index):.1f} from the masks"
            for index, tolerance in POINT_TOLERANCE.items()
            if abs(point[index] - getattr(record, index)) > tolerance
        ]
        if off:
            logger.warning("%s: %s: the intervals may be of another prediction", patient, "; ".join(off))
        out.append(replace(record, **bounds))  # type: ignore[type-var]
    return out
