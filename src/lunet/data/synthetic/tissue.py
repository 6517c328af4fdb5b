"""Anatomy that makes real contours ambiguous: trabeculae, papillary muscles, mitral leaflets, wall dropout.

All functions work on in-plane heart coordinates ``(u, w)`` in mm (see ``slices``) sampled on the polar
window of a view. None of them changes a label: as in the CAMUS annotation protocol, the reference
endocardium follows the compacted wall, so trabeculae and papillary muscles lie *inside* the LV label, and
the closed mitral leaflets lie on the annotated LV/LA boundary (the mitral plane ``w = L``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from lunet.data.synthetic.appearance import Appearance
from lunet.data.synthetic.slices import ViewShape, endo_profile

#: Half thickness (mm) of a closed mitral leaflet.
LEAFLET_HALF_THICKNESS_MM = 0.6


def non_compacted_layer(
    u: np.ndarray,
    w: np.ndarray,
    shape: ViewShape,
    app: Appearance,
    strands: np.ndarray,
    profile: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Echogenicity (× myocardium) of trabeculae and papillary muscles inside the cavity, 0 elsewhere.

    Trabeculae: strands (long along the beam) whose density decays with the distance inside the
    compacted wall over ``app.trabecular_depth_mm``, densest towards the apex. Papillary muscles:
    ellipses rooted on the wall of one side at ``w/L`` ≈ 0.45–0.7.

    Args:
        u, w: in-plane coordinates (mm), any shape.
        shape: the view's shape at this frame.
        app: appearance draws of the view.
        strands: smooth field in [0, 1] of the same shape as ``u`` (``ViewFields.strands`` windowed).
        profile: ``endo_profile(u, w, shape)`` when the caller already has it.

    Returns:
        float32 array like ``u``.
    """
    uc, r_in, _ = profile if profile is not None else endo_profile(u, w, shape)
    inside = (w >= 0) & (w <= shape.length_mm) & (np.abs(uc) <= r_in)
    depth_in = np.where(inside, r_in - np.abs(uc), np.inf)
    apical = 1.0 + 1.5 * np.clip(1.0 - w / (0.35 * shape.length_mm), 0.0, 1.0)
    layer = strands * np.exp(-depth_in / (app.trabecular_depth_mm * apical))
    for side, frac, half_len, half_wid in app.papillary:
        wp = frac * shape.length_mm
        _, r_wall, _ = endo_profile(np.zeros(1), np.full(1, wp), shape)
        up = side * (float(r_wall[0]) - 0.7 * half_wid) + shape.bend * shape.length_mm * frac**2
        muscle = ((u - up) / half_wid) ** 2 + ((w - wp) / half_len) ** 2 <= 1.0
        layer = np.where(muscle & inside, np.maximum(layer, 0.8), layer)
    return (app.trabeculae * np.where(inside, layer, 0.0)).astype(np.float32)


def mitral_apparatus(u: np.ndarray, w: np.ndarray, shape: ViewShape, app: Appearance) -> np.ndarray:
    """Boolean mask of the closed mitral leaflets and the annulus at the mitral plane.

    The leaflets span the visible annulus at ``w = L + bow·(1 − (u_b/a)²)`` with ``|bow| ≤ 0.8`` mm and
    half thickness ``LEAFLET_HALF_THICKNESS_MM``: they sit on the reference LV/LA boundary within 1 mm.
    The annulus shows as two bright knots of radius ``app.annulus_radius_mm`` at the hinge points.
    """
    out = np.zeros(np.shape(u), bool)
    near = np.abs(w - shape.length_mm) <= max(app.annulus_radius_mm, abs(app.mitral_bow_mm) + 1.0)
    u, w = u[near], w[near]  # only a thin band about the mitral plane can hold the apparatus
    ann = shape.visible_annulus_mm
    ub = u - shape.bend * shape.length_mm
    centre = shape.length_mm + app.mitral_bow_mm * (1 - np.clip(ub / max(ann, 1e-6), -1, 1) ** 2)
    leaflets = (np.abs(ub) <= ann) & (np.abs(w - centre) < LEAFLET_HALF_THICKNESS_MM)
    knots = np.minimum(np.hypot(ub - ann, w - shape.length_mm), np.hypot(ub + ann, w - shape.length_mm))
    out[near] = leaflets | (knots <= app.annulus_radius_mm)
    return out


def wall_incidence(cavity: np.ndarray, dr_mm: float, r_mm: np.ndarray, dth_rad: float) -> np.ndarray:
    """|cos| of the angle between the beam and the wall's normal, from the smoothed LV cavity mask.

    1 where the wall faces the beam (apex, base), 0 where it runs along the beam (lateral walls). The
    cavity is smoothed over 4 mm, so the direction is defined (and smooth) across the whole wall.

    Args:
        cavity: boolean LV cavity mask on a polar window ``(nr', nth')``.
        dr_mm: depth step (mm); ``r_mm``: depth of each sample ``(nr', nth')``; ``dth_rad``: beam step.
    """
    beam_mm = max(float(np.median(r_mm)) * dth_rad, 1e-3)
    m = ndi.gaussian_filter(cavity.astype(np.float32), (4.0 / dr_mm, 4.0 / beam_mm))
    g_r = np.gradient(m, axis=0) / dr_mm
    g_t = np.gradient(m, axis=1) / np.maximum(r_mm * dth_rad, 1e-3)
    return np.abs(g_r) / (np.hypot(g_r, g_t) + 1e-6)


def lateral_dropout_gain(
    incidence: np.ndarray, uc: np.ndarray, app: Appearance, floor: float = 0.05
) -> np.ndarray:
    """Gain of the myocardium where it runs along the beam: strongest on ``app.lateral_side``."""
    side = np.where(np.sign(uc) == app.lateral_side, 1.0, 0.35)
    return np.clip(1.0 - app.lateral_dropout * side * (1.0 - incidence) ** 2, floor, 1.0)
