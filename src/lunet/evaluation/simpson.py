"""The method of discs on one LV mask: contour, mitral plane, long axis, disc diameters; three conventions.

Each convention takes the LV cavity mask of one apical view and returns the disc diameters perpendicular to
its long axis and the axis length in mm (:func:`view_discs`); :mod:`lunet.evaluation.clinical` combines the
two views into a volume.

``camus`` — **the CAMUS authors' published code**, step for step: :mod:`lunet.evaluation.simpson_camus`
(the published steps, their source and how they are checked).

``camus-arc`` — lunet's earlier reading of the same procedure (what ``camus`` meant before issue 23): steps
1–2 with skimage's nearest-neighbour resize, the largest component with holes filled and a padded contour;
mitral chord search on the contour resampled ~1 mm apart (with wrap-around); apex = middle of the flat run of
farthest points; discs at ``i/20`` with widths from the outermost contour crossings; and **the first disc
measured just above the highest point of the mitral arc, at full cavity width** (the published walk measures
it on the plane itself). On 12 phantom patients this made EDV/ESV 2–6 % larger than the published code's (up
to 15 ml) and EF up to 1.6 points different. Run configs and commands that say ``camus`` now get the published
procedure; pass ``camus-arc`` for the old numbers.

``geometric`` (our default on data with an analytic truth):

1. *Isotropic geometry without resampling.* The contour is taken on the native grid and its vertices are
   scaled to mm by ``(row_mm, col_mm)``: the same geometry without interpolation loss.
2. *Contour.* The largest 4-connected component, holes filled; its iso-0.5 contour (marching squares).
3. *Mitral plane.* The contour is resampled to points ~1 mm apart (32–200 points). From every point an arc
   grows point by point while it stays within ``straight_tol_mm`` (1 mm) of its chord; among the chords of
   these straight arcs that are within ``max_angle_deg`` (45°) of horizontal (the image column axis), the
   longest is the mitral plane; its midpoint, moved onto the arc's median line, is the base point. If there
   is no such chord, or it is shorter than ``min_base_fraction`` (0.25) × the maximum Feret diameter, the
   cavity is closed (e.g. a full ellipse): the long axis is the maximum Feret diameter, base at its lower end.
4. *Apex.* A pixelated apex is flat, so the axis direction is the mean direction to the contour vertices
   within one pixel of the farthest distance from the base, and ``L`` is the contour's extent along it.
5. *Discs.* ``n_discs`` (20) discs at ``(i + 0.5) / n`` of the axis (midpoint rule, ``disc_position="mid"``):
   0.03 % quadrature error on a half spheroid, where ``"start"`` (``i / n``) over-estimates by 3.4 %.
   Each instant has its own long axis (as in clinical practice); the disc height is ``L / n`` with ``L`` the
   longer of the two views' axes at that instant.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import measure

from lunet.data.preprocess import check_spacing
from lunet.evaluation.simpson_camus import published_view

logger = logging.getLogger(__name__)

#: Simpson conventions: ``geometric`` (per-instant axis, midpoint discs), ``camus`` (the CAMUS authors'
#: published code) and ``camus-arc`` (lunet's earlier variant of it, first disc above the mitral arc).
EF_CONVENTIONS = ("geometric", "camus", "camus-arc")
#: Conventions with one disc height per patient (the largest ``L / n`` of its four masks).
SHARED_HEIGHT_CONVENTIONS = ("camus", "camus-arc")
_FOUR = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class SimpsonOptions:
    """Choices of the method of discs (see the module docstring); :meth:`for_convention` gives each set."""

    convention: str = "geometric"
    n_discs: int = 20
    disc_position: str = "mid"  # "mid": (i + 0.5) / n; "start": i / n
    straight_tol_mm: float = 1.0  # geometric: straightness of the mitral arc
    camus_chord_tol_px: float = 8.0  # camus, camus-arc: straightness of the mitral arc, isotropic pixels
    max_angle_deg: float = 45.0
    point_step_mm: float = 1.0
    min_pixels: int = 4
    min_base_fraction: float = 0.25

    def __post_init__(self) -> None:
        if self.convention not in EF_CONVENTIONS:
            raise ValueError(f"Simpson convention must be one of {EF_CONVENTIONS}, got {self.convention!r}")
        if self.disc_position not in ("mid", "start"):
            raise ValueError(f"disc_position must be 'mid' or 'start', got {self.disc_position!r}")

    @classmethod
    def for_convention(cls, convention: str) -> SimpsonOptions:
        """``geometric``: the defaults; ``camus``, ``camus-arc``: discs at ``i / 20``, one height/patient."""

        if convention in SHARED_HEIGHT_CONVENTIONS:
            return cls(convention=convention, disc_position="start")
        return cls(convention=convention)


@dataclass(frozen=True)
class LongAxis:
    """Geometry of one LV view in mm, coordinates ``(row_mm, col_mm)``."""

    contour_mm: np.ndarray  # (M, 2) closed polygon
    base_mm: np.ndarray  # (2,) mitral-plane midpoint
    apex_mm: np.ndarray  # (2,)
    length_mm: float
    base_disc_offset_mm: float = 0.0  # the disc at the base is measured this far inside the cavity


def lv_contour_mm(mask: np.ndarray, spacing: tuple[float, float], min_pixels: int = 4) -> np.ndarray | None:
    """Outer contour of the largest component of a (rows, cols) mask as an (M, 2) array in mm, or None."""
    scale = np.asarray(check_spacing(spacing))
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


def isotropic_mask(mask: np.ndarray, spacing: tuple[float, float]) -> tuple[np.ndarray, float]:
    """(rows, cols) mask resampled by nearest neighbour to square pixels of the smaller spacing.

    Returns:
        ``(mask (rows', cols') bool, pixel side in mm)`` with ``rows' = round(rows · row_mm / side)``
        (the same for columns).
    """
    from skimage.transform import resize

    row_mm, col_mm = check_spacing(spacing)
    side = min(row_mm, col_mm)
    mask = np.asarray(mask, dtype=bool)
    shape = (max(1, round(mask.shape[0] * row_mm / side)), max(1, round(mask.shape[1] * col_mm / side)))
    if shape == mask.shape:
        return mask, side
    resized = resize(mask.astype(np.uint8), shape, order=0, preserve_range=True, anti_aliasing=False)
    return resized > 0, side


def _resample_closed(points: np.ndarray, step_mm: float) -> np.ndarray:
    closed = points if np.allclose(points[0], points[-1]) else np.vstack([points, points[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    n = int(np.clip(round(arc[-1] / step_mm), 32, 200))
    s = np.linspace(0.0, arc[-1], n, endpoint=False)
    return np.stack([np.interp(s, arc, closed[:, 0]), np.interp(s, arc, closed[:, 1])], axis=1)


def mitral_plane(
    contour_mm: np.ndarray, options: SimpsonOptions, tol_mm: float | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Longest straight, near-horizontal chord of a closed (M, 2) mm contour.

    Every contour point starts an arc that grows one point at a time while it stays within ``tol_mm``
    (default ``options.straight_tol_mm``) of its chord; among the arcs whose chord is within
    ``max_angle_deg`` of horizontal, the one with the longest chord wins.

    Returns:
        ``(ends, arc)``: the chord's (2, 2) end points and the (K, 2) contour points between them, or None.
    """
    tol = options.straight_tol_mm if tol_mm is None else tol_mm
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
        straight = np.abs(cross).max(axis=1) <= tol * np.maximum(length, 1e-12)
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
    """Base (mitral-plane midpoint), apex and long-axis length of an LV mask; None if degenerate.

    Dispatches on ``options.convention`` (module docstring); for ``camus`` the published geometry
    (:func:`lunet.evaluation.simpson_camus.published_view`) with base and apex moved to mm.
    """
    if options.convention == "camus":
        view = published_view(mask, spacing, options.n_discs)
        if view is None:
            return None
        contour = view.contour_px * view.pixel_mm
        base, apex = view.base_px * view.pixel_mm, view.apex_px * view.pixel_mm
        return LongAxis(contour_mm=contour, base_mm=base, apex_mm=apex, length_mm=view.length_mm)
    if options.convention == "camus-arc":
        return _camus_long_axis(mask, spacing, options)
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
        return LongAxis(contour_mm=contour, base_mm=lower, apex_mm=upper, length_mm=feret)
    (start, end), arc = chord
    # The chord's ends may ride up rounded corners: move the midpoint onto the median line of the arc.
    along = (end - start) / np.hypot(*(end - start))
    normal = np.array([-along[1], along[0]])
    base = 0.5 * (start + end) + float(np.median((arc - start) @ normal)) * normal
    dist = np.hypot(*(contour - base).T)
    # A pixelated apex is flat: average the direction over the vertices within one pixel of the farthest.
    near = contour[dist >= dist.max() - max(check_spacing(spacing))] - base
    direction = near.mean(axis=0)
    norm = float(np.hypot(*direction))
    if norm < 1.0:
        return None
    direction = direction / norm
    length = float(((contour - base) @ direction).max())
    return LongAxis(contour_mm=contour, base_mm=base, apex_mm=base + length * direction, length_mm=length)


