"""``lunet data summary``: what a CAMUS-style folder holds, read from cfg files and image headers only."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from lunet.data.camus_errors import CamusFormatError
from lunet.data.labels import INSTANTS, VIEWS
from lunet.limits import SizeLimits

#: Said by every summary of phantom data (as the evaluation tables and the report say it).
SYNTHETIC_NOTE = "SYNTHETIC phantom data — not CAMUS"


def is_synthetic(root: str | os.PathLike[str]) -> bool:
    """True when ``root`` holds the lunet phantom (a patient folder with ``phantom_truth.json``)."""
    root = Path(root)
    return any(any(root.glob(pattern)) for pattern in ("*/phantom_truth.json", "*/*/phantom_truth.json"))


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    array = np.asarray(values, dtype=np.float64)
    return {"min": float(array.min()), "median": float(np.median(array)), "max": float(array.max())}


def summarize(root: str | os.PathLike[str], limits: SizeLimits | None = None) -> dict:
    """Summary of the dataset under ``root``.

    Args:
        root: dataset root. limits: size limits checked on every header (default ``DEFAULT_LIMITS``;
            ``lunet data summary --max-*``): a file beyond them is listed as ``unreadable`` with the reason.

    Returns:
        A JSON-ready dict: ``release``, ``patients``, ``images`` (annotated frames, 4 per patient),
        ``with_ground_truth`` (patients), ``quality`` and ``ef_category`` counts (patients),
        ``rows``/``cols`` (pixels) and ``row_mm``/``col_mm`` (spacing, mm) as min/median/max,
        ``skipped`` and ``missing`` file lists, ``ignored`` (count of non-CAMUS names),
        ``unreadable`` headers, ``synthetic`` (the phantom) and ``data_note`` (:data:`SYNTHETIC_NOTE` or "").
    """
    from lunet.data.camus import scan_camus
    from lunet.data.camus_io import read_header

    dataset = scan_camus(root)
    rows, cols, row_mm, col_mm = [], [], [], []
    unreadable: list[str] = []
    images = 0
    for record in dataset.patients:
        for view in VIEWS:
            for instant in INSTANTS:
                path = record.path(view, instant)
                images += 1
                try:
                    shape, spacing = read_header(path, limits)
                except CamusFormatError as err:
                    unreadable.append(str(err))
                    continue
                rows.append(shape[-2])
                cols.append(shape[-1])
                row_mm.append(spacing[0])
                col_mm.append(spacing[1])
    quality = Counter(p.image_quality for p in dataset.patients)
    ef = Counter(p.ef_category for p in dataset.patients)
    synthetic = is_synthetic(dataset.root)
    return {
        "root": str(dataset.root),
        "synthetic": synthetic,
        "data_note": SYNTHETIC_NOTE if synthetic else "",
        "release": dataset.release,
        "patients": len(dataset.patients),
        "images": images,
        "with_ground_truth": len(dataset.with_ground_truth),
        "quality": {q: quality.get(q, 0) for q in ("Good", "Medium", "Poor")},
        "ef_category": {c: ef.get(c, 0) for c in ("<=45", "45-55", ">=55", "unknown")},
        "rows": _stats(rows),
        "cols": _stats(cols),
        "row_mm": _stats(row_mm),
        "col_mm": _stats(col_mm),
        "skipped": [f"{path}: {reason}" for path, reason in dataset.skipped],
        "missing": [str(p) for p in dataset.missing],
        "ignored": len(dataset.ignored),
        "unreadable": unreadable,
    }


def format_summary(summary: dict) -> str:
    """Human-readable lines of a :func:`summarize` result."""

    def span(stats: dict | None, fmt: str) -> str:
        if stats is None:
            return "n/a"
        return " / ".join(format(stats[k], fmt) for k in ("min", "median", "max")) + " (min / median / max)"

    lines = [
        f"root:              {summary['root']}",
        f"release:           {summary['release']}",
        f"patients:          {summary['patients']} ({summary['with_ground_truth']} with ground truth)",
        f"annotated images:  {summary['images']}",
        "quality:           " + ", ".join(f"{k} {v}" for k, v in summary["quality"].items()),
        "EF category:       " + ", ".join(f"{k} {v}" for k, v in summary["ef_category"].items()),
        f"rows (px):         {span(summary['rows'], '.0f')}",
        f"cols (px):         {span(summary['cols'], '.0f')}",
        f"row spacing (mm):  {span(summary['row_mm'], '.4f')}",
        f"col spacing (mm):  {span(summary['col_mm'], '.4f')}",
        f"ignored names:     {summary['ignored']}",
    ]
    if summary.get("synthetic"):
        lines.insert(0, f"*** {SYNTHETIC_NOTE} ***")
    for title, key in (("skipped", "skipped"), ("missing files", "missing"), ("unreadable", "unreadable")):
        if summary[key]:
            lines.append(f"{title} ({len(summary[key])}):")
            lines.extend(f"  {item}" for item in summary[key][:20])
            if len(summary[key]) > 20:
                lines.append(f"  ... and {len(summary[key]) - 20} more")
    return "\n".join(lines)
