"""Clinical indices: LV volumes by Simpson's biplane method of discs, ejection fraction, agreement statistics.

Simpson's biplane rule (LU-Net, TUFFC 2020, Sec. IV-B3, ref. [22]) on the LV cavity masks of the apical 2CH
and 4CH views at one instant. Our choices, checked against analytic spheroid volumes in ``tests/evaluation``:

1. *Isotropic geometry.* Instead of resampling the mask to isotropic pixels, the contour is taken on the
   native grid and its vertices are scaled to mm by ``(row_mm, col_mm)``: the same geometry without
   interpolation loss.
2. *Contour.* The largest 4-connected component, holes filled; its iso-0.5 contour (marching squares).
3. *Mitral plane.* The contour is resampled to points ~1 mm apart (32–200 points). From every point an arc
   grows point by point while it stays within ``straight_tol_mm`` (1 mm, "a few pixels") of its chord; among
   the chords of these straight arcs that are within ``max_angle_deg`` (45°) of horizontal (the image column
   axis), the longest is the mitral plane; its midpoint is the base point. If there is no such chord, or it is
   shorter than ``min_base_fraction`` (0.25) × the maximum Feret diameter, the cavity is closed (e.g. a full
   ellipse): the long axis is then the maximum Feret diameter, base at its lower end (larger row), and step 4
   is skipped.
4. *Apex.* The contour vertex farthest from the base point. A pixelated apex is flat, so the axis direction is
   the mean direction to the vertices within one pixel of that maximum distance, and ``L`` is the contour's
   extent along that direction (the apex is the axis point at ``L``).
5. *Discs.* ``n_discs`` (20) discs perpendicular to the long axis. Disc ``i`` is measured at fraction ``(i +
   0.5) / n`` of the axis from the base (midpoint rule, ``disc_position="mid"``, our default) or at ``i / n``
   (``"start"``, the convention quoted in method-notes). The quadrature error of the midpoint rule is 0.03 %
   on a half spheroid cut at its equator (an LV-like shape), where ``"start"`` over-estimates by 3.4 %; on a
   full spheroid both are within 0.5 %. The diameter is the distance between the outermost crossings of the
   disc line with the contour.
6. *Volume.* ``V = π/4 · Σ d2_i · d4_i · L / n`` with ``L`` the longer of the two long axes; mm³ → ml (/1000).

Degenerate masks (empty, fewer than 4 pixels, long axis under 1 mm) give NaN and a logged warning.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import measure

from lunet.evaluation.segmentation import _spacing

logger = logging.getLogger(__name__)

_FOUR = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class SimpsonOptions:
    """Choices of the method of discs (see the module docstring)."""

    n_discs: int = 20
    disc_position: str = "mid"  # "mid": (i + 0.5) / n; "start": i / n
    straight_tol_mm: float = 1.0
    max_angle_deg: float = 45.0
    point_step_mm: float = 1.0
    min_pixels: int = 4
    min_base_fraction: float = 0.25


@dataclass(frozen=True)
class LongAxis:
    """Geometry of one LV view in mm, coordinates ``(row_mm, col_mm)``."""

    contour_mm: np.ndarray  # (M, 2) closed polygon
    base_mm: np.ndarray  # (2,) mitral-plane midpoint
    apex_mm: np.ndarray  # (2,)
    length_mm: float


def lv_contour_mm(mask: np.ndarray, spacing: tuple[float, float], min_pixels: int = 4) -> np.ndarray | None:
    """Outer contour of the largest component of a (rows, cols) mask as an (M, 2) array in mm, or None."""
    scale = np.asarray(_spacing(spacing))
    mask = np.asarray(mask).astype(bool, copy=False)
    if mask.ndim != 2:
        raise ValueError(f"Simpson's method needs a 2-D mask, got shape {mask.shape}")
    if not mask.any():
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    mask = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    labels = ndimage.label(mask, structure=_FOUR)[0]
    sizes = np.bincount(labels.ravel())[1:]
    if sizes.max() < min_pixels:
        return None
    component = ndimage.binary_fill_holes(labels == int(np.argmax(sizes)) + 1)
    lines = measure.find_contours(np.pad(component.astype(np.float64), 1), 0.5)
    line = max(lines, key=len)
    return (line - 1.0 + np.array([rows[0], cols[0]])) * scale


def _resample_closed(points: np.ndarray, step_mm: float) -> np.ndarray:
    closed = points if np.allclose(points[0], points[-1]) else np.vstack([points, points[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    n = int(np.clip(round(arc[-1] / step_mm), 32, 200))
    s = np.linspace(0.0, arc[-1], n, endpoint=False)
    return np.stack([np.interp(s, arc, closed[:, 0]), np.interp(s, arc, closed[:, 1])], axis=1)


def mitral_plane(contour_mm: np.ndarray, options: SimpsonOptions) -> tuple[np.ndarray, np.ndarray] | None:
    """Longest straight, near-horizontal chord of a closed (M, 2) mm contour.

    Every contour point starts an arc that grows one point at a time while it stays within
    ``straight_tol_mm`` of its chord; among the arcs whose chord is within ``max_angle_deg`` of horizontal,
    the one with the longest chord wins.

    Returns:
        ``(ends, arc)``: the chord's (2, 2) end points and the (K, 2) contour points between them, or None.
    """
    pts = _resample_closed(contour_mm, options.point_step_mm)
    n = len(pts)
    tan_limit = math.tan(math.radians(options.max_angle_deg))
    alive = np.arange(n)
    best_len, best = -1.0, None
    for k in range(2, n // 2 + 1):
        if alive.size == 0:
            break
        arc = pts[(alive[:, None] + np.arange(k + 1)[None, :]) % n]  # (a, k + 1, 2)
        chord = arc[:, -1] - arc[:, 0]
        length = np.hypot(chord[:, 0], chord[:, 1])
        rel = arc[:, 1:-1] - arc[:, :1]
        cross = chord[:, None, 0] * rel[..., 1] - chord[:, None, 1] * rel[..., 0]
        straight = np.abs(cross).max(axis=1) <= options.straight_tol_mm * np.maximum(length, 1e-12)
        flat = np.abs(chord[:, 0]) <= tan_limit * np.abs(chord[:, 1]) + 1e-12
        candidates = np.where(straight & flat, length, -1.0)
        j = int(np.argmax(candidates))
        if candidates[j] > best_len:
            best_len, best = float(candidates[j]), (int(alive[j]), k)
        alive = alive[straight]
    if best is None:
        return None
    arc = pts[(best[0] + np.arange(best[1] + 1)) % n]
    return np.stack([arc[0], arc[-1]]), arc


def long_axis(mask: np.ndarray, spacing: tuple[float, float], options: SimpsonOptions) -> LongAxis | None:
    """Base (mitral-plane midpoint), apex and long-axis length of an LV mask; None if degenerate."""
    contour = lv_contour_mm(mask, spacing, options.min_pixels)
    if contour is None:
        return None
    chord = mitral_plane(contour, options)
    pts = _resample_closed(contour, options.point_step_mm)
    pair = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    i, j = np.unravel_index(np.argmax(pair), pair.shape)
    feret = float(pair[i, j])
    if chord is None or np.hypot(*(chord[0][1] - chord[0][0])) < options.min_base_fraction * feret:
        # No mitral plane: a closed cavity; long axis = maximum Feret diameter, base at its lower end.
        logger.debug(
            "no mitral chord of at least %.2f x the Feret diameter; treating the LV as closed",
            options.min_base_fraction,
        )
        lower, upper = (pts[i], pts[j]) if pts[i][0] >= pts[j][0] else (pts[j], pts[i])
        length = float(feret)
        return LongAxis(contour_mm=contour, base_mm=lower, apex_mm=upper, length_mm=length)
    (start, end), arc = chord
    # The chord's ends may ride up rounded corners: move the midpoint onto the median line of the arc.
    along = (end - start) / np.hypot(*(end - start))
    normal = np.array([-along[1], along[0]])
    base = 0.5 * (start + end) + float(np.median((arc - start) @ normal)) * normal
    dist = np.hypot(*(contour - base).T)
    # A pixelated apex is flat: average the direction over the vertices within one pixel of the farthest.
    near = contour[dist >= dist.max() - max(_spacing(spacing))] - base
    direction = near.mean(axis=0)
    norm = float(np.hypot(*direction))
    if norm < 1.0:
        return None
    direction = direction / norm
    length = float(((contour - base) @ direction).max())
    apex = base + length * direction
    return LongAxis(contour_mm=contour, base_mm=base, apex_mm=apex, length_mm=length)


def disc_diameters_mm(axis: LongAxis, options: SimpsonOptions) -> np.ndarray:
    """(n_discs,) diameters in mm of the contour, perpendicular to the long axis, base to apex."""
    if options.disc_position not in ("mid", "start"):
        raise ValueError(f"disc_position must be 'mid' or 'start', got {options.disc_position!r}")
    offset = 0.5 if options.disc_position == "mid" else 0.0
    fractions = (np.arange(options.n_discs) + offset) / options.n_discs
    u = (axis.apex_mm - axis.base_mm) / axis.length_mm
    v = np.array([-u[1], u[0]])
    rel = axis.contour_mm - axis.base_mm
    s, t = rel @ u, rel @ v
    s0, s1, t0, t1 = s[:-1], s[1:], t[:-1], t[1:]
    level = fractions[:, None] * axis.length_mm  # (n, 1)
    lo, hi = np.minimum(s0, s1), np.maximum(s0, s1)
    crosses = (lo <= level) & (level < hi)  # (n, edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = (level - s0) / (s1 - s0)
    tc = np.where(crosses, t0 + w * (t1 - t0), np.nan)
    has = crosses.sum(axis=1) >= 2
    diam = np.zeros(options.n_discs)
    if has.any():
        diam[has] = np.nanmax(tc[has], axis=1) - np.nanmin(tc[has], axis=1)
    return diam


def simpson_biplane_ml(
    mask_2ch: np.ndarray,
    spacing_2ch: tuple[float, float],
    mask_4ch: np.ndarray,
    spacing_4ch: tuple[float, float],
    options: SimpsonOptions | None = None,
) -> float:
    """LV volume in ml by Simpson's biplane method of discs.

    Args:
        mask_2ch: (rows, cols) LV cavity mask of the apical 2-chamber view.
        spacing_2ch: (row_mm, col_mm) of the 2CH image.
        mask_4ch: (rows, cols) LV cavity mask of the apical 4-chamber view.
        spacing_4ch: (row_mm, col_mm) of the 4CH image.
        options: method choices; :class:`SimpsonOptions` defaults when None.

    Returns:
        Volume in ml; NaN (with a warning) when a mask is degenerate.
    """
    options = options or SimpsonOptions()
    axes = []
    for name, mask, spacing in (("2CH", mask_2ch, spacing_2ch), ("4CH", mask_4ch, spacing_4ch)):
        axis = long_axis(mask, spacing, options)
        if axis is None:
            logger.warning(
                "Simpson: degenerate %s LV mask (empty or under %d pixels); volume is NaN",
                name,
                options.min_pixels,
            )
            return float("nan")
        axes.append(axis)
    d2, d4 = (disc_diameters_mm(axis, options) for axis in axes)
    length = max(axes[0].length_mm, axes[1].length_mm)
    volume_mm3 = math.pi / 4.0 * float(np.sum(d2 * d4)) * length / options.n_discs
    return volume_mm3 / 1000.0


def ejection_fraction_percent(edv_ml: float, esv_ml: float) -> float:
    """EF = (EDV − ESV) / EDV in %; NaN when EDV is not positive or either volume is NaN."""
    if not (edv_ml > 0) or not np.isfinite(esv_ml):
        return float("nan")
    return 100.0 * (edv_ml - esv_ml) / edv_ml


@dataclass(frozen=True)
class Agreement:
    """Agreement of paired measurements: predicted − reference."""

    n: int
    corr: float  # Pearson correlation
    bias: float  # mean difference
    sd: float  # standard deviation of the differences (ddof=1)
    loa_low: float  # bias − 1.96·sd
    loa_high: float  # bias + 1.96·sd
    mae: float  # mean absolute difference


def agreement(predicted: np.ndarray, reference: np.ndarray) -> Agreement:
    """Pearson correlation, bias ± 1.96·SD limits of agreement and MAE over the pairs where both are finite.

    Args:
        predicted: (N,) values (e.g. EDV in ml).
        reference: (N,) reference values in the same unit.

    Returns:
        :class:`Agreement`; NaN fields where undefined (fewer than 2 pairs, or zero variance for ``corr``).
    """
    p = np.asarray(predicted, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    if p.shape != r.shape:
        raise ValueError(f"agreement needs paired values, got {p.shape} and {r.shape}")
    keep = np.isfinite(p) & np.isfinite(r)
    p, r = p[keep], r[keep]
    n = int(p.size)
    nan = float("nan")
    if n == 0:
        return Agreement(0, nan, nan, nan, nan, nan, nan)
    diff = p - r
    bias = float(diff.mean())
    sd = float(diff.std(ddof=1)) if n > 1 else nan
    corr = nan
    if n > 1 and p.std() > 0 and r.std() > 0:
        corr = float(np.corrcoef(p, r)[0, 1])
    return Agreement(n, corr, bias, sd, bias - 1.96 * sd, bias + 1.96 * sd, float(np.abs(diff).mean()))
