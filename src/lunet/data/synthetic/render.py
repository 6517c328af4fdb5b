"""Image formation of the phantom, in polar (beam) coordinates, then scan conversion.

Echogenicity map → complex field (diffuse scatterers + coherent specular term at interfaces facing
the beam) → artefacts (clutter, attenuation, shadows, gain ripple, depth-growing noise) → separable
Gaussian PSF, normalised so speckle power is preserved → envelope → log compression anchored to the
tissue level → ``map_coordinates`` onto the output grid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from lunet.data.synthetic.appearance import Appearance, ViewFields
from lunet.data.synthetic.geometry import (
    OutputGrid,
    Placement,
    PolarGrid,
    scan_conversion,
    to_probe_frame,
    to_view_frame,
)
from lunet.data.synthetic.lvot import lvot_clearance_mm, lvot_masks
from lunet.data.synthetic.slices import ViewShape, endo_profile, outline_points, shape_masks_with_margins
from lunet.data.synthetic.tissue import (
    lateral_dropout_gain,
    mitral_apparatus,
    non_compacted_layer,
    wall_incidence,
)

#: Transducer aperture (mm) for the lateral beam width λ/D.
APERTURE_MM = 20.0


@functools.lru_cache(maxsize=4)
def polar_coordinates(depth_mm: float, sector_rad: float, polar: PolarGrid):
    """Cached ``(R, TH, X, Y)`` arrays ``(nr, nth)`` float32 of a polar grid (mm, rad)."""
    r = (np.arange(polar.nr, dtype=np.float32) + 0.5) * np.float32(depth_mm / polar.nr)
    th = (np.arange(polar.nth, dtype=np.float32) + 0.5) * np.float32(sector_rad / polar.nth) - np.float32(
        sector_rad / 2
    )
    rr, tt = np.meshgrid(r, th, indexing="ij")
    out = (rr, tt, rr * np.sin(tt), rr * np.cos(tt))
    for a in out:
        a.setflags(write=False)
    return out


def _ellipse(u: np.ndarray, w: np.ndarray, uc: float, wc: float, hu: float, hw: float) -> np.ndarray:
    return ((u - uc) / hu) ** 2 + ((w - wc) / hw) ** 2 <= 1.0


@dataclass(frozen=True)
class BeamView:
    """Frame-independent arrays of one view on its polar grid ``(nr, nth)`` (computed once per view)."""

    u: np.ndarray  # in-plane heart coordinates of the polar samples (mm)
    w: np.ndarray
    window: tuple[slice, slice]  # polar window holding every frame's heart (+ margins)
    tissue: np.ndarray  # echogenicity of the surrounding tissue
    gain: np.ndarray  # attenuation × shadows × beam ripple
    clutter: np.ndarray  # haze + apical clutter power
    noise2: np.ndarray  # electronic noise power (grows with depth)
    sigma: tuple[float, float]  # PSF σ in (r, θ) samples
    dr_mm: float
    dth_rad: float
    r_mm: np.ndarray  # depth of the polar samples (mm)


def prepare_view(
    placement: Placement, polar: PolarGrid, app: Appearance, fields: ViewFields, shapes: tuple[ViewShape, ...]
) -> BeamView:
    """Precompute what all frames of a view share: coordinates, artefacts, PSF and the heart window."""
    rr, tt, xx, yy = polar_coordinates(placement.depth_mm, placement.sector_rad, polar)
    dr = placement.depth_mm / polar.nr
    dth = placement.sector_rad / polar.nth
    u, w = to_view_frame(xx, yy, placement)
    pts = np.concatenate([outline_points(s) for s in shapes])
    px, py = to_probe_frame(pts[:, 0], pts[:, 1], placement)
    pr, pt = np.hypot(px, py), np.arctan2(px, py)
    margin = 6.0  # mm: pericardium, LA wall and mitral bow stay inside
    dth_margin = margin / max(pr.min() - margin, 10.0)
    r0 = max(int((pr.min() - margin) / dr), 0)
    r1 = min(int((pr.max() + margin) / dr) + 2, polar.nr)
    t0 = max(int((pt.min() - dth_margin + placement.sector_rad / 2) / dth), 0)
    t1 = min(int((pt.max() + dth_margin + placement.sector_rad / 2) / dth) + 2, polar.nth)
    tissue = app.tissue_level * fields.background * (1 - 0.95 * fields.hypoechoic)
    ap_dist = np.hypot(xx - placement.apex_x_mm, yy - placement.apex_y_mm - 10)
    clutter = app.haze * np.exp(-rr / app.haze_length_mm) + app.apical * np.exp(
        -((ap_dist / app.apical_length_mm) ** 2)
    )
    gain = 10 ** (-app.attenuation_db_cm * (rr / 10) / 20)
    for sh in app.shadows:
        lateral = 1 / (
            1 + np.exp(-(sh.width_rad / 2 - np.abs(tt - sh.centre_rad * placement.sector_rad)) / 0.0175)
        )
        gain = gain * (1 - (1 - sh.residual) * lateral / (1 + np.exp(-(rr - sh.start_mm) / 3)))
    gain = gain * fields.ripple
    sig_r = 0.55 * app.wavelength_mm * app.psf / dr
    sig_t = (app.wavelength_mm / APERTURE_MM) / 2.355 * app.psf / dth
    noise2 = ((app.noise * np.exp(rr / 120)) ** 2).astype(np.float32)
    return BeamView(
        u, w, (slice(r0, r1), slice(t0, t1)), tissue.astype(np.float32), gain.astype(np.float32),
        clutter.astype(np.float32), noise2, (sig_r, sig_t), dr, dth, rr,
    )  # fmt: skip


def echogenicity(
    shape: ViewShape, beam: BeamView, app: Appearance, fields: ViewFields, four_chamber: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean backscatter power ``E``, acoustic "impedance" ``Z`` (both (nr, nth) float32) and the heart mask.

    Drawn in order: surrounding tissue; in 4CH the RV/RA with their walls; the descending aorta; in 4CH with
    ``app.lvot`` the outflow tract (``lvot``); then the heart (pericardium, LA wall, myocardium, cavities,
    trabeculae, leaflets) over them, so nothing unlabelled covers a labelled structure.

    The heart mask (bool, on ``beam.window``) marks the tissue that moves with the heart (myocardium,
    pericardium, cavities, LA wall): its scatterers follow the motion between frames.
    """
    u, w, tex = beam.u, beam.w, fields.texture
    e_map = beam.tissue.copy()
    z_map = np.full(u.shape, 0.6, np.float32)
    dark = _ellipse(u, w, app.aorta_u_mm, shape.la_centre_mm + shape.la_half_length_mm + app.aorta_gap_mm,
                    app.aorta_radius_mm, app.aorta_radius_mm)  # fmt: skip
    if four_chamber:  # right ventricle and right atrium: dark, unlabelled confounders with their walls
        rv_c = -(shape.radius_mm + shape.wall_mm * (1 + shape.septal_factor) + app.rv_gap_mm)
        rv_w, rv_h = 0.6 * shape.length_mm, 0.45 * shape.length_mm
        rv = _ellipse(u, w, rv_c, rv_w, app.rv_half_width_mm, rv_h)
        ra_c = 0.9 * rv_c - (0.0 if app.lvot is None else lvot_clearance_mm(app.lvot))  # the root between
        ra = _ellipse(u, w, ra_c, shape.la_centre_mm, app.ra_half_width_mm, app.ra_half_length_mm)
        rv_wall = _ellipse(u, w, rv_c, rv_w, app.rv_half_width_mm + 4, rv_h + 4) & ~rv
        ra_wall = _ellipse(u, w, ra_c, shape.la_centre_mm, app.ra_half_width_mm + 2,
                           app.ra_half_length_mm + 2) & ~ra  # fmt: skip
        walls = rv_wall | ra_wall
        e_map[walls] = 0.9 * tex[walls]
        z_map[walls] = 1.0
        dark |= rv | ra
    e_map[dark] = app.blood * tex[dark]  # before the LV: the heart's own tissue is drawn over them
    z_map[dark] = 0.0
    lumen = None
    if four_chamber and app.lvot is not None:  # outflow tract: unlabelled blood beside the septal hinge
        lumen, wall, cusps = lvot_masks(u, w, shape, app.lvot)
        e_map[wall] = app.lvot.wall_level * tex[wall]
        z_map[wall] = 1.2
        e_map[lumen] = app.blood * tex[lumen]
        z_map[lumen] = 0.0
        e_map[cusps] = app.lvot.cusp_level * tex[cusps]
        z_map[cusps] = app.lvot.cusp_level
    # the heart itself, inside its polar window only
    win = beam.window
    uw, ww, texw = u[win], w[win], tex[win]
    profile = endo_profile(uw, ww, shape)
    endo, epi, la, peri_outer, la_outer = shape_masks_with_margins(uw, ww, shape, 3.0, 2.5, profile)
    ew, zw = e_map[win], z_map[win]  # views: edits land in e_map / z_map
    peri = peri_outer & ~epi
    if lumen is not None:  # no pericardium across the channel's mouth
        peri &= ~lumen[win]
    patchy = fields.background[win] * (1 - 0.9 * fields.hypoechoic[win])  # uneven along the contour
    ew[peri] = app.pericardium * texw[peri] * patchy[peri]
    zw[peri] = 1.6
    la_wall = la_outer & ~la & ~epi
    ew[la_wall] = 0.7 * texw[la_wall]
    zw[la_wall] = 1.0
    myo = epi & ~endo
    uc = profile[0]
    incidence = wall_incidence(endo, beam.dr_mm, beam.r_mm[win], beam.dth_rad)
    myo_gain = (1 - app.dropout * fields.dropout[win]) * lateral_dropout_gain(incidence, uc, app)
    ew[myo] = texw[myo] * myo_gain[myo]
    zw[myo] = myo_gain[myo]
    blood = endo | la
    ew[blood] = app.blood * texw[blood]
    zw[blood] = 0.0
    layer = non_compacted_layer(uw, ww, shape, app, fields.strands[win], profile)  # inside the LV label
    trabecular = layer > 0.02
    ew[trabecular] += layer[trabecular] * texw[trabecular] * myo_gain[trabecular]
    zw[trabecular] = np.maximum(zw[trabecular], layer[trabecular])
    mitral = mitral_apparatus(uw, ww, shape, app)
    ew[mitral] = 1.2 * app.mitral_visibility * texw[mitral]
    zw[mitral] = app.mitral_visibility
    return e_map, z_map, peri_outer | la_outer


