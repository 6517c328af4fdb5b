"""Evaluation CSV columns, read leniently: per-image scores, clinical pairs, outlier flags.

Columns are matched with case and separators ignored (``"LV_Epi d_H (mm)"`` → ``"lvepidhmm"``), so the
report reads ``lunet.evaluation``'s names (``lv_epi_hd_mm``, ``edv_ml`` + ``simpson_edv_ml``) as well as
long-form files (a ``structure`` column) or ``*_pred`` / ``*_ref`` pairs.
"""

from __future__ import annotations

import logging
import math
import re

logger = logging.getLogger(__name__)

STRUCTURES = ("LV_Endo", "LV_Epi")
METRICS = ("dice", "dm", "dh")
CLINICAL = ("edv", "esv", "ef")


class ReportInputError(ValueError):
    """A run folder cannot be reported; the message names the file and what is wrong."""


def norm(name: str) -> str:
    """Column name reduced to lower-case letters and digits (``"LV_Epi d_H (mm)"`` → ``"lvepidhmm"``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def to_float(value: object) -> float:
    """A CSV cell as float; empty, ``nan``, ``None`` or unparsable → NaN; ``True``/``False`` → 1/0."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower()
    if text in ("true", "yes"):
        return 1.0
    if text in ("false", "no"):
        return 0.0
    try:
        return float(text)
    except ValueError:
        return math.nan


def _find(columns: list[str], *, must: tuple[str, ...], any_of: tuple[str, ...] = ()) -> str | None:
    """First column whose normalised name contains every token of ``must`` and one of ``any_of``."""
    for column in columns:
        key = norm(column)
        if all(token in key for token in must) and (not any_of or any(token in key for token in any_of)):
            return column
    return None


def metric_of(name: str) -> str | None:
    """Metric held by a column: ``"dice"``, ``"dm"`` (mean distance), ``"dh"`` (Hausdorff), or None."""
    key = norm(name)
    if "dice" in key:
        return "dice"
    if any(token in key for token in ("hausdorff", "dh", "hd")):
        return "dh"
    if any(token in key for token in ("meandist", "meanabs", "dm", "mad", "assd")):
        return "dm"
    return None


def structure_of(name: str) -> str | None:
    """``"LV_Endo"`` or ``"LV_Epi"`` when a column (or cell) names that structure."""
    key = norm(name)
    if "endo" in key:
        return "LV_Endo"
    if "epi" in key:
        return "LV_Epi"
    return None


def _key_columns(columns: list[str]) -> tuple[str | None, str | None, str | None]:
    patient = _find(columns, must=("patient",)) or _find(columns, must=("case",))
    view = _find(columns, must=("view",))
    instant = (
        _find(columns, must=("instant",)) or _find(columns, must=("phase",)) or _find(columns, must=("time",))
    )
    return patient, view, instant


def parse_per_image(rows: list[dict[str, str]], source: str = "per_image.csv") -> list[dict]:
    """Per-image scores in long form (one row per structure) or wide form (a column per structure and metric).

    Returns:
        One dict per image and model: ``model`` ("" without a model column), ``patient``, ``view``,
        ``instant`` and, per structure found, a dict of ``dice`` / ``dm`` (mm) / ``dh`` (mm) floats (NaN when
        absent).
    """
    if not rows:
        return []
    columns = list(rows[0].keys())
    patient, view, instant = _key_columns(columns)
    if patient is None:
        raise ReportInputError(f"{source}: no patient column among {columns}")
    structure_col = _find(columns, must=("structure",))
    model = next((c for c in columns if norm(c) == "model"), None)
    images: dict[tuple[str, str, str, str], dict] = {}
    for row in rows:
        key = (
            row[model] if model else "",
            row[patient],
            row.get(view, "") if view else "",
            row.get(instant, "") if instant else "",
        )
        image = images.setdefault(
            key, {"model": key[0], "patient": key[1], "view": key[2], "instant": key[3]}
        )
        if structure_col is not None:
            structure = structure_of(row[structure_col])
            if structure is None:
                continue
            scores = image.setdefault(structure, dict.fromkeys(METRICS, math.nan))
            for column in columns:
                metric = metric_of(column)
                if metric and column != structure_col:
                    scores[metric] = to_float(row[column])
        else:
            for column in columns:
                structure, metric = structure_of(column), metric_of(column)
                if structure and metric:
                    image.setdefault(structure, dict.fromkeys(METRICS, math.nan))[metric] = to_float(
                        row[column]
                    )
    return list(images.values())


