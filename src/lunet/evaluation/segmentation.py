"""Segmentation accuracy: Dice, mean absolute contour distance ``d_m`` and Hausdorff distance ``d_H``.

Definitions (LU-Net, TUFFC 2020, Sec. IV-B2; CAMUS, TMI 2019):

- The *contour* of a mask is its set of boundary pixels: foreground pixels with at least one 4-neighbour in
  the background (``mask & ~binary_erosion(mask)``, the image border counts as background). This is the
  surface definition of MedPy (``connectivity=1``), so the values agree with ``medpy.metric.binary.assd`` /
  ``hd``.
- Distances between pixel centres in mm, exact nearest neighbours (``scipy.spatial.cKDTree``) between the two
  contour point sets scaled by ``spacing``: the same numbers as ``distance_transform_edt(~contour,
  sampling=spacing)`` read at the other contour's pixels, but faster (only contour pixels are touched).
- ``d_m`` is symmetric: the mean over the pooled distances of both directions (every contour pixel of the
  prediction to the reference contour and vice versa), as MedPy's ``assd`` and MONAI's symmetric
  ``compute_average_surface_distance`` compute it.
- ``d_H`` is symmetric: the larger of the two directed maxima.

Edge cases (style rule 6): both masks empty → Dice NaN and distances NaN (nothing to compare); exactly one
empty → Dice 0.0 and distances NaN (no contour to measure to). :func:`dice_from_counts` and
:func:`iou_from_counts` hold the empty rule for every Dice and IoU of lunet (evaluation and the training's
validation metrics): a score of 1 for two empty masks would count a frame without the structure as a
perfect segmentation and lift the mean by frames that say nothing about the network; NaN leaves them out of
every mean (aggregations skip NaN), and one empty mask against a non-empty one scores 0. The outlier rules
count a NaN distance as an outlier (see :mod:`lunet.evaluation.outliers`).

Speed: the contours are extracted on the union bounding box of both masks plus a one-pixel margin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from lunet.data.labels import Label, Structure, structure_mask
from lunet.data.preprocess import check_spacing

#: Structures scored by :func:`segmentation_scores`, with their column prefix.
SEGMENTATION_STRUCTURES: tuple[Structure, ...] = (Structure.LV_ENDO, Structure.LV_EPI)


def _pair(pred: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred).astype(bool, copy=False)
    ref = np.asarray(ref).astype(bool, copy=False)
    if pred.ndim != 2 or pred.shape != ref.shape:
        raise ValueError(f"masks must be 2-D and of the same shape, got {pred.shape} and {ref.shape}")
    return pred, ref


def dice_from_counts(intersection: Any, pred_size: Any, ref_size: Any) -> Any:
    """Dice ``2|P∩R| / (|P|+|R|)`` from pixel counts, elementwise; NaN where both masks are empty.

    Args:
        intersection, pred_size, ref_size: counts ``|P∩R|``, ``|P|``, ``|R|`` as numpy arrays or torch tensors
            of one shape (e.g. ``(B,)`` per image).

    Returns:
        float Dice of that shape and array type.
    """
    total = pred_size + ref_size
    return _nan_where_empty(2.0 * intersection, total, total == 0)


def iou_from_counts(intersection: Any, union: Any) -> Any:
    """IoU ``|A∩B| / |A∪B|`` from areas (pixel counts or normalised box areas), elementwise; NaN where the
    union is empty (numpy arrays or torch tensors)."""
    return _nan_where_empty(intersection, union, union <= 0)


def _nan_where_empty(numerator: Any, denominator: Any, empty: Any) -> Any:
    """``numerator / denominator`` with NaN where ``empty`` (numpy arrays or torch tensors)."""
    ratio = numerator / (denominator + empty)
    if hasattr(ratio, "masked_fill"):  # torch
        return ratio.masked_fill(empty, float("nan"))
    return np.where(empty, np.nan, ratio)


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice overlap ``2|P∩R| / (|P|+|R|)`` of two masks.

    Args:
        pred: (rows, cols) mask, non-zero = inside.
        ref: (rows, cols) mask of the same shape.

    Returns:
        Dice in [0, 1]; NaN when both masks are empty; 0.0 when exactly one is empty.
    """
    pred, ref = _pair(pred, ref)
    counts = (np.array(float(np.count_nonzero(m))) for m in (pred & ref, pred, ref))
    return float(dice_from_counts(*counts))


