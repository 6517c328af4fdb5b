"""Scatterers that move with the heart through a sequence, so speckle decorrelates slowly as in real cine.

The scatterer field of a view is drawn once, on its polar grid, in the configuration of the first frame
(ED). In a later frame, every sample of the heart (cavities, myocardium, pericardium, LA wall) takes the
scatterer of its *material point* at ED: the apex is fixed, the base moves along the long axis with the
mitral plane, and the wall scales radially with the epicardium. Tissue around the heart does not move.
"""

from __future__ import annotations

import numpy as np

from lunet.data.synthetic.geometry import Placement, to_probe_frame
from lunet.data.synthetic.slices import ViewShape


def material_coordinates(
    u: np.ndarray, w: np.ndarray, ref: ViewShape, cur: ViewShape
) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(u, w)`` (mm) of frame ``cur`` → where the same tissue was in frame ``ref``.

    Below the mitral plane: ``w`` scales with the long axis (apex fixed), ``u`` about the centreline with
    the epicardial half width. Above it (atrium): a translation with the mitral plane.
    """
    below = w <= cur.length_mm
    w_ref = np.where(below, w * (ref.length_mm / cur.length_mm), w + (ref.length_mm - cur.length_mm))
    scale_u = (ref.radius_mm + ref.wall_mm) / (cur.radius_mm + cur.wall_mm)
    wn = np.clip(w / cur.length_mm, 0.0, None)
    shift_cur = cur.bend * cur.length_mm * np.minimum(wn, 1.0) ** 2
    shift_ref = ref.bend * ref.length_mm * np.minimum(wn, 1.0) ** 2
    u_ref = np.where(below, shift_ref + (u - shift_cur) * scale_u, u + shift_ref - shift_cur)
    return u_ref, w_ref


def moved_scatterers(
    scatterers: np.ndarray,
    u: np.ndarray,
    w: np.ndarray,
    window: tuple[slice, slice],
    heart: np.ndarray,
    placement: Placement,
    ref: ViewShape,
    cur: ViewShape,
) -> np.ndarray:
    """This frame's scatterer field: ``scatterers`` with the heart's samples taken from their ED position.

    Args:
        scatterers: complex64 ``(nr, nth)`` field of the view (ED configuration).
        u, w: in-plane coordinates (mm) of the polar samples ``(nr, nth)``.
        window: polar window holding the heart in every frame.
        heart: bool mask on ``window`` of the moving tissue in frame ``cur``.
        placement: the view's probe geometry (depth, sector).
        ref, cur: the view's shape at ED and at this frame.

    Returns:
        complex64 ``(nr, nth)`` (``scatterers`` itself when ``cur`` is ``ref``).
    """
    if cur == ref:
        return scatterers
    nr, nth = scatterers.shape
    uw, ww = u[window][heart], w[window][heart]
    u_ref, w_ref = material_coordinates(uw, ww, ref, cur)
    x, y = to_probe_frame(u_ref, w_ref, placement)
    ri = np.clip((np.hypot(x, y) / (placement.depth_mm / nr)).astype(np.int64), 0, nr - 1)
    theta = np.arctan2(x, y) + placement.sector_rad / 2
    ti = np.clip((theta / (placement.sector_rad / nth)).astype(np.int64), 0, nth - 1)
    out = scatterers.copy()
    sub = out[window]  # a view: the edit lands in ``out``
    sub[heart] = scatterers[ri, ti]
    return out
