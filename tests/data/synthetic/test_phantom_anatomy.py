"""Known answers of the 3-D LV model: volumes, exact EF, conserved myocardium."""

from __future__ import annotations

import numpy as np
import pytest

from lunet.data.synthetic.anatomy import (
    epicardial_volume_ml,
    inside_endocardium,
    interpolate_phase,
    lv_volume_ml,
    phase_volume_ml,
    sample_ef,
    sample_heart,
)


def test_full_and_half_spheroid_volumes():
    # f = 1, p = 1: the whole tri-axial ellipsoid with semi-axes L/2, b1, b2 -> 4/3·π·a·b1·b2
    assert lv_volume_ml(80.0, 1.0, 20.0, 25.0, 1.0) == pytest.approx(
        4 / 3 * np.pi * 40 * 20 * 25 / 1000, rel=1e-6
    )
    # f = 0: half of the ellipsoid with semi-axes L, b1, b2 (truncated at its equator)
    assert lv_volume_ml(80.0, 0.0, 20.0, 20.0, 1.0) == pytest.approx(
        2 / 3 * np.pi * 80 * 20 * 20 / 1000, rel=1e-6
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_analytic_volume_matches_voxelised_model(seed):
    heart = sample_heart(np.random.default_rng(seed))
    phase = heart.ed
    h = 0.5  # mm voxels
    r = max(phase.b1_mm, phase.b2_mm) * 1.3
    x1 = np.arange(-r, r, h) + h / 2
    x2 = x1.copy()
    w = np.arange(0.0, phase.length_mm, h) + h / 2
    count = 0
    for wk in np.array_split(w, 8):
        a, b, c = np.meshgrid(x1, x2, wk, indexing="ij", sparse=True)
        count += int(inside_endocardium(a, b, c, heart, phase).sum())
    voxel_ml = count * h**3 / 1000
    assert voxel_ml == pytest.approx(heart.edv_ml, rel=0.01)


@pytest.mark.parametrize("seed", range(6))
def test_esv_hits_target_ef_exactly_and_myocardium_is_conserved(seed):
    heart = sample_heart(np.random.default_rng(seed))
    esv = phase_volume_ml(heart, heart.es)
    edv = phase_volume_ml(heart, heart.ed)
    assert 100 * (edv - esv) / edv == pytest.approx(heart.target_ef_percent, abs=1e-9)
    assert heart.ef_percent == pytest.approx(heart.target_ef_percent, abs=1e-9)
    assert 10 <= heart.ef_percent <= 80
    assert heart.es.length_mm < heart.ed.length_mm  # the base descends
    myo_ed = epicardial_volume_ml(heart.ed, heart.truncation, heart.bluntness, heart.eps) - edv
    myo_es = epicardial_volume_ml(heart.es, heart.truncation, heart.bluntness, heart.eps) - esv
    assert myo_es == pytest.approx(myo_ed, rel=1e-6)
    assert heart.es.wall_mm > heart.ed.wall_mm


def test_circular_option_and_interpolation():
    heart = sample_heart(np.random.default_rng(3), circular=True)
    assert heart.circular and heart.ed.b1_mm == heart.ed.b2_mm and heart.bend == 0.0
    assert interpolate_phase(heart, 0.0) == heart.ed and interpolate_phase(heart, 1.0) == heart.es
    mid = phase_volume_ml(heart, interpolate_phase(heart, 0.5))
    assert heart.esv_ml < mid < heart.edv_ml


def test_ef_distribution_follows_the_camus_mix():
    rng = np.random.default_rng(0)
    efs = np.array([sample_ef(rng) for _ in range(4000)])  # the EF draw of sample_heart
    assert efs.min() < 20 and efs.max() > 70
    assert 0.45 <= np.mean(efs <= 45) <= 0.55  # CAMUS: EF ≤ 45 % in about half the patients
    assert 0.17 <= np.mean(efs >= 55) <= 0.25  # ≥ 55 % in about a fifth
    hearts = [sample_heart(np.random.default_rng(s)) for s in range(120)]
    walls = np.array([h.ed.wall_mm for h in hearts])
    low = np.array([h.ef_percent <= 45 for h in hearts])
    assert walls[low].mean() < walls[~low].mean()  # dilated, thin-walled low-EF ventricles
    assert np.mean(walls > 11) > 0.03  # some thick (hypertrophic) walls
