"""Opt-in check of the phantom's imaging model against the pymust physics simulator (SYNTHETIC media).

Runs a reduced ``bench/bench_phantom_physics.py`` (uniform speckle at 60 and 90 mm, ≈1–2 min on one core):
``pytest -m slow tests/bench/test_phantom_physics.py`` with the ``physics`` extra installed.
The tolerances are what the full benchmark measured (BENCHMARKS.md, "Phantom imaging model vs a physics
simulator"); they are not loosened to pass.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

DEPTHS = (60.0, 90.0)


@pytest.fixture(scope="module")
def speckle():
    pytest.importorskip("pymust")  # here, not at module level: collecting the default suite never imports it
    from _pymust_reference import probe, wavelength_mm
    from bench_phantom_physics import uniform_fast, uniform_pymust

    param = probe()
    fast = uniform_fast(range(3, 11), wavelength_mm(param), DEPTHS)  # 8 cheap draws: mean size
    ref = uniform_pymust(param, 3, DEPTHS, 4000, dth=0.004, dr=0.1)  # one draw, the costly one
    return fast, ref


def _sizes(patches, depth: float) -> np.ndarray:
    """(axial, lateral) speckle FWHM in mm at ``depth``, averaged over the patches' draws."""
    return np.mean([p.speckle_mm() for p in patches if p.depth_mm == depth], axis=0)


def test_both_envelopes_are_rayleigh(speckle):
    from _speckle_metrics import RAYLEIGH_SNR, depth_normalised, rayleigh_statistics

    fast, ref = speckle
    for patches in (fast, ref):
        snr, ks = rayleigh_statistics(np.concatenate([depth_normalised(p.envelope).ravel() for p in patches]))
        assert snr == pytest.approx(RAYLEIGH_SNR, rel=0.06)
        assert ks < 0.04


def test_lateral_speckle_grows_with_depth_and_agrees_within_a_factor_1_5(speckle):
    fast, ref = speckle
    lateral_ref = [_sizes(ref, d)[1] for d in DEPTHS]
    lateral_fast = [_sizes(fast, d)[1] for d in DEPTHS]
    assert lateral_ref[1] > 1.2 * lateral_ref[0] and lateral_fast[1] > 1.2 * lateral_fast[0]
    for f, r in zip(lateral_fast, lateral_ref):
        assert 1 / 1.5 < f / r < 1.5


@pytest.mark.xfail(
    strict=True,
    reason="known disagreement (BENCHMARKS.md): the fast model's axial speckle is 1.4-1.8x pymust's "
    "(render.py sig_r = 0.55 λ); strict, so adopting the proposed change makes this test report it",
)
def test_axial_speckle_agrees_within_25_percent(speckle):
    fast, ref = speckle
    for d in DEPTHS:
        ratio = _sizes(fast, d)[0] / _sizes(ref, d)[0]
        assert 1 / 1.25 < ratio < 1.25
