"""2-D shapes of the phantom: the 3-D heart cut by an apical plane through its long axis.

In-plane coordinates ``(u, w)`` in mm: ``w`` along the long axis (apex at 0, mitral plane at ``L``,
deeper is larger), ``u`` lateral. Labels follow the priority LV > myocardium > LA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lunet.data.labels import Label, View
from lunet.data.synthetic.anatomy import Heart, PhaseGeometry, eps_profile


@dataclass(frozen=True)
class ViewShape:
    """In-plane shape of one view at one instant (mm)."""

    length_mm: float  # L: apex → mitral plane
    centre_mm: float  # a = L/(1 + f): where the spheroid is widest
    epi_half_mm: float  # a + apex wall: epicardial half length
    radius_mm: float  # endocardial half width at the widest section
    wall_mm: float
    septal_factor: float  # 4CH only: septum (u < 0) wall × (1 + septal_factor)
    bluntness: float
    eps: tuple[float, ...]
    bend: float  # lateral shear of the centreline, fraction of L at the base
    annulus_mm: float  # endocardial half width at the mitral plane
    la_half_length_mm: float
    la_radius_mm: float
    la_centre_mm: float  # LA centre on the long axis
    la_shear: float  # tan(tilt): LA sheared about the mitral plane
    offset_mm: float = 0.0  # foreshortening: the plane misses the LV axis by this distance

    @property
    def visible_annulus_mm(self) -> float:
        """Half width of the cut at the mitral plane (the annulus, narrowed by a foreshortening offset)."""
        return float(np.sqrt(max(self.annulus_mm**2 - self.offset_mm**2, 0.0)))


def plane_radius(b1: float, b2: float, phi: float) -> float:
    """Half width (mm) of an ellipse with semi-axes b1, b2 along the direction at azimuth ``phi``."""
    return float(1.0 / np.sqrt(np.cos(phi) ** 2 / b1**2 + np.sin(phi) ** 2 / b2**2))


def view_shape(heart: Heart, view: View | str, phase: PhaseGeometry, offset_mm: float = 0.0) -> ViewShape:
    """Cut ``heart`` at ``phase`` by the apical plane of ``view``, ``offset_mm`` off the long axis.

    An offset plane (foreshortening) cuts every cross-section off-centre: the half widths become
    ``sqrt(r² − d²)``, so the apex seen in the image is not the true apex and the cavity looks short.
    """
    view = View(view)
    phi = heart.azimuth(view)
    a = phase.length_mm / (1.0 + heart.truncation)
    radius = plane_radius(phase.b1_mm, phase.b2_mm, phi)
    annulus = radius * (1.0 - heart.truncation**2) ** (heart.bluntness / 2)
    atrium = heart.atrium
    # the atrium's chord at the mitral plane spans the annulus and half the basal wall: no gap at the base
    la_chord = annulus + 0.5 * phase.wall_mm
    la_radius = max(plane_radius(atrium.b1_mm, atrium.b2_mm, phi), la_chord * 1.05)
    la_centre = phase.length_mm + atrium.half_length_mm * np.sqrt(1.0 - (la_chord / la_radius) ** 2)
    return ViewShape(
        length_mm=phase.length_mm,
        centre_mm=a,
        epi_half_mm=a + phase.apex_wall_mm,
        radius_mm=radius,
        wall_mm=phase.wall_mm,
        septal_factor=heart.septal_factor if view is View.A4C else 0.0,
        bluntness=heart.bluntness,
        eps=heart.eps,
        bend=heart.bend * float(np.cos(phi - heart.bend_azimuth_rad)),
        annulus_mm=annulus,
        la_half_length_mm=atrium.half_length_mm,
        la_radius_mm=la_radius,
        la_centre_mm=float(la_centre),
        la_shear=float(np.tan(atrium.tilt_rad)),
        offset_mm=float(offset_mm),
    )


def _cut(radius: np.ndarray, offset_mm: float) -> np.ndarray:
    """Half width of a circular section of ``radius`` cut by a plane ``offset_mm`` from its centre."""
    if offset_mm == 0.0:
        return radius
    return np.sqrt(np.clip(radius * radius - offset_mm * offset_mm, 0.0, None))


def endo_profile(u: np.ndarray, w: np.ndarray, shape: ViewShape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u about the bent centreline, endocardial half width at ``w``, radial modulation ε) in mm."""
    wn = w / shape.length_mm
    ep = eps_profile(wn, shape.eps)
    uc = u - shape.bend * shape.length_mm * np.where(wn > 0, wn, 0.0) ** 2
    z = (w - shape.centre_mm) / shape.centre_mm
    r_in = _cut(
        shape.radius_mm * np.clip(1.0 - z * z, 0.0, None) ** (shape.bluntness / 2) * ep, shape.offset_mm
    )
    return uc, r_in, ep


