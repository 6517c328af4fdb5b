"""Left-ventricular outflow tract (LVOT) and aortic root: the hint of an anteriorly tilted 4CH view.

In a fraction of CAMUS apical 4CH views the plane is tilted anteriorly ("five-chamber-like"), and the
aortic root shows as a blood-filled channel leaving the LV base at the septal side of the mitral annulus.
The CAMUS protocol closes the LV at the mitral annulus, so the channel is *not* in the reference: it is
unlabelled (background) dark blood next to the labelled cavity, a real source of leaks.

The channel lives in the in-plane heart frame ``(u, w)`` (mm, see ``slices``): it starts at the septal
hinge of the visible annulus, at the mitral plane ``w = L``, and runs deeper (``+w``) and towards the
septum (``−u``) at ``tilt_rad`` from the long axis. Its mitral-side wall passes through the hinge (the
aortic-mitral continuity); the aortic-valve cusps close across it ``cusp_mm`` inside. None of these masks
changes a label: ``render.echogenicity`` draws the channel under the heart, on background only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lunet.data.synthetic.slices import ViewShape

#: Fraction of apical 4CH views with an LVOT / aortic-root hint.
LVOT_FRACTION = 0.3
#: Half thickness (mm) of the closed aortic-valve cusps.
CUSP_HALF_THICKNESS_MM = 0.5


@dataclass(frozen=True)
class Lvot:
    """Geometry and look of the outflow channel of one view (mm, rad)."""

    diameter_mm: float  # lumen diameter (18–24 mm)
    length_mm: float  # visible length from the mitral plane (20–30 mm)
    tilt_rad: float  # angle of the channel axis from the long axis, towards the septum
    wall_mm: float  # thickness of the bright aortic wall
    wall_level: float  # wall echogenicity (× myocardium)
    cusp_mm: float  # distance of the closed cusps from the mitral plane along the axis
    cusp_level: float  # cusp echogenicity (× myocardium): faint
    sinus: float  # relative bulge of the sinuses of Valsalva at the cusps


def sample_lvot(rng: np.random.Generator, fraction: float) -> Lvot | None:
    """Draw an LVOT for a view with probability ``fraction`` (always the same number of draws)."""
    present = rng.random() < fraction
    lvot = Lvot(
        diameter_mm=float(rng.uniform(18, 24)),
        length_mm=float(rng.uniform(20, 30)),
        tilt_rad=float(np.deg2rad(rng.uniform(10, 30))),
        wall_mm=float(rng.uniform(1.5, 2.5)),
        wall_level=float(rng.uniform(0.9, 1.6)),
        cusp_mm=float(rng.uniform(3, 7)),
        cusp_level=float(rng.uniform(0.3, 0.7)),
        sinus=float(rng.uniform(0.05, 0.15)),
    )
    return lvot if present else None


def lvot_clearance_mm(lvot: Lvot) -> float:
    """How far (mm) the right atrium moves towards the septal side to make room for the aortic root."""
    return lvot.diameter_mm + 2 * lvot.wall_mm


def lvot_coordinates(
    u: np.ndarray, w: np.ndarray, shape: ViewShape, lvot: Lvot
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channel coordinates of in-plane points: (``s`` along the axis, ``d`` across it, half width) in mm.

    ``s`` = 0 on the mitral plane at the septal hinge, growing deeper; ``d`` = 0 on the axis, negative
    towards the mitral side. The half width bulges by ``lvot.sinus`` about the cusps (sinuses of Valsalva).
    """
    hinge_u = shape.bend * shape.length_mm - shape.visible_annulus_mm
    tu, tw = -np.sin(lvot.tilt_rad), np.cos(lvot.tilt_rad)  # along the axis
    du, dw = u - hinge_u, w - shape.length_mm
    half = lvot.diameter_mm / 2
    s = du * tu + dw * tw
    d = -(du * tw - dw * tu) - half  # the mitral-side wall passes through the hinge
    bump = np.exp(-(((s - lvot.cusp_mm - 0.3 * half) / (0.5 * half)) ** 2))
    return s, d, half * (1 + lvot.sinus * bump)


def lvot_masks(
    u: np.ndarray, w: np.ndarray, shape: ViewShape, lvot: Lvot
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks (lumen, wall, cusps) of the channel at in-plane points ``(u, w)`` (mm), any shape.

    The lumen runs from 2 mm above the mitral plane (hidden under the basal myocardium, so no gap shows
    at the hinge) to ``length_mm`` deep, where it leaves the plane (rounded end). The wall lines both
    sides; the cusps are two thin leaflets from the walls meeting near the axis with a 1 mm gap.
    """
    s, d, half = lvot_coordinates(u, w, shape, lvot)
    end = np.clip(s - (lvot.length_mm - half), 0.0, None)  # rounded far end
    radial = np.hypot(d, end)
    along = s >= -2.0
    lumen = along & (radial <= half)
    wall = along & (radial <= half + lvot.wall_mm) & ~lumen & (s <= lvot.length_mm)
    bow = 0.25 * half * (1 - (d / half) ** 2)  # closed cusps bow towards the LV
    cusps = lumen & (np.abs(s - lvot.cusp_mm + bow) <= CUSP_HALF_THICKNESS_MM) & (np.abs(d) >= 0.5)
    return lumen, wall, cusps