def envelope_from_maps(
    e_map: np.ndarray,
    z_map: np.ndarray,
    beam: BeamView,
    app: Appearance,
    fields: ViewFields,
    scatterers: np.ndarray | None = None,
) -> np.ndarray:
    """Envelope of the field made from an echogenicity map ``E`` and an impedance map ``Z`` (polar)."""
    sig_r, sig_t = beam.sigma
    norm = np.float32(np.sqrt(4 * np.pi * sig_r * sig_t))  # sum of squared PSF weights = 1 / norm²
    # specular term: |∂Z/∂r| of a smoothed impedance map (bright where interfaces face the beam)
    z_s = ndi.gaussian_filter(z_map, (0.4 / beam.dr_mm, 0.5))
    spec = (
        np.abs(np.gradient(z_s, axis=0)) * np.float32(3.0 * app.specular / beam.dr_mm) * fields.specular_mod
    )
    # reverberation: a ghost of the near field at twice its depth (probe ↔ reflector round trips)
    ghost = app.reverberation * e_map[np.arange(e_map.shape[0]) // 2]
    # independent circular Gaussian sources add in power: one scatterer field carries them all
    diffuse = np.sqrt(beam.gain**2 * (e_map + beam.clutter + ghost) + beam.noise2) * norm
    field = diffuse * (fields.scatterers if scatterers is None else scatterers)
    field = field + (beam.gain * spec) * np.complex64(np.exp(0.3j))
    return np.hypot(
        ndi.gaussian_filter(field.real, (sig_r, sig_t)), ndi.gaussian_filter(field.imag, (sig_r, sig_t))
    ).astype(np.float32)


def log_compress(envelope: np.ndarray, app: Appearance) -> np.ndarray:
    """Envelope → grey level in [0, 1]: dynamic range anchored to the myocardium (E = 1 → ≈ 0.4 grey)."""
    db = 20 * np.log10(envelope + np.float32(1e-9))
    ref = 0.6 * app.dynamic_range_db - 2.5 + app.gain_db
    img = np.clip((db - ref + app.dynamic_range_db) / app.dynamic_range_db, 0, 1) ** np.float32(app.gamma)
    return img.astype(np.float32)


def scan_convert(polar_image: np.ndarray, placement: Placement, grid: OutputGrid) -> np.ndarray:
    """Polar image in [0, 1] → uint8 ``(rows, cols)`` on ``grid`` (bilinear; black outside the sector)."""
    nr, nth = polar_image.shape
    tables = scan_conversion(placement.depth_mm, placement.sector_rad, grid, PolarGrid(nr, nth))
    flat = polar_image.ravel()
    k, wts = tables.corner, tables.weights
    value = wts[0] * flat[k] + wts[1] * flat[k + 1] + wts[2] * flat[k + nth] + wts[3] * flat[k + nth + 1]
    out = np.zeros(grid.rows * grid.cols, np.uint8)
    out[tables.pixels] = np.round(value * 255).astype(np.uint8)
    return out.reshape(grid.rows, grid.cols)