def contour(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a mask: (rows, cols) bool, foreground pixels with a 4-neighbour outside the mask."""
    mask = np.asarray(mask).astype(bool, copy=False)
    padded = np.pad(mask, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def _crop_union(pred: np.ndarray, ref: np.ndarray, margin: int = 1) -> tuple[np.ndarray, np.ndarray]:
    union = pred | ref
    rows = np.flatnonzero(union.any(axis=1))
    cols = np.flatnonzero(union.any(axis=0))
    r0, r1 = max(rows[0] - margin, 0), min(rows[-1] + margin + 1, union.shape[0])
    c0, c1 = max(cols[0] - margin, 0), min(cols[-1] + margin + 1, union.shape[1])
    return pred[r0:r1, c0:c1], ref[r0:r1, c0:c1]


def directed_contour_distances(
    pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from each contour pixel of one mask to the nearest contour pixel of the other.

    Args:
        pred: (rows, cols) mask.
        ref: (rows, cols) mask of the same shape.
        spacing: (row_mm, col_mm) pixel size.

    Returns:
        ``(pred_to_ref, ref_to_pred)``: 1-D float64 arrays in mm; both empty when either mask is empty.
    """
    pred, ref = _pair(pred, ref)
    sampling = check_spacing(spacing)
    if not pred.any() or not ref.any():
        return np.empty(0), np.empty(0)
    pred, ref = _crop_union(pred, ref)
    scale = np.asarray(sampling)
    pred_pts = np.argwhere(contour(pred)) * scale
    ref_pts = np.argwhere(contour(ref)) * scale
    to_ref = cKDTree(ref_pts).query(pred_pts)[0]
    to_pred = cKDTree(pred_pts).query(ref_pts)[0]
    return to_ref, to_pred


def mean_absolute_distance_mm(pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, float]) -> float:
    """Symmetric mean contour-to-contour distance ``d_m`` in mm (mean of the pooled two-way distances).

    Args:
        pred: (rows, cols) mask.
        ref: (rows, cols) mask of the same shape.
        spacing: (row_mm, col_mm) pixel size.

    Returns:
        ``d_m`` in mm; NaN when either mask is empty.
    """
    return _mad_from(*directed_contour_distances(pred, ref, spacing))


def hausdorff_mm(pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, float]) -> float:
    """Symmetric Hausdorff distance ``d_H`` between the contours, in mm.

    Args:
        pred: (rows, cols) mask.
        ref: (rows, cols) mask of the same shape.
        spacing: (row_mm, col_mm) pixel size.

    Returns:
        ``d_H`` in mm; NaN when either mask is empty.
    """
    return _hd_from(*directed_contour_distances(pred, ref, spacing))


def _mad_from(to_ref: np.ndarray, to_pred: np.ndarray) -> float:
    """``d_m`` from the two directed distance sets (NaN when a mask was empty)."""
    return float("nan") if to_ref.size == 0 else float(np.concatenate([to_ref, to_pred]).mean())


def _hd_from(to_ref: np.ndarray, to_pred: np.ndarray) -> float:
    """``d_H`` from the two directed distance sets (NaN when a mask was empty)."""
    return float("nan") if to_ref.size == 0 else max(float(to_ref.max()), float(to_pred.max()))


def segmentation_scores(
    pred_labels: np.ndarray, ref_labels: np.ndarray, spacing: tuple[float, float]
) -> dict[str, float]:
    """Dice, ``d_m`` and ``d_H`` of LV_Endo and LV_Epi for one pair of label maps.

    Args:
        pred_labels: (rows, cols) integer label map (CAMUS labels).
        ref_labels: (rows, cols) reference label map on the same grid.
        spacing: (row_mm, col_mm) pixel size.

    Returns:
        ``{"lv_endo_dice", "lv_endo_mad_mm", "lv_endo_hd_mm", "lv_epi_dice", ...}``.
    """
    pred_labels, ref_labels = np.asarray(pred_labels), np.asarray(ref_labels)
    if pred_labels.shape != ref_labels.shape:
        raise ValueError(f"label maps differ in shape: {pred_labels.shape} vs {ref_labels.shape}")
    scores: dict[str, float] = {}
    for structure in SEGMENTATION_STRUCTURES:
        pred = np.asarray(structure_mask(pred_labels, structure))
        ref = np.asarray(structure_mask(ref_labels, structure))
        a, b = directed_contour_distances(pred, ref, spacing)
        key = structure.value
        scores[f"{key}_dice"] = dice(pred, ref)
        scores[f"{key}_mad_mm"] = _mad_from(a, b)
        scores[f"{key}_hd_mm"] = _hd_from(a, b)
    return scores


def atrium_scores(
    pred_labels: np.ndarray, ref_labels: np.ndarray, spacing: tuple[float, float]
) -> dict[str, float]:
    """Dice, ``d_m`` and ``d_H`` of the left atrium (label 3) for one pair of label maps.

    The CAMUS challenge's LA scores; not part of the papers' Tables I–IV. Score only a model trained on the
    LA: one that never outputs label 3 would get Dice 0 here, a meaningless number (the evaluation leaves
    its LA columns NaN instead).

    Args:
        pred_labels: (rows, cols) integer label map (CAMUS labels).
        ref_labels: (rows, cols) reference label map on the same grid.
        spacing: (row_mm, col_mm) pixel size.

    Returns:
        ``{"la_dice", "la_mad_mm", "la_hd_mm"}``; Dice NaN when both are empty, distances NaN when either is.
    """
    pred_labels, ref_labels = np.asarray(pred_labels), np.asarray(ref_labels)
    if pred_labels.shape != ref_labels.shape:
        raise ValueError(f"label maps differ in shape: {pred_labels.shape} vs {ref_labels.shape}")
    pred, ref = pred_labels == Label.LA, ref_labels == Label.LA
    a, b = directed_contour_distances(pred, ref, spacing)
    return {"la_dice": dice(pred, ref), "la_mad_mm": _mad_from(a, b), "la_hd_mm": _hd_from(a, b)}
