"""3-D left-ventricle model of the phantom: endocardium, epicardium, left atrium, ED → ES.

The endocardium is a truncated tri-axial "super-spheroid" along the long axis ``w`` (mm, apex at 0,
mitral plane at ``L``): its cross-sections are ellipses with semi-axes ``b1·s(w)·ε(w)`` and
``b2·s(w)·ε(w)``, with ``s(w) = (1 − ((w − a)/a)²)^(p/2)``, ``a = L/(1 + f)`` and
``ε(w) = 1 + Σ_k ε_k sin(kπ w/L)``. Its volume is ``π·b1·b2·∫ s²ε² dw`` (midpoint quadrature), the
analytic EDV/ESV of the phantom. The epicardium is the same shape widened by the wall thickness ``t``
(apex offset ``t_apex``), truncated at the same mitral plane.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from lunet.data.labels import Instant, View

#: Samples of the midpoint quadrature along the long axis.
QUADRATURE_SAMPLES = 4000


@dataclass(frozen=True)
class PhaseGeometry:
    """LV size at one instant (all mm)."""

    length_mm: float  # endocardial long axis, apex → mitral plane
    b1_mm: float  # cross-section semi-axis along the principal axis (azimuth 0)
    b2_mm: float  # semi-axis at azimuth 90°
    wall_mm: float  # lateral wall thickness
    apex_wall_mm: float  # wall thickness at the apex


@dataclass(frozen=True)
class Atrium:
    """Left-atrium ellipsoid above the mitral plane (mm, radians)."""

    half_length_mm: float
    b1_mm: float
    b2_mm: float
    tilt_rad: float  # shear about the mitral plane (keeps the width at the plane)


@dataclass(frozen=True)
class Heart:
    """One phantom patient's 3-D heart; volumes in ml, EF in %."""

    truncation: float  # f: base narrower than mid-cavity
    bluntness: float  # p: < 1 blunter apex, > 1 pointier
    eps: tuple[float, ...]  # smooth radial modulation coefficients ε_k
    bend: float  # in-plane centreline bend (fraction of L at the base)
    bend_azimuth_rad: float
    septal_factor: float  # 4CH septum thickness relative to the lateral wall − 1
    ed: PhaseGeometry
    es: PhaseGeometry
    atrium: Atrium
    azimuth_4ch_rad: float  # 4CH plane azimuth from the b1 axis
    azimuth_2ch_rad: float
    edv_ml: float
    esv_ml: float
    target_ef_percent: float
    circular: bool

    @property
    def ef_percent(self) -> float:
        """Ejection fraction (EDV − ESV)/EDV in %, from the analytic volumes."""
        return 100.0 * (self.edv_ml - self.esv_ml) / self.edv_ml

    def phase(self, instant: Instant | str) -> PhaseGeometry:
        return self.ed if Instant(instant) is Instant.ED else self.es

    def azimuth(self, view: View | str) -> float:
        return self.azimuth_4ch_rad if View(view) is View.A4C else self.azimuth_2ch_rad


def eps_profile(wn: np.ndarray, eps: tuple[float, ...]) -> np.ndarray:
    """Radial modulation ε at normalised long-axis positions ``wn = w/L`` (clipped to [0, 1])."""
    wn = np.clip(wn, 0.0, 1.0)
    out = np.ones_like(wn)
    if not eps:
        return out
    s1 = np.sin(np.pi * wn)
    c1 = np.cos(np.pi * wn)
    s_prev, s_k = np.zeros_like(wn), s1
    for amp in eps:  # sin(kx) by the recurrence sin((k+1)x) = 2·cos(x)·sin(kx) − sin((k−1)x)
        out += amp * s_k
        s_prev, s_k = s_k, 2 * c1 * s_k - s_prev
    return out


def _profile_integral(
    length: float, centre: float, half: float, start: float, p: float, eps: tuple[float, ...], n: int
) -> float:
    """∫_start^length (1 − ((w − centre)/half)²)^p · ε(w/length)² dw by the midpoint rule (mm)."""
    step = (length - start) / n
    w = start + (np.arange(n) + 0.5) * step
    s2 = np.clip(1.0 - ((w - centre) / half) ** 2, 0.0, None) ** p
    return float(np.sum(s2 * eps_profile(w / length, eps) ** 2) * step)


