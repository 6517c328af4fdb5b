"""Appearance parameters of the phantom: quality tiers and per-view random draws.

Everything random about a view's look is drawn here once per view, so the ED, ES and interpolated
frames of a view share tissue texture, speckle and artefacts (as a real acquisition would).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from lunet.data.synthetic.lvot import LVOT_FRACTION, Lvot, sample_lvot

QUALITIES = ("Good", "Medium", "Poor")


@dataclass(frozen=True)
class QualityRanges:
    """Parameter ranges of one image-quality tier (design doc table)."""

    dynamic_range_db: tuple[float, float]
    blood: tuple[float, float]  # blood echogenicity relative to myocardium
    haze: tuple[float, float]  # near-field haze power
    apical: tuple[float, float]  # apical clutter power
    noise: tuple[float, float]  # electronic noise amplitude
    attenuation_db_cm: tuple[float, float]
    dropout: tuple[float, float]  # depth of myocardial dropout
    shadows: tuple[int, int]  # number of rib/lung shadows (inclusive)
    psf: tuple[float, float]  # PSF blur factor
    specular: tuple[float, float]  # specular interface strength
    lateral_dropout: tuple[float, float]  # loss of walls running parallel to the beam
    reverberation: tuple[float, float]  # power of the near-field ghost at twice its depth
    trabeculae: tuple[float, float]  # echogenicity of trabeculae / papillary muscles (× myocardium)


QUALITY_TIERS: dict[str, QualityRanges] = {
    "Good": QualityRanges((48, 58), (5e-4, 3e-3), (0.0, 0.01), (0.01, 0.06), (0.002, 0.006), (0.0, 0.25),
                          (0.0, 0.3), (0, 1), (1.0, 1.15), (1.0, 1.6), (0.1, 0.45), (0.0, 0.01), (0.3, 0.7)),
    "Medium": QualityRanges((45, 55), (2e-3, 1.5e-2), (0.01, 0.05), (0.05, 0.25), (0.01, 0.03), (0.2, 0.55),
                            (0.25, 0.55), (0, 2), (1.1, 1.35), (0.7, 1.2), (0.35, 0.75), (0.01, 0.05),
                            (0.3, 0.8)),
    "Poor": QualityRanges((40, 50), (2e-2, 0.12), (0.1, 0.35), (0.4, 1.2), (0.04, 0.09), (0.45, 0.9),
                          (0.6, 0.9), (1, 3), (1.4, 1.9), (0.4, 0.9), (0.7, 1.0), (0.06, 0.2), (0.5, 1.0)),
}  # fmt: skip


@dataclass(frozen=True)
class Shadow:
    """A rib/lung shadow: beam angle centre and width (rad), start depth (mm), residual gain."""

    centre_rad: float
    width_rad: float
    start_mm: float
    residual: float


@dataclass(frozen=True)
class Appearance:
    """Scalar appearance draws of one view (shared by its frames)."""

    quality: str
    dynamic_range_db: float
    blood: float
    haze: float
    apical: float
    noise: float
    attenuation_db_cm: float
    dropout: float
    psf: float
    specular: float
    lateral_dropout: float
    reverberation: float
    trabeculae: float
    shadows: tuple[Shadow, ...]
    tissue_level: float  # surrounding tissue echogenicity
    pericardium: float  # pericardium echogenicity
    mitral_bow_mm: float  # closed leaflets bow off the annulus line (reference LV/LA boundary) by this
    mitral_visibility: float
    wavelength_mm: float
    haze_length_mm: float
    apical_length_mm: float
    gain_db: float  # random overall gain (log-compression reference offset)
    gamma: float
    rv_gap_mm: float  # 4CH right ventricle: gap to the septum, half width
    rv_half_width_mm: float
    ra_half_width_mm: float
    ra_half_length_mm: float
    aorta_u_mm: float  # descending aorta: lateral position, distance above the LA, radius
    aorta_gap_mm: float
    aorta_radius_mm: float
    trabecular_depth_mm: float  # thickness of the non-compacted layer inside the reference contour
    papillary: tuple[tuple[float, float, float, float], ...]  # (side ±1, w/L, half length mm, half width mm)
    annulus_radius_mm: float
    lateral_side: float  # +1 / −1: the side of the LV whose wall drops out most
    lvot: Lvot | None = None  # 4CH only: outflow tract / aortic-root hint (unlabelled)


def sample_appearance(
    rng: np.random.Generator, quality: str, lvot_fraction: float = LVOT_FRACTION
) -> Appearance:
    """Draw the scalar appearance of one view in ``quality`` tier ("Good" / "Medium" / "Poor").

    ``lvot_fraction``: probability of an LVOT hint (pass 0 for views that cannot show one). Its draws
    come last and their number does not depend on the fraction, so switching it leaves every other draw
    of the view (and of the patient) unchanged.
    """
    q = QUALITY_TIERS[quality]

    def u(lo_hi: tuple[float, float]) -> float:
        return float(rng.uniform(*lo_hi))

    scalars = dict(
        quality=quality, dynamic_range_db=u(q.dynamic_range_db), blood=u(q.blood), haze=u(q.haze),
        apical=u(q.apical), noise=u(q.noise), attenuation_db_cm=u(q.attenuation_db_cm), dropout=u(q.dropout),
        psf=u(q.psf), specular=u(q.specular), lateral_dropout=u(q.lateral_dropout),
        reverberation=u(q.reverberation), trabeculae=u(q.trabeculae),
    )  # fmt: skip
    n_shadows = int(rng.integers(q.shadows[0], q.shadows[1] + 1))
    shadows = tuple(
        Shadow(u((-0.5, 0.5)), float(np.deg2rad(rng.uniform(4, 12))), u((15, 60)), u((0.15, 0.6)))
        for _ in range(n_shadows)
    )
    return Appearance(
        **scalars,
        shadows=shadows,
        tissue_level=u((0.15, 0.35)),
        pericardium=u((4, 25)),
        mitral_bow_mm=u((-0.8, 0.8)),
        mitral_visibility=u((0.3, 1.0)),
        wavelength_mm=1.540 / u((2.5, 3.5)),
        haze_length_mm=u((30, 60)),
        apical_length_mm=u((10, 20)),
        gain_db=u((-4, 4)),
        gamma=u((0.9, 1.3)),
        rv_gap_mm=u((12, 18)),
        rv_half_width_mm=u((12, 17)),
        ra_half_width_mm=u((15, 20)),
        ra_half_length_mm=u((18, 25)),
        aorta_u_mm=u((-15, 25)),
        aorta_gap_mm=u((8, 14)),
        aorta_radius_mm=u((7, 11)),
        trabecular_depth_mm=u((1.5, 4.5)),
        papillary=tuple(
            (side, u((0.45, 0.7)), u((6, 11)), u((2.0, 3.5))) for side in (-1.0, 1.0) if rng.random() < 0.75
        ),
        annulus_radius_mm=u((1.5, 3.0)),
        lateral_side=1.0 if rng.random() < 0.7 else -1.0,
        lvot=sample_lvot(rng, lvot_fraction),  # last: see the docstring
    )


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: tuple[float, float]) -> np.ndarray:
    """Unit-variance smooth Gaussian random field ``shape`` float32 with correlation ``sigma`` (samples).

    Generated on a coarse grid and bilinearly upsampled (σ ≫ 1 sample, so ≈10× cheaper than filtering
    at full resolution).
    """
    sig = np.asarray(sigma, dtype=float)
    step = np.maximum(1, np.floor(sig / 2)).astype(int)
    coarse_shape = tuple(int(np.ceil(n / d)) + 2 for n, d in zip(shape, step))
    coarse = ndi.gaussian_filter(rng.standard_normal(coarse_shape, dtype=np.float32), sig / step, mode="wrap")
    field = ndi.zoom(coarse, step, order=1, grid_mode=False)[: shape[0], : shape[1]]
    return (field - field.mean()) / (field.std() + 1e-8)


@dataclass(frozen=True)
class ViewFields:
    """Random fields of one view on its polar grid ``(nr, nth)``, shared by its frames."""

    texture: np.ndarray  # lognormal tissue texture
    background: np.ndarray  # heterogeneous surrounding tissue
    hypoechoic: np.ndarray  # in [0, 1]: dark patches of surrounding tissue
    dropout: np.ndarray  # in [0, 1]: where the myocardium drops out
    specular_mod: np.ndarray  # lognormal modulation of the specular term
    ripple: np.ndarray  # (1, nth) beam-to-beam gain ripple
    strands: np.ndarray  # trabecular strands: thin across the beam, long along it
    scatterers: np.ndarray  # complex64 unit-power circular Gaussian


def sample_fields(rng: np.random.Generator, nr: int, nth: int, dr_mm: float, beam_mm: float) -> ViewFields:
    """Draw the random fields of a view; ``dr_mm`` = depth step, ``beam_mm`` = beam spacing at mid depth."""
    shape = (nr, nth)

    def sig(mm: float) -> tuple[float, float]:
        return (mm / dr_mm, mm / beam_mm)

    texture = np.exp(0.55 * smooth_field(rng, shape, sig(3)))
    background = np.exp(0.9 * smooth_field(rng, shape, sig(7)))
    hypo = 1 / (1 + np.exp(-(smooth_field(rng, shape, sig(10)) - 0.8) / 0.2))
    dropout = 1 / (1 + np.exp(-(smooth_field(rng, shape, sig(6)) - 1.2) / 0.3))
    spec_mod = np.exp(0.3 * smooth_field(rng, shape, (3 / dr_mm, 3.0)))
    ripple = np.exp(0.15 * smooth_field(rng, (1, nth), (0.0, 8.0)))
    strands = 1 / (
        1 + np.exp(-(smooth_field(rng, shape, (4.0 / dr_mm, max(0.8 / beam_mm, 1.0))) - 0.5) / 0.25)
    )
    scat = rng.standard_normal((2, nr, nth), dtype=np.float32)
    scatterers = (scat[0] + 1j * scat[1]).astype(np.complex64) / np.float32(np.sqrt(2))
    return ViewFields(
        texture.astype(np.float32), background.astype(np.float32), hypo.astype(np.float32),
        dropout.astype(np.float32), spec_mod.astype(np.float32), ripple.astype(np.float32),
        strands.astype(np.float32), scatterers,
    )  # fmt: skip