#: Reference columns of ``clinical.csv`` in order of preference (``lunet.evaluation``): Simpson's biplane on
#: the reference masks (the same method on both sides), the ``Info_*.cfg`` values, the analytic phantom
#: values.
REFERENCE_PREFIXES = ("simpson", "cfg", "truth")


def _clinical_columns(
    columns: list[str], rows: list[dict[str, str]], quantity: str
) -> tuple[str, str] | None:
    """``(predicted, reference)`` columns of one quantity, or None.

    The evaluation writes the prediction as ``edv_ml`` and references as ``<prefix>_edv_ml``; columns that
    name themselves ``..._pred...`` / ``..._ref...`` are accepted too.
    """
    named = [c for c in columns if re.search(rf"(^|[^a-z]){quantity}([^a-z]|$)", c.lower())]
    pred = _find(named, must=(), any_of=("pred", "est", "auto")) or next(
        (c for c in named if re.fullmatch(rf"{quantity}(_ml|_percent|_pct)?", c.lower())), None
    )
    ref = _find(named, must=(), any_of=("ref", "gt", "manual", "expert"))
    for prefix in REFERENCE_PREFIXES:
        if ref is not None:
            break
        column = next((c for c in named if c.lower().startswith(prefix)), None)
        if column is not None and any(math.isfinite(to_float(row[column])) for row in rows):
            ref = column
    return (pred, ref) if pred and ref else None


def parse_clinical(
    rows: list[dict[str, str]], source: str = "clinical.csv"
) -> tuple[list[dict], dict[str, str]]:
    """Per-patient ``(predicted, reference)`` EDV/ESV (ml), EF (%); a quantity lacking a column is skipped.

    Returns:
        Rows ``{"model", "patient", "edv": (pred, ref), "esv": ..., "ef": ...}`` and, per quantity, the name
        of the reference column used (see :data:`REFERENCE_PREFIXES`).
    """
    if not rows:
        return [], {}
    columns = list(rows[0].keys())
    patient = _find(columns, must=("patient",))
    if patient is None:
        raise ReportInputError(f"{source}: no patient column among {columns}")
    model = next((c for c in columns if norm(c) == "model"), None)
    pairs = {q: pair for q in CLINICAL if (pair := _clinical_columns(columns, rows, q))}
    if not pairs:
        logger.warning("%s: no predicted/reference column pairs for %s", source, ", ".join(CLINICAL))
    parsed = [
        {"model": row[model] if model else "", "patient": row[patient]}
        | {q: (to_float(row[p]), to_float(row[r])) for q, (p, r) in pairs.items()}
        for row in rows
    ]
    return parsed, {q: r for q, (_, r) in pairs.items()}


def outlier_counts(per_patient: list[dict[str, str]], model: str | None = None) -> dict[str, int]:
    """Numbers of geometric, anatomical and both-kinds outlier patients from ``per_patient.csv`` flags.

    Args:
        per_patient: rows of ``per_patient.csv``. model: count only rows of this ``model`` (None: all rows).
    """
    if model is not None:
        per_patient = [row for row in per_patient if row.get("model", "") == model]
    if not per_patient:
        return {}
    columns = list(per_patient[0].keys())
    found = {
        "geometric": _find(columns, must=("geo",)),
        "anatomical": _find(columns, must=("ana",)),
        "both": _find(columns, must=("both",)),
    }
    counts: dict[str, int] = {}
    for kind, column in found.items():
        if column is not None:
            counts[kind] = sum(to_float(row[column]) > 0 for row in per_patient)
    if "both" not in counts and found["geometric"] and found["anatomical"]:
        geo, ana = found["geometric"], found["anatomical"]
        counts["both"] = sum(to_float(r[geo]) > 0 and to_float(r[ana]) > 0 for r in per_patient)
    return counts
