"""Shape descriptors of segmented structures (RU-Net, IUS 2019, eqs. 2–3) and topology counts.

- Area in mm²: number of pixels × ``row_mm · col_mm``.
- Perimeter in mm: the total variation ``∫|∇(G_σ * 1_P)|`` of the mask blurred by a Gaussian of σ = 1 pixel,
  with the gradient in mm (``(∂/∂row) / row_mm``, ``(∂/∂col) / col_mm``) and the pixel area ``row_mm ·
  col_mm``, so anisotropic pixels are handled. It is vectorised (no contour tracing) and, unlike the staircase
  length of the pixel contour (+8 % on a disk), unbiased: within 2 % of 2πr for digital disks of radius 3–12
  mm at 0.3 × 0.15 mm pixels; corners are rounded (−5 % on a square) and structures thinner than ~2 pixels are
  under-measured. ``skimage.measure.perimeter`` is not used: it has no spacing argument.
- Convex hull area in mm²: ``scipy.spatial.ConvexHull`` of the outer corners of the first and last pixel of
  every row, in mm: the hull of all pixel squares (hence convexity ≤ 1 exactly). It is never above
  ``skimage.measure.regionprops(...).solidity`` (which rasterises the hull) and lower by at most ~0.3 pixel
  divided by the smallest semi-axis (tested): about 0.004 on the phantom's 256×256 reference LV cavities.
- Simplicity ``Sp = sqrt(4π·A) / P`` and convexity ``Cx = A / A_hull``; both ≈ 1 for a disk. A digital disk
  may give ``Sp`` slightly above 1 (by the perimeter's error); no clipping is applied. Empty masks give NaN.
- Components use 4-connectivity of the foreground; holes are background components (8-connectivity, the dual)
  that do not touch the image border.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from lunet.data.preprocess import check_spacing

_FOUR = ndimage.generate_binary_structure(2, 1)
_SIGMA_PX = 1.0
_EIGHT = ndimage.generate_binary_structure(2, 2)


def _crop(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask).astype(bool, copy=False)
    if mask.ndim != 2:
        raise ValueError(f"shape descriptors need a 2-D mask, got shape {mask.shape}")
    if not mask.any():
        return mask[:0, :0]
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def area_mm2(mask: np.ndarray, spacing: tuple[float, float]) -> float:
    """Area of a (rows, cols) mask in mm² (pixel count × pixel area)."""
    row_mm, col_mm = check_spacing(spacing)
    return float(np.count_nonzero(mask)) * row_mm * col_mm


def perimeter_mm(mask: np.ndarray, spacing: tuple[float, float]) -> float:
    """Perimeter of a (rows, cols) mask in mm: total variation of the mask blurred by a 1-pixel Gaussian.

    Returns 0 for an empty mask (see the module docstring for the accuracy).
    """
    row_mm, col_mm = check_spacing(spacing)
    crop = _crop(mask)
    if crop.size == 0:
        return 0.0
    smooth = ndimage.gaussian_filter(np.pad(crop.astype(np.float64), 4), _SIGMA_PX, truncate=3.0)
    d_row, d_col = np.gradient(smooth)
    return float(np.hypot(d_row / row_mm, d_col / col_mm).sum()) * row_mm * col_mm


def convex_hull_area_mm2(mask: np.ndarray, spacing: tuple[float, float]) -> float:
    """Area in mm² of the convex hull of all pixel squares of a (rows, cols) mask; 0 if empty."""
    scale = np.asarray(check_spacing(spacing))
    crop = _crop(mask)
    if crop.size == 0:
        return 0.0
    # the hull of all pixel squares is the hull of the outer corners of each row's first and last pixel
    rows = np.flatnonzero(crop.any(axis=1))
    first = np.argmax(crop[rows], axis=1)
    last = crop.shape[1] - np.argmax(crop[rows, ::-1], axis=1)
    corners = np.concatenate([np.stack([rows + dr, cols], axis=1) for dr in (0, 1) for cols in (first, last)])
    try:
        return float(ConvexHull(corners.astype(np.float64) * scale).volume)
    except QhullError:  # pragma: no cover - a row's corners are never collinear with the next row's
        return area_mm2(crop, spacing)


def simplicity(mask: np.ndarray, spacing: tuple[float, float]) -> float:
    """Simplicity ``sqrt(4π·A) / P`` of a (rows, cols) mask (1 for a disk); NaN if empty."""
    area = area_mm2(mask, spacing)
    if area == 0:
        return float("nan")
    return math.sqrt(4.0 * math.pi * area) / perimeter_mm(mask, spacing)


def convexity(mask: np.ndarray, spacing: tuple[float, float]) -> float:
    """Convexity ``A / A_hull`` of a (rows, cols) mask, in (0, 1]; NaN if empty."""
    area = area_mm2(mask, spacing)
    if area == 0:
        return float("nan")
    return area / convex_hull_area_mm2(mask, spacing)


def component_count(mask: np.ndarray) -> int:
    """Number of 4-connected foreground components of a (rows, cols) mask."""
    return int(ndimage.label(_crop(mask), structure=_FOUR)[1])


def hole_count(mask: np.ndarray) -> int:
    """Number of background regions (8-connected) fully enclosed by a (rows, cols) mask."""
    crop = _crop(mask)
    if crop.size == 0:
        return 0
    background = np.pad(~crop, 1, constant_values=True)
    n = ndimage.label(background, structure=_EIGHT)[1]
    return int(n - 1)  # the padded frame joins every region touching the border into one


def shape_scores(mask: np.ndarray, spacing: tuple[float, float], prefix: str) -> dict[str, float]:
    """``{prefix}_simplicity``, ``_convexity``, ``_components``, ``_holes`` of one mask (one pass)."""
    area = area_mm2(mask, spacing)
    if area == 0:
        sp = cx = float("nan")
    else:
        sp = math.sqrt(4.0 * math.pi * area) / perimeter_mm(mask, spacing)
        cx = area / convex_hull_area_mm2(mask, spacing)
    return {
        f"{prefix}_simplicity": sp,
        f"{prefix}_convexity": cx,
        f"{prefix}_components": float(component_count(mask)),
        f"{prefix}_holes": float(hole_count(mask)),
    }
