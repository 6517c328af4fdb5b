"""Localization accuracy of predicted boxes (LU-Net, TUFFC 2020, Sec. IV-B1 and Table I).

Boxes follow :mod:`lunet.boxes`: normalised ``(x_min, y_min, x_max, y_max)``, ``x`` along columns, pixel
edges. Errors are absolute differences in mm of the box centre ``(x_c, y_c)``, height ``h`` (rows) and width
``w`` (columns), converted with the image shape and the pixel spacing ``(row_mm, col_mm)``.
"""

from __future__ import annotations

import numpy as np

from lunet import boxes
from lunet.data.preprocess import check_spacing

_EPS = 1e-6  # pixels: absorbs float32 rounding of stored boxes


def _box(box: np.ndarray) -> np.ndarray:
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,):
        raise ValueError(f"a box is (x_min, y_min, x_max, y_max), got shape {box.shape}")
    return box


def box_iou(pred_box: np.ndarray, ref_box: np.ndarray) -> float:
    """Intersection over union of two normalised boxes (:func:`lunet.boxes.box_iou`; same value in pixels)."""
    return float(boxes.box_iou(_box(pred_box), _box(ref_box)))


def box_errors_mm(
    pred_box: np.ndarray, ref_box: np.ndarray, shape: tuple[int, int], spacing: tuple[float, float]
) -> dict[str, float]:
    """Absolute errors of a predicted box in mm.

    Args:
        pred_box: normalised ``(x_min, y_min, x_max, y_max)``.
        ref_box: normalised reference box.
        shape: (rows, cols) of the image the boxes refer to.
        spacing: (row_mm, col_mm) pixel size of that image.

    Returns:
        ``{"xc_mm", "yc_mm", "h_mm", "w_mm"}``: errors on the centre column, centre row, height and width.
    """
    row_mm, col_mm = check_spacing(spacing)
    a, b = _box(pred_box), _box(ref_box)
    x_mm = shape[1] * col_mm
    y_mm = shape[0] * row_mm
    return {
        "xc_mm": abs((a[0] + a[2]) - (b[0] + b[2])) / 2.0 * x_mm,
        "yc_mm": abs((a[1] + a[3]) - (b[1] + b[3])) / 2.0 * y_mm,
        "h_mm": abs((a[3] - a[1]) - (b[3] - b[1])) * y_mm,
        "w_mm": abs((a[2] - a[0]) - (b[2] - b[0])) * x_mm,
    }


def bb_out(pred_box: np.ndarray, ref_mask: np.ndarray) -> bool:
    """Whether the predicted box fails to contain every pixel of the reference mask ("BB out").

    Args:
        pred_box: normalised ``(x_min, y_min, x_max, y_max)``.
        ref_mask: (rows, cols) reference mask (the epicardium, LV ∪ myocardium, for LU-Net).

    Returns:
        True if some reference pixel square sticks out of the box (pixel-edge convention, 1e-6 pixel
        tolerance);
        False for an empty reference.
    """
    box = _box(pred_box)
    mask = np.asarray(ref_mask).astype(bool, copy=False)
    if mask.ndim != 2:
        raise ValueError(f"bb_out expects a 2-D mask, got shape {mask.shape}")
    if not mask.any():
        return False
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    inside = (
        box[0] * width <= cols[0] + _EPS
        and box[2] * width >= cols[-1] + 1 - _EPS
        and box[1] * height <= rows[0] + _EPS
        and box[3] * height >= rows[-1] + 1 - _EPS
    )
    return not inside
