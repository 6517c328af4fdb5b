"""The CAMUS authors' temporal-consistency check of a segmented sequence.

Painchaud et al., "Echocardiography segmentation with enforced temporal consistency", IEEE TMI 41(10), 2022,
published with the thresholds in vitalab/vital (``vital/metrics/evaluate/attribute.py``,
``vital/data/camus/statistics/attr_thresholds.yaml``, commit 1fc1b25, 2023-11-16). The idea, rewritten here:

1. measure shape attributes on every frame: LV area, LV base width, LV length, LV orientation, myocardium
   area, epicardium centre (row and column);
2. min–max scale each attribute curve by the range of that attribute over the CAMUS dataset;
3. a frame is *temporally inconsistent* for an attribute when its scaled value departs from the mean of its
   two neighbours' by more than the published threshold (the first and last frames, with one neighbour,
   never are). A single bad frame therefore also flags its neighbours when it departs by more than twice
   the threshold (they depart by half as much, the other way).

The published thresholds are fractions of the CAMUS range of each attribute (vital's
``image_attr_stats.yaml``, in pixels of the CAMUS images and degrees). lunet measures in mm, mm² and
degrees on the physical grid, so the ranges are converted with the CAMUS pixel of 0.154 mm (rows, depth) ×
0.308 mm (columns) — the one for which vital's pixel ranges read as anatomy: LV length 46–94 mm, base width
17–53 mm, LV area 9–53 cm². Only the range matters (the metric is a difference), so the offsets of vital's
bounds drop out.

Differences from vital, on purpose: the LV length runs from the base midpoint to the farthest LV pixel (vital
finds the apex as a peak of the polar contour); a frame on which an attribute cannot be measured (no LV, no
myocardium, no base) while it can on others is flagged as ``undefined`` instead of raising; an attribute
that cannot be measured on any frame (a model without myocardium) is left out (``not_applicable``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lunet.data.labels import Label

#: Attribute names, in vital's order, with their units in lunet.
ATTRIBUTES = (
    "lv_area", "lv_base_width", "lv_length", "lv_orientation", "myo_area", "epi_center_x", "epi_center_y",
)  # fmt: skip
UNITS = {
    "lv_area": "mm²", "lv_base_width": "mm", "lv_length": "mm", "lv_orientation": "degrees",
    "myo_area": "mm²", "epi_center_x": "mm", "epi_center_y": "mm",
}  # fmt: skip
#: The published thresholds (vital ``attr_thresholds.yaml``): the largest tolerated departure of a frame's
#: min–max scaled attribute from the mean of its neighbours'.
THRESHOLDS = {
    "lv_area": 1.60e-2, "lv_base_width": 9.69e-2, "lv_length": 2.62e-2, "lv_orientation": 2.29e-2,
    "myo_area": 3.21e-2, "epi_center_x": 4.56e-3, "epi_center_y": 1.10e-2,
}  # fmt: skip
#: vital ``image_attr_stats.yaml``: (min, max) of each attribute over CAMUS, pixels of the CAMUS images
#: (areas in pixels, lengths and centres in pixels, orientation in degrees).
CAMUS_BOUNDS_PX = {
    "lv_area": (19632.0, 112404.0), "lv_base_width": (53.75872022286245, 172.8843544106869),
    "lv_length": (301.42494919963076, 612.8623418027902),
    "lv_orientation": (-7.035926925125878, 15.260000077617264), "myo_area": (23228.0, 64134.0),
    "epi_center_x": (183.36958708083102, 479.3726391015824),
    "epi_center_y": (285.85869497540625, 609.2086387810838),
}  # fmt: skip
#: The CAMUS pixel (row_mm, col_mm) used to convert vital's ranges to physical units (module docstring).
CAMUS_PIXEL_MM = (0.154, 0.308)
SOURCE = (
    "Painchaud et al., IEEE TMI 2022; thresholds vitalab/vital attr_thresholds.yaml, ranges "
    "image_attr_stats.yaml at 0.154 x 0.308 mm per CAMUS pixel"
)


def camus_ranges() -> dict[str, float]:
    """Range (max − min) of each attribute over CAMUS in lunet's units (mm², mm, degrees)."""
    row_mm, col_mm = CAMUS_PIXEL_MM
    per_unit = {
        "lv_area": row_mm * col_mm, "myo_area": row_mm * col_mm, "lv_base_width": col_mm,
        "lv_length": row_mm, "lv_orientation": 1.0, "epi_center_x": col_mm, "epi_center_y": row_mm,
    }  # fmt: skip
    return {name: (hi - lo) * per_unit[name] for name, (lo, hi) in CAMUS_BOUNDS_PX.items()}


