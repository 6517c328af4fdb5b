"""The ``camus-arc`` Simpson convention (lunet's earlier ``camus``): isotropic resampling, discs at i/20
with the first just above the mitral arc, one disc height per patient.

The published ``camus``: test_simpson_published.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunet.evaluation.clinical import default_simpson_options, patient_volumes, simpson_biplane_ml
from lunet.evaluation.simpson import SimpsonOptions, isotropic_mask, long_axis

CAMUS = SimpsonOptions.for_convention("camus-arc")
#: Left Riemann sum of the half spheroid's disc areas, 20 discs from the base: Σ (1 − (i/20)²) / 20 ÷ (2/3).
START_RULE = sum(1 - (i / 20) ** 2 for i in range(20)) / 20 / (2 / 3)


def half_spheroid(a_mm: float, b_mm: float, spacing: tuple[float, float]) -> np.ndarray:
    """Section through the axis of a prolate spheroid cut at its equator: flat base at the bottom, apex up."""
    rows, cols = int(a_mm / spacing[0]) + 20, int(2 * b_mm / spacing[1]) + 16
    r = (np.arange(rows)[:, None] - rows + 10.5) * spacing[0]
    c = (np.arange(cols)[None, :] - cols / 2 + 0.5) * spacing[1]
    return ((r / a_mm) ** 2 + (c / b_mm) ** 2 <= 1) & (r <= 0)


def half_volume_ml(a_mm: float, b2_mm: float, b4_mm: float) -> float:
    return 2.0 / 3.0 * math.pi * a_mm * b2_mm * b4_mm / 1000.0


def test_isotropic_mask_repeats_the_coarse_axis():
    mask = np.random.default_rng(0).random((10, 20)) > 0.5
    iso, side = isotropic_mask(mask, (0.3, 0.15))
    assert side == 0.15 and iso.shape == (20, 20)
    np.testing.assert_array_equal(iso, np.repeat(mask, 2, axis=0))
    same, side = isotropic_mask(mask, (0.2, 0.2))
    assert side == 0.2 and same is not None and np.array_equal(same, mask)


@pytest.mark.parametrize("spacing", [(0.3, 0.15), (0.154, 0.308), (0.25, 0.25)])
def test_one_instant_is_the_start_rule_on_the_analytic_volume(spacing):
    mask = half_spheroid(45.0, 22.0, spacing)
    axis = long_axis(mask, spacing, CAMUS)
    assert axis is not None and axis.length_mm == pytest.approx(45.0, rel=0.01)
    expected = half_volume_ml(45.0, 22.0, 22.0) * START_RULE
    assert simpson_biplane_ml(mask, spacing, mask, spacing, CAMUS) == pytest.approx(expected, rel=0.015)


def test_anisotropic_pixels_give_the_isotropic_volume():
    coarse = half_spheroid(40.0, 20.0, (0.3, 0.15))
    fine = half_spheroid(40.0, 20.0, (0.15, 0.15))
    v_coarse = simpson_biplane_ml(coarse, (0.3, 0.15), coarse, (0.3, 0.15), CAMUS)
    v_fine = simpson_biplane_ml(fine, (0.15, 0.15), fine, (0.15, 0.15), CAMUS)
    assert v_coarse == pytest.approx(v_fine, rel=0.01)


def test_one_disc_height_per_patient_inflates_esv_by_the_axis_ratio():
    sp2, sp4 = (0.3, 0.15), (0.2, 0.3)
    a_ed, a_es = 45.0, 35.0
    masks = {
        ("2CH", "ED"): (half_spheroid(a_ed, 22.0, sp2), sp2),
        ("4CH", "ED"): (half_spheroid(a_ed, 25.0, sp4), sp4),
        ("2CH", "ES"): (half_spheroid(a_es, 16.0, sp2), sp2),
        ("4CH", "ES"): (half_spheroid(a_es, 18.0, sp4), sp4),
    }
    edv, esv = half_volume_ml(a_ed, 22.0, 25.0), half_volume_ml(a_es, 16.0, 18.0)
    camus = patient_volumes(masks, CAMUS)
    assert camus["edv_ml"] == pytest.approx(edv * START_RULE, rel=0.015)
    # ES discs are sampled along the ES axis but stacked with the ED disc height (45/20 mm instead of 35/20)
    assert camus["esv_ml"] == pytest.approx(esv * START_RULE * a_ed / a_es, rel=0.015)
    geometric = patient_volumes(masks)
    assert geometric["edv_ml"] == pytest.approx(edv, rel=0.01)
    assert geometric["esv_ml"] == pytest.approx(esv, rel=0.01)
    truth_ef = 100 * (edv - esv) / edv
    assert geometric["ef_percent"] == pytest.approx(truth_ef, abs=0.5)
    camus_ef = 100 * (1 - esv * a_ed / a_es / edv)
    assert camus["ef_percent"] == pytest.approx(camus_ef, abs=0.7)
    assert camus["ef_percent"] < truth_ef - 10


def test_shared_height_uses_the_masks_present():
    sp = (0.25, 0.25)
    ed = half_spheroid(40.0, 20.0, sp)
    only_ed = patient_volumes({("2CH", "ED"): (ed, sp), ("4CH", "ED"): (ed, sp)}, CAMUS)
    assert only_ed["edv_ml"] == pytest.approx(simpson_biplane_ml(ed, sp, ed, sp, CAMUS))
    assert math.isnan(only_ed["esv_ml"]) and math.isnan(only_ed["ef_percent"])


def test_conventions_and_their_defaults():
    assert CAMUS.disc_position == "start" and CAMUS.n_discs == 20
    assert default_simpson_options(synthetic=False).convention == "camus"
    assert default_simpson_options(synthetic=True).convention == "geometric"
    assert default_simpson_options(synthetic=True, convention="camus-arc") == CAMUS
    assert SimpsonOptions.for_convention("camus").disc_position == "start"
    with pytest.raises(ValueError, match="convention"):
        SimpsonOptions.for_convention("teichholz")
    with pytest.raises(ValueError, match="disc_position"):
        SimpsonOptions(disc_position="end")


def test_phantom_volumes_follow_the_shared_disc_height(tmp_path):
    """Circular phantom (SYNTHETIC): camus / truth = (longest of the four axes / this instant's axis) × the
    i/20 quadrature excess (2–3 % on the phantom's tapering cavity); geometric within 1 % of the truth."""
    import json

    from lunet.data.synthetic.generate import generate_dataset
    from lunet.evaluation.evaluate import reference_volumes

    root = generate_dataset(tmp_path / "phantom", 1, seed=3, workers=1, circular=True, progress=False)
    truth = json.loads(next(root.rglob("phantom_truth.json")).read_text())
    lengths = {}
    for view, data in truth["views"].items():
        for instant, points in data["instants"].items():
            base = (np.array(points["base_left_mm"]) + np.array(points["base_right_mm"])) / 2
            lengths[(view, instant)] = float(np.hypot(*(np.array(points["apex_mm"]) - base)))
    camus = reference_volumes(root, CAMUS)["patients"]["patient0001"]
    geometric = reference_volumes(root, SimpsonOptions())["patients"]["patient0001"]
    for instant, key in (("ED", "edv_ml"), ("ES", "esv_ml")):
        axis_ratio = max(lengths.values()) / max(lengths[("2CH", instant)], lengths[("4CH", instant)])
        assert 1.0 < camus[key] / truth[key] / axis_ratio < 1.05, instant
        assert geometric[key] == pytest.approx(truth[key], rel=0.01)
    assert camus["esv_ml"] / truth["esv_ml"] > 1.1  # ES discs stacked with the ED disc height
