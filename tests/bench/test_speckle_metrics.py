"""Known-answer tests of the speckle / contrast estimators of ``bench/_speckle_metrics.py``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from _speckle_metrics import (
    RAYLEIGH_SNR,
    autocovariance,
    contrast,
    eroded,
    half_max_width,
    rayleigh_statistics,
    speckle_size_mm,
)


def _speckle(rng: np.random.Generator, shape: tuple[int, int], sigma: tuple[float, float]) -> np.ndarray:
    """Envelope of circular complex Gaussian noise filtered by a Gaussian PSF of std ``sigma`` (samples)."""
    z = rng.standard_normal((2, *shape))
    return np.hypot(ndi.gaussian_filter(z[0], sigma), ndi.gaussian_filter(z[1], sigma))


def test_autocovariance_matches_direct_sum():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 40)).cumsum(axis=1)
    got = autocovariance(a, axis=1)
    c = a - a.mean(axis=1, keepdims=True)
    direct = np.array([np.mean([np.mean(r[: 40 - k] * r[k:]) for r in c]) for k in range(40)])
    np.testing.assert_allclose(got, direct / direct[0], rtol=1e-9, atol=1e-12)


def test_half_max_width_of_a_gaussian():
    s, step = 3.0, 0.7
    lags = np.arange(40) * step
    assert half_max_width(np.exp(-(lags**2) / (2 * s**2)), step) == pytest.approx(2.3548 * s, rel=0.01)
    assert np.isnan(half_max_width(np.ones(10), 1.0))


def test_speckle_size_is_the_psf_fwhm():
    # intensity autocovariance = |PSF autocorrelation|² = a Gaussian of the PSF's own σ: FWHM = 2.355 σ
    rng = np.random.default_rng(1)
    sig_r, sig_t, dr, dth, r_mm = 2.0, 3.0, 0.1, 0.004, 60.0
    env = _speckle(rng, (600, 600), (sig_r, sig_t))
    axial, lateral = speckle_size_mm(env, dr, dth, r_mm)
    assert axial == pytest.approx(2.3548 * sig_r * dr, rel=0.1)
    assert lateral == pytest.approx(2.3548 * sig_t * dth * r_mm, rel=0.1)


def test_rayleigh_statistics():
    rng = np.random.default_rng(2)
    snr, ks = rayleigh_statistics(rng.rayleigh(3.0, 200_000))
    assert snr == pytest.approx(RAYLEIGH_SNR, abs=0.02)
    assert ks < 0.01
    snr_ln, ks_ln = rayleigh_statistics(rng.lognormal(0.0, 1.0, 200_000))  # not speckle
    assert snr_ln < 1.0 and ks_ln > 0.1


def test_contrast_of_two_rayleigh_regions():
    rng = np.random.default_rng(3)
    img = rng.rayleigh(1.0, (200, 200))
    img[:, 100:] *= 10.0  # 20 dB brighter
    tissue = np.zeros(img.shape, bool)
    tissue[:, 100:] = True
    c = contrast(img, tissue, ~tissue)
    assert c["contrast_db"] == pytest.approx(20.0, abs=0.2)
    assert c["gcnr"] > 0.9
    same = contrast(rng.rayleigh(1.0, (200, 200)), tissue, ~tissue)
    assert abs(same["contrast_db"]) < 0.2 and same["gcnr"] < 0.05


def test_eroded_shrinks_by_the_margin_in_mm():
    mask = np.zeros((100, 100), bool)
    mask[20:80, 20:80] = True
    out = eroded(mask, 2.0, 0.5, 1.0)  # 2 mm = 4 rows, 2 columns
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    assert (rows[0], rows[-1]) == (24, 75)
    assert (cols[0], cols[-1]) == (22, 77)