def _base_corners(label: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(row, col) of the left and right ends of the LV base: LV pixels touching both the myocardium and the
    rest (atrium, background), the deepest on each side of their mean column; None if there are not two."""
    from scipy import ndimage

    lv, myo = label == Label.LV, label == Label.MYO
    ring = np.ones((3, 3), dtype=bool)
    touching = lv & ndimage.binary_dilation(myo, ring) & ndimage.binary_dilation(~(lv | myo), ring)
    rows, cols = np.nonzero(touching)
    if rows.size < 2 or cols.min() == cols.max():
        return None
    left = cols < cols.mean()
    ends = []
    for side in (left, ~left):
        k = int(np.argmax(rows[side]))
        ends.append(np.array([rows[side][k], cols[side][k]], dtype=np.float64))
    return ends[0], ends[1]


def frame_attributes(label: np.ndarray, spacing: tuple[float, float]) -> dict[str, float]:
    """The seven attributes of one label map (NaN where a structure is missing).

    Args:
        label: ``(rows, cols)`` labels (:class:`lunet.data.labels.Label`). spacing: ``(row_mm, col_mm)``.

    Returns:
        ``lv_area``, ``myo_area`` in mm²; ``lv_base_width`` (distance between the base corners) and
        ``lv_length`` (base midpoint to the farthest LV pixel) in mm; ``lv_orientation``: angle of the LV's
        long axis (principal axis of its pixels on the physical grid) from the image's vertical, in degrees;
        ``epi_center_x`` / ``epi_center_y``: centre of LV ∪ myocardium in mm from the first column / row.
    """
    label = np.asarray(label)
    scale = np.array([float(spacing[0]), float(spacing[1])])
    lv, myo = label == Label.LV, label == Label.MYO
    nan = float("nan")
    out = dict.fromkeys(ATTRIBUTES, nan)
    out["lv_area"] = float(lv.sum()) * scale[0] * scale[1]
    out["myo_area"] = float(myo.sum()) * scale[0] * scale[1] if myo.any() else nan
    if lv.sum() >= 3:
        points = np.argwhere(lv) * scale
        centred = points - points.mean(axis=0)
        _, vectors = np.linalg.eigh(centred.T @ centred)
        d_row, d_col = vectors[:, -1]  # the long axis
        if d_row < 0:
            d_row, d_col = -d_row, -d_col
        out["lv_orientation"] = math.degrees(math.atan2(d_col, d_row))
    epi = lv | myo
    if epi.any() and myo.any():
        centre = np.argwhere(epi).mean(axis=0) * scale
        out["epi_center_y"], out["epi_center_x"] = float(centre[0]), float(centre[1])
    corners = _base_corners(label) if lv.any() and myo.any() else None
    if corners is not None:
        a, b = corners[0] * scale, corners[1] * scale
        out["lv_base_width"] = float(np.hypot(*(a - b)))
        distances = np.hypot(*(np.argwhere(lv) * scale - (a + b) / 2).T)
        out["lv_length"] = float(distances.max())
    return out


def attribute_curves(labels: np.ndarray, spacing: tuple[float, float]) -> dict[str, np.ndarray]:
    """``{attribute: (T,) values}`` of a ``(T, rows, cols)`` label series (units of ``frame_attributes``)."""
    per_frame = [frame_attributes(label, spacing) for label in np.asarray(labels)]
    return {name: np.array([f[name] for f in per_frame], dtype=np.float64) for name in ATTRIBUTES}


def consistency_metric(values: np.ndarray, value_range: float) -> np.ndarray:
    """``(T,)`` departure of each frame's scaled value from the mean of its neighbours' (vital's metric).

    ``(v[t] − (v[t−1] + v[t+1]) / 2) / value_range``; 0 at the first and last frames (one neighbour only);
    NaN where the frame or a neighbour is NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    if not value_range > 0:
        raise ValueError(f"the attribute range must be > 0, got {value_range}")
    metric = np.zeros(values.shape, dtype=np.float64)
    if values.size >= 3:
        metric[1:-1] = (values[1:-1] - (values[:-2] + values[2:]) / 2.0) / value_range
    return metric


def temporal_flags(
    labels: np.ndarray,
    spacing: tuple[float, float],
    thresholds: dict[str, float] | None = None,
    ranges: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Frames of a label series that fail the CAMUS authors' temporal-consistency check.

    Args:
        labels: ``(T, rows, cols)`` label maps. spacing: ``(row_mm, col_mm)``.
        thresholds: per attribute (default :data:`THRESHOLDS`, the published ones).
        ranges: range of each attribute in lunet's units (default :func:`camus_ranges`).

    Returns:
        ``{"flagged_frames": [...], "by_attribute": {name: [...]}, "undefined_frames": [...],
        "not_applicable": [names], "worst": {name: largest |metric| / threshold}, "frames": T,
        "source": ...}``; frames are **1-based**. ``flagged_frames`` is the union over attributes and of the
        frames on which an attribute measured on other frames cannot be measured (``undefined_frames``: no
        LV, no myocardium or no base); attributes measurable on no frame are ``not_applicable``.
    """
    thresholds = thresholds or THRESHOLDS
    ranges = ranges or camus_ranges()
    curves = attribute_curves(labels, spacing)
    n = len(next(iter(curves.values())))
    by_attribute: dict[str, list[int]] = {}
    worst: dict[str, float] = {}
    undefined = np.zeros(n, dtype=bool)
    flagged = np.zeros(n, dtype=bool)
    not_applicable = [name for name in ATTRIBUTES if not np.isfinite(curves[name]).any()]
    for name in ATTRIBUTES:
        if name in not_applicable:
            continue
        values = curves[name]
        undefined |= ~np.isfinite(values)
        metric = np.abs(consistency_metric(values, ranges[name]))
        over = np.where(np.isfinite(metric), metric, 0.0) > thresholds[name]
        by_attribute[name] = [int(t) + 1 for t in np.flatnonzero(over)]
        finite = metric[np.isfinite(metric)]
        worst[name] = float(finite.max() / thresholds[name]) if finite.size else float("nan")
        flagged |= over
    flagged |= undefined
    return {
        "flagged_frames": [int(t) + 1 for t in np.flatnonzero(flagged)],
        "by_attribute": by_attribute,
        "undefined_frames": [int(t) + 1 for t in np.flatnonzero(undefined)],
        "not_applicable": not_applicable,
        "worst": worst,
        "frames": n,
        "source": SOURCE,
    }