def shape_masks(
    u: np.ndarray, w: np.ndarray, shape: ViewShape, epi_extra_mm: float = 0.0, la_extra_mm: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks (endocardium, epicardium, atrium) at in-plane points ``(u, w)`` (mm).

    ``epi_extra_mm`` / ``la_extra_mm`` widen the epicardium / atrium (used for the pericardium and the
    LA wall of the appearance model; labels use 0).
    """
    endo, _, _, epi, la = shape_masks_with_margins(u, w, shape, epi_extra_mm, la_extra_mm)
    return endo, epi, la


def shape_masks_with_margins(
    u: np.ndarray,
    w: np.ndarray,
    shape: ViewShape,
    epi_extra_mm: float,
    la_extra_mm: float,
    profile: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(endo, epi, la, epi widened by ``epi_extra_mm``, la widened by ``la_extra_mm``) in one pass.

    ``profile``: ``endo_profile(u, w, shape)`` when the caller already has it.
    """
    uc, r_in, ep = profile if profile is not None else endo_profile(u, w, shape)
    abs_uc = np.abs(uc)
    half_p = shape.bluntness / 2
    endo = (w <= shape.length_mm) & (w >= 0) & (abs_uc <= r_in)
    septum = uc < 0

    def epicardium(extra: float) -> np.ndarray:
        ze = (w - shape.centre_mm) / (shape.epi_half_mm + extra)
        wall = shape.wall_mm * (1.0 + shape.septal_factor * septum) + extra
        r_ep = _cut(
            (shape.radius_mm + wall) * np.clip(1.0 - ze * ze, 0.0, None) ** half_p * ep, shape.offset_mm
        )
        return (w <= shape.length_mm + extra) & (np.abs(ze) < 1) & (abs_uc <= r_ep)

    wl = w - shape.la_centre_mm
    ul = u - shape.bend * shape.length_mm - shape.la_shear * (w - shape.length_mm)  # follows the bent base
    above = w > shape.length_mm

    def atrium(extra: float) -> np.ndarray:
        return above & (
            (wl / (shape.la_half_length_mm + extra)) ** 2 + (ul / (shape.la_radius_mm + extra)) ** 2 <= 1.0
        )

    epi, la = epicardium(0.0), atrium(0.0)
    epi_outer = epicardium(epi_extra_mm) if epi_extra_mm else epi
    la_outer = atrium(la_extra_mm) if la_extra_mm else la
    return endo, epi, la, epi_outer, la_outer


def labels_from_masks(endo: np.ndarray, epi: np.ndarray, la: np.ndarray) -> np.ndarray:
    """uint8 label map with priority LV > myocardium > LA."""
    lab = np.zeros(endo.shape, np.uint8)
    lab[la] = Label.LA
    lab[epi] = Label.MYO
    lab[endo] = Label.LV
    return lab


def outline_points(shape: ViewShape, n: int = 200) -> np.ndarray:
    """Points ``(n', 2)`` as (u, w) mm on the outer outline of epicardium and atrium (for placement)."""
    w = np.linspace(shape.centre_mm - shape.epi_half_mm, shape.length_mm, n)
    wn = w / shape.length_mm
    ze = (w - shape.centre_mm) / shape.epi_half_mm
    r = (shape.radius_mm + shape.wall_mm * (1 + max(shape.septal_factor, 0.0))) * np.clip(
        1 - ze**2, 0, None
    ) ** (shape.bluntness / 2)
    r = r * eps_profile(wn, shape.eps)
    shift = shape.bend * shape.length_mm * np.clip(wn, 0, None) ** 2
    t = np.linspace(0, 2 * np.pi, n)
    wl = shape.la_centre_mm + shape.la_half_length_mm * np.cos(t)
    ul = (
        shape.la_radius_mm * np.sin(t)
        + shape.la_shear * (wl - shape.length_mm)
        + shape.bend * shape.length_mm
    )
    u_all = np.concatenate([shift + r, shift - r, ul])
    w_all = np.concatenate([w, w, wl])
    return np.stack([u_all, w_all], axis=1)