def lv_volume_ml(
    length_mm: float,
    truncation: float,
    b1_mm: float,
    b2_mm: float,
    bluntness: float,
    eps: tuple[float, ...] = (),
    n: int = QUADRATURE_SAMPLES,
) -> float:
    """Endocardial volume (ml) of the truncated super-spheroid, ``π·b1·b2·∫₀ᴸ s²ε² dw``."""
    a = length_mm / (1.0 + truncation)
    return np.pi * b1_mm * b2_mm * _profile_integral(length_mm, a, a, 0.0, bluntness, eps, n) / 1000.0


def epicardial_volume_ml(
    phase: PhaseGeometry, truncation: float, bluntness: float, eps: tuple[float, ...]
) -> float:
    """Volume (ml) inside the epicardium (cavity + myocardium) of one phase."""
    a = phase.length_mm / (1.0 + truncation)
    integral = _profile_integral(
        phase.length_mm, a, a + phase.apex_wall_mm, -phase.apex_wall_mm, bluntness, eps, QUADRATURE_SAMPLES
    )
    return np.pi * (phase.b1_mm + phase.wall_mm) * (phase.b2_mm + phase.wall_mm) * integral / 1000.0


def phase_volume_ml(heart: Heart, phase: PhaseGeometry) -> float:
    """Endocardial volume (ml) of ``phase`` with the heart's shape parameters."""
    return lv_volume_ml(
        phase.length_mm, heart.truncation, phase.b1_mm, phase.b2_mm, heart.bluntness, heart.eps
    )


def sample_ef(rng: np.random.Generator) -> float:
    """EF (%) from the mixture N(62,5)/N(50,3)/N(35,7), weights 0.22/0.28/0.50, clipped to 10–80.

    The CAMUS mix: EF ≤ 45 % in about half the patients, ≥ 55 % in about a fifth.
    """
    component = rng.choice(3, p=[0.22, 0.28, 0.50])
    mean, sd = ((62.0, 5.0), (50.0, 3.0), (35.0, 7.0))[component]
    return float(np.clip(rng.normal(mean, sd), 10.0, 80.0))


def end_systole(
    ed: PhaseGeometry, truncation: float, bluntness: float, eps: tuple[float, ...], ef: float
) -> PhaseGeometry:
    """ES phase for a target EF (fraction): apex fixed, base descends, radial scale in closed form.

    The long axis shortens by ``4 % + 16 %·EF``; volume ∝ b1·b2, so the radial scale
    ``k = sqrt((1 − EF)·EDV / V(L_es, b1, b2))`` gives ESV = (1 − EF)·EDV exactly. The ES wall
    thickness is found by bisection so that the myocardial volume is conserved.
    """
    edv = lv_volume_ml(ed.length_mm, truncation, ed.b1_mm, ed.b2_mm, bluntness, eps)
    length_es = ed.length_mm * (1.0 - (0.04 + 0.16 * ef))
    k = float(
        np.sqrt((1.0 - ef) * edv / lv_volume_ml(length_es, truncation, ed.b1_mm, ed.b2_mm, bluntness, eps))
    )
    apex_ratio = ed.apex_wall_mm / ed.wall_mm
    es = PhaseGeometry(float(length_es), k * ed.b1_mm, k * ed.b2_mm, ed.wall_mm, ed.apex_wall_mm)
    myo_ed = epicardial_volume_ml(ed, truncation, bluntness, eps) - edv
    esv = (1.0 - ef) * edv

    def myo(t: float) -> float:
        return epicardial_volume_ml(
            replace(es, wall_mm=t, apex_wall_mm=t * apex_ratio), truncation, bluntness, eps
        )

    lo, hi = ed.wall_mm, 3.0 * ed.wall_mm
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if myo(mid) - esv < myo_ed else (lo, mid)
    t_es = float(0.5 * (lo + hi))
    return replace(es, wall_mm=t_es, apex_wall_mm=t_es * apex_ratio)


