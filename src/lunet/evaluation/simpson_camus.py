"""The CAMUS authors' published method of discs (the ``camus`` convention of :mod:`lunet.evaluation.simpson`).

Source read:
``vital/metrics/evaluate/clinical/heart_us.py`` (``compute_left_ventricle_volumes``, ``_compute_diameters``,
``_find_distance_to_edge``) and ``vital/utils/image/transform.py`` (``resize_image_to_isotropic``) in
github.com/vitalab/vital at commit 1fc1b25 (2023-11-16). Implemented here in our own code (vectorised, same
arithmetic, same tie-breaking); ``tests/evaluation/test_simpson_published.py`` checks it against a plain-loop
transcription. The published steps, per mask (all in isotropic pixels until step 8):

1. *Isotropic grid.* The mask is resized with Pillow's nearest-neighbour filter to square pixels of side
   ``s = min(row_mm, col_mm)``; new shape ``round(shape · spacing / s)`` (numpy rounding).
2. *Contour.* ``skimage.measure.find_contours(mask, 0.5)[0]`` — the *first* iso-0.5 contour, on the unpadded
   mask (no component selection, no hole filling). On one blob it starts at the lower right and runs along
   the bottom edge first.
3. *Mitral (base) plane.* Over every pair of contour indices ``j < i`` with ``i ≥ 2``: accepted when the
   earlier point ``c[j]`` lies within 45° of the +column direction seen from ``c[i]``
   (``|atan2(Δrow, Δcol)| ≤ 45°``) and every contour point strictly between them (indices ``j+1 … i−1``, no
   wrap-around past index 0) lies within 8 pixels of the line ``c[i]c[j]``. The longest accepted chord wins;
   ties go to the smallest ``i``, then the smallest ``j`` (first found). No accepted chord: the published code
   fails; here the view is degenerate (NaN volume).
4. *Base point* ``c[m]`` with ``m = j + round((i − j) / 2)`` (Python's round, half to even): a contour point
   in the middle of the mitral arc, i.e. *on the mitral plane*, not inside the cavity.
5. *Apex*: the first contour point farthest from the base point; ``L`` = that distance (pixels).
6. *Discs.* Direction ``D = apex − base`` (not normalised) and the unit normal ``n ⟂ D``. Disc ``k`` is
   centred at ``base + D · f_k`` with ``f_k = numpy.linspace(0, 1, 20, endpoint=False)[k]`` (``k/20``), so
   **the first disc (f = 0) sits on the mitral plane itself**.
7. *Disc width by walking through the mask*, on each side: from 8 px off the axis (to avoid stopping at once
   at the base) in steps of 0.5 px, until the pixel at ``numpy.round(position)`` (half to even) is background
   or outside the image; the width is the sum of the two walk distances × ``s`` mm. A walk never returns less
   than 8 px, so a disc is at least 16 px wide. At ``f = 0`` the centre lies on the contour, so the walk runs
   along or across the edge of the mask and usually leaves it early: 15–16 mm on an analytic half spheroid
   with a 28 mm base, 3.9–7.4 mm on phantom masks (issue 23). The walk is sensitive to the last bit of each
   position (``numpy.round`` ties), which is why our code keeps the published arithmetic order.
8. *Units.* Disc height ``h = L · s / 20`` mm; the patient's height is the **largest h of its four masks**
   (2CH/4CH × ED/ES), shared by EDV and ESV. ``V = π/4 · Σ d2_k · d4_k · h``. The published code converts
   to m³ and returns ``round(V · 10⁶)`` ml (whole ml); **we do not round** (the style's rule: no rounding
   inside), so our volumes are within 0.5 ml of the published ones and EF within the rounding's effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import measure

from lunet.data.preprocess import check_spacing


@dataclass(frozen=True)
class PublishedView:
    """One view measured by the CAMUS authors' published steps (module docstring, ``camus``).

    Pixel coordinates are ``(row, col)`` on the isotropic grid of side ``pixel_mm``.
    """

    contour_px: np.ndarray  # (M, 2) first iso-0.5 contour
    base_px: np.ndarray  # (2,) contour point in the middle of the mitral arc
    apex_px: np.ndarray  # (2,) first contour point farthest from the base
    diameters_mm: np.ndarray  # (n_discs,) walked widths, base (f = 0) to apex
    length_mm: float  # base–apex distance
    pixel_mm: float  # isotropic pixel side


def published_isotropic_mask(mask: np.ndarray, spacing: tuple[float, float]) -> tuple[np.ndarray, float]:
    """Step 1 of ``camus``: Pillow nearest-neighbour resize to square pixels of the smaller spacing.

    Returns:
        ``(uint8 (rows', cols') 0/1 mask, side mm)``; ``(rows', cols') = round(shape · spacing / side)``.
    """
    from PIL import Image

    row_mm, col_mm = check_spacing(spacing)
    side = min(row_mm, col_mm)
    mask = (np.asarray(mask) > 0).astype(np.uint8)
    rows, cols = (np.array(mask.shape) * (np.array([row_mm, col_mm]) / side)).round().astype(int)
    resized = Image.fromarray(mask).resize((int(cols), int(rows)), resample=Image.Resampling.NEAREST)
    return np.asarray(resized, dtype=np.uint8), side


def _published_mitral_chord(contour: np.ndarray, tol_px: float = 8.0) -> tuple[int, int] | None:
    """Step 3 of ``camus``: ``(j, i)`` of the longest accepted chord (module docstring), or None.

    Candidates passing the angle test are ordered by (length desc, i, j), the published tie-breaking; the
    first whose intermediate points all lie within ``tol_px`` of its line is the answer. A cheap exact
    pre-filter (the arc's middle and quartile points must already be within ``tol_px``) spares most checks.
    """
    n = len(contour)
    if n < 3:
        return None
    ii, jj = np.tril_indices(n, k=-1)  # all pairs j < i
    keep = ii >= 2
    ii, jj = ii[keep], jj[keep]
    diff = contour[jj] - contour[ii]
    ok = np.abs(np.degrees(np.arctan2(diff[:, 0], diff[:, 1]))) <= 45
    ii, jj, diff = ii[ok], jj[ok], diff[ok]
    length = np.sqrt(diff[:, 0] * diff[:, 0] + diff[:, 1] * diff[:, 1])
    positive = length > 0  # the published search starts from best length 0 with a strict '<'
    ii, jj, diff, length = ii[positive], jj[positive], diff[positive], length[positive]

    def far(idx: np.ndarray, k: np.ndarray, d: np.ndarray, ln: np.ndarray) -> np.ndarray:
        rel = contour[idx] - contour[k]  # line_point_0 − point, line_point_0 = c[i]
        return np.abs(d[:, 0] * rel[:, 1] - d[:, 1] * rel[:, 0]) / ln > tol_px

    rejected = np.zeros(len(ii), dtype=bool)
    for q in (1, 2, 3):
        probe = jj + 1 + (ii - jj - 2) * q // 4  # an index in j+1 … i−1 when the arc has points
        has = ii - jj >= 2
        rejected |= has & far(ii, np.where(has, probe, ii), diff, length)
    ii, jj, diff, length = ii[~rejected], jj[~rejected], diff[~rejected], length[~rejected]
    for c in np.lexsort((jj, ii, -length)):
        i, j = int(ii[c]), int(jj[c])
        between = contour[j + 1 : i]
        if between.size == 0:
            return j, i
        line = contour[j] - contour[i]
        rel = contour[i] - between
        dist = np.abs(line[0] * rel[:, 1] - line[1] * rel[:, 0]) / np.linalg.norm(line)
        if np.all(dist <= tol_px):
            return j, i
    return None


def _walk_px(mask: np.ndarray, start: np.ndarray, direction: np.ndarray) -> float:
    """Step 7 of ``camus``: distance (8, 8.5, 9 … px) from ``start`` to the first background/outside pixel."""
    reach = 8.0 + 0.5 * np.arange(2 * int(np.hypot(*mask.shape)) + 4)
    pos = np.round(start[None, :] + reach[:, None] * direction[None, :]).astype(int)
    rows, cols = pos[:, 0], pos[:, 1]
    inside = (rows >= 0) & (rows < mask.shape[0]) & (cols >= 0) & (cols < mask.shape[1])
    stop = ~inside
    stop[inside] = mask[rows[inside], cols[inside]] == 0
    return float(reach[int(np.argmax(stop))])


def published_view(mask: np.ndarray, spacing: tuple[float, float], n_discs: int = 20) -> PublishedView | None:
    """One view by the CAMUS authors' published steps (module docstring, ``camus``); None if degenerate.

    Args:
        mask: (rows, cols) LV cavity mask (bool or 0/1; > 0 is the cavity).
        spacing: (row_mm, col_mm).
        n_discs: number of discs (the published code: 20).

    Returns:
        The view's contour, base, apex, disc widths (mm) and axis length (mm); None when the mask is empty,
        has no iso-0.5 contour or no accepted mitral chord (where the published code raises).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"Simpson's method needs a 2-D mask, got shape {mask.shape}")
    if not (mask > 0).any():
        return None
    iso, side = published_isotropic_mask(mask, spacing)
    contours = measure.find_contours(iso.astype(np.float64), 0.5)
    if not contours:
        return None
    contour = contours[0]
    chord = _published_mitral_chord(contour)
    if chord is None:
        return None
    j, i = chord
    base = contour[int(j + round((i - j) / 2))]
    rel = contour - base
    dist = np.sqrt(rel[:, 0] * rel[:, 0] + rel[:, 1] * rel[:, 1])
    apex_index = int(np.argmax(dist))
    if dist[apex_index] <= 0:
        return None
    apex = contour[apex_index]
    direction = apex - base
    normal = np.array([-direction[1], direction[0]])
    normal = normal / np.linalg.norm(normal)
    widths = [
        (_walk_px(iso, base + direction * f, normal) + _walk_px(iso, base + direction * f, -normal)) * side
        for f in np.linspace(0, 1, n_discs, endpoint=False)
    ]
    return PublishedView(
        contour_px=contour,
        base_px=base,
        apex_px=apex,
        diameters_mm=np.array(widths),
        length_mm=float(dist[apex_index]) * side,
        pixel_mm=side,
    )
