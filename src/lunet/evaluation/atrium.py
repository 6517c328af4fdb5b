"""Left-atrium volume by the biplane area–length method (the ASE convention), from CAMUS label maps.

The LA is largest at ventricular end-systole, where its volume is measured (``la_esv_ml``). lunet uses the
biplane **area–length** method, not Simpson's discs:

    V = 8 / (3π) · A_4C · A_2C / L        (mm³; ÷ 1000 → ml)

with ``A_4C``, ``A_2C`` the LA areas of the apical four- and two-chamber views and ``L`` the *shorter* of the
two views' long axes (Lang et al., "Recommendations for cardiac chamber quantification by echocardiography in
adults", J Am Soc Echocardiogr 2015;28:1–39, Sec. 4, which recommends area–length or biplane discs; the
shorter length is the ASE convention). The formula is exact for an ellipsoid: with semi-axes ``a`` (long),
``b``, ``c``, the two apical sections are ``πab`` and ``πac`` and ``L = 2a``, so ``V = 4/3·πabc``; it is exact
for a half ellipsoid cut at its widest section (the mitral plane) too: ``πab/2``, ``πac/2``, ``L = a``,
``V = 2/3·πabc``.

One view's long axis (:func:`atrium_long_axis_mm`): from the midpoint of the mitral plane — the LA pixels that
border the LV cavity (the valve opening; the LV ∪ myocardium when the LA borders no cavity pixel) — to the
farthest LA point (the atrial roof), as the ASE measures it. A label map with an LA but no ventricle (the
made shapes of the tests) takes the largest extent of the LA instead (its maximal Feret diameter). Lengths
are measured between pixel centres and lengthened by the pixel's extent along the axis, so that a mask's
length is its edge-to-edge length.

Pure functions, ``spacing`` ``(row_mm, col_mm)`` required; an empty LA gives NaN. The phantom's LA
(:class:`lunet.data.synthetic.anatomy.Atrium`) is not one 3-D ellipsoid — each view's ellipse is widened and
moved to span that view's annulus — so it has no analytic volume; the known-answer tests use made shapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from lunet.data.labels import Label

#: mm³ per ml.
_MM3_PER_ML = 1000.0
#: Factor of the area–length formula, 8 / (3π).
AREA_LENGTH_FACTOR = 8.0 / (3.0 * math.pi)
METHOD = "biplane area-length, V = 8/(3π)·A4C·A2C/L, L the shorter long axis (ASE 2015)"


def _check(label_map: np.ndarray, spacing: tuple[float, float]) -> tuple[np.ndarray, tuple[float, float]]:
    label_map = np.asarray(label_map)
    if label_map.ndim != 2:
        raise ValueError(f"expected a (rows, cols) label map, got shape {label_map.shape}")
    row_mm, col_mm = (float(v) for v in spacing)
    if not (row_mm > 0 and col_mm > 0):
        raise ValueError(f"spacing must be positive (row_mm, col_mm), got {spacing}")
    return label_map, (row_mm, col_mm)


def atrium_area_mm2(label_map: np.ndarray, spacing: tuple[float, float]) -> float:
    """Area of the LA (label 3) in mm²; 0 without LA pixels.

    Args:
        label_map: (rows, cols) CAMUS labels.
        spacing: (row_mm, col_mm).
    """
    label_map, (row_mm, col_mm) = _check(label_map, spacing)
    return float(np.count_nonzero(label_map == Label.LA)) * row_mm * col_mm


def _extent_along(direction: np.ndarray, spacing: tuple[float, float]) -> float:
    """Length (mm) of one pixel's footprint along the unit vector ``direction`` (rows, cols in mm)."""
    return abs(float(direction[0])) * spacing[0] + abs(float(direction[1])) * spacing[1]


def _mitral_points(label_map: np.ndarray, la: np.ndarray) -> np.ndarray:
    """(rows, cols) bool: LA pixels that 4-border the LV cavity (else LV ∪ myocardium), maybe empty."""
    from scipy import ndimage

    for labels in ((Label.LV,), (Label.LV, Label.MYO)):
        ventricle = np.isin(label_map, [int(v) for v in labels])
        if ventricle.any():
            touching = la & ndimage.binary_dilation(ventricle)
            if touching.any():
                return touching
    return np.zeros_like(la)