def sample_heart(rng: np.random.Generator, circular: bool = False) -> Heart:
    """Sample one patient's 3-D heart (ED and ES) with analytic EDV, ESV and a target EF.

    Args:
        rng: random generator (the only source of randomness).
        circular: b1 = b2 and no bend, so every plane through the axis cuts the same 2-D shape
            (Simpson's biplane is then exact up to discretisation).
    """
    ef = sample_ef(rng) / 100.0
    dilated = ef < 0.45 and rng.random() < 0.5  # dilated, thin-walled LVs
    length = float(rng.uniform(95, 110) if dilated else rng.uniform(70, 100))
    truncation = float(rng.uniform(0.35, 0.75))
    bluntness = float(rng.uniform(0.8, 1.25))
    b_mean = float(rng.uniform(27, 35) if dilated else rng.uniform(19, 29))
    ecc = 1.0 if circular else float(rng.uniform(0.85, 1.15))
    thick = not dilated and rng.random() < 0.15  # hypertrophy
    wall = float(rng.uniform(5.5, 8) if dilated else rng.uniform(11, 15) if thick else rng.uniform(7, 11))
    ed = PhaseGeometry(
        length,
        float(b_mean * np.sqrt(ecc)),
        float(b_mean / np.sqrt(ecc)),
        wall,
        wall * float(rng.uniform(0.6, 0.9)),
    )
    eps = tuple(float(e) for e in rng.normal(0.0, 0.04, 3))
    bend = 0.0 if circular else float(rng.uniform(0, 0.08))
    bend_az = float(rng.uniform(0, 2 * np.pi))
    septal = float(rng.uniform(-0.15, 0.25))
    atrium = Atrium(
        float(rng.uniform(20, 30)),
        float(rng.uniform(17, 25)),
        float(rng.uniform(17, 25)),
        float(rng.uniform(-0.25, 0.25)),
    )
    phi4 = float(np.deg2rad(rng.uniform(-17, 17)))
    phi2 = phi4 + float(np.deg2rad(rng.uniform(53, 67)))
    es = end_systole(ed, truncation, bluntness, eps, ef)
    edv = lv_volume_ml(ed.length_mm, truncation, ed.b1_mm, ed.b2_mm, bluntness, eps)
    esv = lv_volume_ml(es.length_mm, truncation, es.b1_mm, es.b2_mm, bluntness, eps)
    return Heart(
        truncation,
        bluntness,
        eps,
        bend,
        bend_az,
        septal,
        ed,
        es,
        atrium,
        phi4,
        phi2,
        edv,
        esv,
        100.0 * ef,
        circular,
    )


def interpolate_phase(heart: Heart, fraction: float) -> PhaseGeometry:
    """Phase geometry a ``fraction`` of the way from ED (0) to ES (1), linear in every size."""
    ed, es = heart.ed, heart.es
    mix = [
        (1.0 - fraction) * x + fraction * y
        for x, y in zip(
            (ed.length_mm, ed.b1_mm, ed.b2_mm, ed.wall_mm, ed.apex_wall_mm),
            (es.length_mm, es.b1_mm, es.b2_mm, es.wall_mm, es.apex_wall_mm),
        )
    ]
    return PhaseGeometry(*mix)


def inside_endocardium(
    x1: np.ndarray, x2: np.ndarray, w: np.ndarray, heart: Heart, phase: PhaseGeometry
) -> np.ndarray:
    """3-D membership of points (mm; ``x1`` along b1, ``x2`` along b2, ``w`` apex → base) in the cavity."""
    a = phase.length_mm / (1.0 + heart.truncation)
    s = np.clip(1.0 - ((w - a) / a) ** 2, 0.0, None) ** (heart.bluntness / 2)
    scale = s * eps_profile(w / phase.length_mm, heart.eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho2 = (x1 / (phase.b1_mm * scale)) ** 2 + (x2 / (phase.b2_mm * scale)) ** 2
    return (w >= 0) & (w <= phase.length_mm) & (scale > 0) & (rho2 <= 1.0)