def _camus_long_axis(
    mask: np.ndarray, spacing: tuple[float, float], options: SimpsonOptions
) -> LongAxis | None:
    iso, side = isotropic_mask(mask, spacing)
    contour = lv_contour_mm(iso, (side, side), options.min_pixels)
    if contour is None:
        return None
    chord = mitral_plane(contour, options, tol_mm=options.camus_chord_tol_px * side)
    if chord is None:
        return None
    arc = chord[1]
    middle = (len(arc) - 1) / 2.0
    base = 0.5 * (arc[math.floor(middle)] + arc[math.ceil(middle)])
    dist = np.hypot(*(contour - base).T)
    far = int(np.argmax(dist))
    if dist[far] < 1.0:
        return None
    # A pixelated apex is a flat run of contour points: the middle of the run within a pixel of the farthest.
    n, ahead, behind = len(dist), 0, 0
    while ahead < n and dist[(far + ahead + 1) % n] >= dist[far] - side:
        ahead += 1
    while behind < n and dist[(far - behind - 1) % n] >= dist[far] - side:
        behind += 1
    apex = contour[(far + (ahead - behind) // 2) % n]
    length = float(np.hypot(*(apex - base)))
    # The disc at the base is measured just above the mitral arc (which may tilt against the axis).
    above_arc = float(((arc - base) @ ((apex - base) / length)).max())
    return LongAxis(contour, base, apex, length, base_disc_offset_mm=max(above_arc, 0.5 * side))


def disc_diameters_mm(axis: LongAxis, options: SimpsonOptions) -> np.ndarray:
    """(n_discs,) diameters in mm of the contour, perpendicular to the long axis, base to apex.

    Disc ``i`` lies at ``(i + 0.5) / n`` (``"mid"``) or ``i / n`` (``"start"``) of the axis, at least
    ``axis.base_disc_offset_mm`` from the base; its diameter is the distance between the outermost crossings
    of the disc line with the contour (0 without two). Not for ``camus``, whose widths are walked through the
    mask: use :func:`view_discs`.
    """
    if options.convention == "camus":
        raise ValueError(
            "camus disc widths are walked through the mask: call view_discs(mask, spacing, options)"
        )
    offset = 0.5 if options.disc_position == "mid" else 0.0
    fractions = (np.arange(options.n_discs) + offset) / options.n_discs
    u = (axis.apex_mm - axis.base_mm) / axis.length_mm
    v = np.array([-u[1], u[0]])
    rel = axis.contour_mm - axis.base_mm
    s, t = rel @ u, rel @ v
    s0, s1, t0, t1 = s[:-1], s[1:], t[:-1], t[1:]
    level = np.maximum(fractions * axis.length_mm, axis.base_disc_offset_mm)[:, None]  # (n, 1)
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


def view_discs(
    mask: np.ndarray, spacing: tuple[float, float], options: SimpsonOptions
) -> tuple[np.ndarray, float] | None:
    """``(diameters (n_discs,) mm base to apex, long-axis length mm)`` of one view, or None if degenerate.

    Args:
        mask: (rows, cols) LV cavity mask (bool or 0/1).
        spacing: (row_mm, col_mm).
        options: the convention and its choices (module docstring).
    """
    if options.convention == "camus":
        view = published_view(mask, spacing, options.n_discs)
        return None if view is None else (view.diameters_mm, view.length_mm)
    axis = long_axis(mask, spacing, options)
    if axis is None:
        return None
    return disc_diameters_mm(axis, options), axis.length_mm