def _feret_mm(points: np.ndarray, spacing: tuple[float, float]) -> float:
    """Largest distance (mm) between points ``(n, 2)`` in mm, plus the pixel extent along it."""
    if len(points) < 2:
        return min(spacing)
    try:
        from scipy.spatial import ConvexHull

        hull = points[ConvexHull(points).vertices]
    except Exception:  # collinear points (a one-pixel-wide line): every point is on the hull
        hull = points
    diff = hull[:, None, :] - hull[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
    length = float(dist[i, j])
    return length + _extent_along((hull[i] - hull[j]) / max(length, 1e-12), spacing)


def atrium_long_axis_mm(label_map: np.ndarray, spacing: tuple[float, float]) -> float:
    """LA long axis of one apical view in mm: mitral-plane midpoint → farthest LA point (see the module
    docstring); the largest extent of the LA when it borders no ventricle; NaN without LA pixels.

    Args:
        label_map: (rows, cols) CAMUS labels.
        spacing: (row_mm, col_mm).
    """
    label_map, spacing = _check(label_map, spacing)
    la = label_map == Label.LA
    if not la.any():
        return math.nan
    scale = np.asarray(spacing, dtype=np.float64)
    points = np.argwhere(la).astype(np.float64) * scale
    mitral = _mitral_points(label_map, la)
    if not mitral.any():
        return _feret_mm(points, spacing)
    centre = np.argwhere(mitral).astype(np.float64).mean(axis=0) * scale
    offsets = points - centre
    dist = np.sqrt((offsets**2).sum(axis=1))
    far = int(np.argmax(dist))
    length = float(dist[far])
    if length == 0.0:
        return min(spacing)
    return length + _extent_along(offsets[far] / length, spacing)


def area_length_ml(area_4c_mm2: float, area_2c_mm2: float, length_mm: float) -> float:
    """Biplane area–length volume ``8/(3π)·A4C·A2C/L`` in ml (NaN when an input is not positive)."""
    if not (area_4c_mm2 > 0 and area_2c_mm2 > 0 and length_mm > 0):
        return math.nan
    return AREA_LENGTH_FACTOR * area_4c_mm2 * area_2c_mm2 / length_mm / _MM3_PER_ML


ViewLabels = tuple[np.ndarray, tuple[float, float]]


def la_volume_ml(a4c: ViewLabels, a2c: ViewLabels) -> float:
    """LA volume (ml) of one instant by biplane area–length, from the label maps of both apical views.

    Args:
        a4c: ``(label map (rows, cols), spacing (row_mm, col_mm))`` of the four-chamber view.
        a2c: the same for the two-chamber view (its own grid and spacing).

    Returns:
        ``8/(3π)·A4C·A2C/L`` with ``L`` the shorter of the two long axes; NaN when either view has no LA.
    """
    areas = [atrium_area_mm2(*view) for view in (a4c, a2c)]
    if min(areas) <= 0:
        return math.nan
    length = min(atrium_long_axis_mm(*view) for view in (a4c, a2c))
    return area_length_ml(areas[0], areas[1], length)


def patient_la_volumes(label_maps: Mapping[tuple[str, str], ViewLabels]) -> dict[str, float]:
    """``{"la_esv_ml": LA volume at end-systole}`` of one patient (NaN without both ES views).

    Args:
        label_maps: ``{(view, instant): (label map, spacing)}`` with views ``"2CH"``/``"4CH"`` and instants
            ``"ED"``/``"ES"`` (CAMUS tokens); other entries are ignored.
    """
    a4c, a2c = label_maps.get(("4CH", "ES")), label_maps.get(("2CH", "ES"))
    if a4c is None or a2c is None:
        return {"la_esv_ml": math.nan}
    return {"la_esv_ml": la_volume_ml(a4c, a2c)}
