"""Measurable physics of an envelope image in beam coordinates: speckle size, envelope statistics, contrast.

Pure functions over numpy arrays ``(nr, nth)`` (depth samples × beams) with their sample spacing given
explicitly (mm, rad). Used by ``bench_phantom_physics.py`` on both the pymust reference and the phantom's
fast model, so both images are measured by the same estimator.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy import stats


def autocovariance(envelope: np.ndarray, axis: int) -> np.ndarray:
    """Normalised autocovariance (1 at lag 0) of ``envelope`` along ``axis``, averaged over the other axis.

    Each line is made zero-mean first (removes slow depth / beam trends). Lags 0 … n−1, unbiased
    (divided by the number of overlapping samples).
    """
    a = np.moveaxis(np.asarray(envelope, np.float64), axis, -1)
    a = a - a.mean(axis=-1, keepdims=True)
    n = a.shape[-1]
    spec = np.fft.rfft(a, 2 * n, axis=-1)
    acov = np.fft.irfft(spec * np.conj(spec), 2 * n, axis=-1)[..., :n].mean(axis=0)
    acov = acov / (n - np.arange(n))
    return acov / acov[0]


def half_max_width(acov: np.ndarray, step: float) -> float:
    """Full width at half maximum of a normalised autocovariance sampled every ``step`` (same unit).

    The first crossing of 0.5 is interpolated linearly between samples; FWHM = 2 × that lag.
    Returns NaN when the curve never drops below 0.5.
    """
    below = np.flatnonzero(acov < 0.5)
    if below.size == 0:
        return float("nan")
    k = int(below[0])
    lag = (k - 1) + (acov[k - 1] - 0.5) / (acov[k - 1] - acov[k])
    return float(2.0 * lag * step)


def speckle_size_mm(envelope: np.ndarray, dr_mm: float, dth_rad: float, r_mm: float) -> tuple[float, float]:
    """(axial, lateral) speckle size in mm: FWHM of the envelope autocovariance at depth ``r_mm``.

    Args:
        envelope: ``(nr, nth)`` envelope of a uniform region (before log compression).
        dr_mm: depth step (mm); dth_rad: beam step (rad); r_mm: depth of the region (lateral mm = r·θ).
    """
    axial = half_max_width(autocovariance(envelope, 0), dr_mm)
    lateral = half_max_width(autocovariance(envelope, 1), dth_rad * r_mm)
    return axial, lateral


def depth_normalised(envelope: np.ndarray) -> np.ndarray:
    """Envelope divided by a smooth depth profile: √(quadratic fit of the mean intensity of each depth row).

    Removes the beam's depth profile (focus, spreading) without flattening the speckle itself (a per-row
    normalisation would, with only a few speckles across a row).
    """
    a = np.asarray(envelope, np.float64)
    rows = np.arange(a.shape[0], dtype=np.float64)
    profile = np.polyval(np.polyfit(rows, np.mean(a**2, axis=1), 2), rows)
    return a / np.sqrt(np.maximum(profile, 1e-30))[:, None]


def rayleigh_statistics(samples: np.ndarray) -> tuple[float, float]:
    """(SNR = mean/std, Kolmogorov–Smirnov distance to a Rayleigh law) of envelope samples.

    The Rayleigh scale is fitted by maximum likelihood (σ² = mean(A²)/2). Fully developed speckle has
    SNR = √(π/(4 − π)) ≈ 1.91. Neighbouring speckle samples are correlated, so only the distance D is
    meaningful (its p-value is not).
    """
    a = np.ravel(samples).astype(np.float64)
    sigma = np.sqrt(np.mean(a**2) / 2.0)
    return float(a.mean() / a.std()), float(stats.kstest(a / sigma, "rayleigh").statistic)


RAYLEIGH_SNR = float(np.sqrt(np.pi / (4.0 - np.pi)))


def eroded(mask: np.ndarray, margin_mm: float, dr_mm: float, beam_mm: float) -> np.ndarray:
    """``mask`` shrunk by ``margin_mm`` (sample spacing ``dr_mm`` in depth, ``beam_mm`` across beams)."""
    return ndi.distance_transform_edt(mask, sampling=(dr_mm, beam_mm)) > margin_mm


def contrast(envelope: np.ndarray, tissue: np.ndarray, blood: np.ndarray) -> dict[str, float]:
    """Blood-vs-tissue contrast of an envelope image over two boolean masks.

    Returns:
        ``contrast_db`` = 10·log10(mean intensity tissue / mean intensity blood); ``cnr`` =
        (μ_tissue − μ_blood)/√(σ²_tissue + σ²_blood) of the envelope; ``gcnr`` = 1 − overlap of the two
        envelope histograms (generalised CNR, Rodriguez-Molares et al. 2019; 1 = fully separable).
    """
    t, b = envelope[tissue].astype(np.float64), envelope[blood].astype(np.float64)
    out = {
        "contrast_db": float(10 * np.log10(np.mean(t**2) / np.mean(b**2))),
        "cnr": float((t.mean() - b.mean()) / np.sqrt(t.var() + b.var())),
    }
    edges = np.histogram_bin_edges(np.log(np.concatenate([t, b]) + 1e-12), bins=200)
    ht, _ = np.histogram(np.log(t + 1e-12), edges)
    hb, _ = np.histogram(np.log(b + 1e-12), edges)
    out["gcnr"] = float(1.0 - np.minimum(ht / ht.sum(), hb / hb.sum()).sum())
    return out
