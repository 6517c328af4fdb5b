"""Simpson's biplane rule (geometric convention) against analytic spheroid volumes; EF."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from lunet.evaluation.clinical import (
    SimpsonOptions,
    ejection_fraction_percent,
    patient_volumes,
    simpson_biplane_ml,
)


def spheroid_section(
    a_mm: float, b_mm: float, spacing: tuple[float, float], half: bool = False
) -> np.ndarray:
    """Section through the axis of a prolate spheroid (semi-axis a along rows, circular sections of radius b).

    Every plane through the long axis cuts the same ellipse; pixels are inside when their centre is. With
    ``half`` the spheroid is cut at its equator (flat base at the bottom, apex up: an LV-like shape).
    """
    rows, cols = int(2 * a_mm / spacing[0]) + 16, int(2 * b_mm / spacing[1]) + 16
    r = (np.arange(rows)[:, None] - rows / 2 + 0.5) * spacing[0]
    c = (np.arange(cols)[None, :] - cols / 2 + 0.5) * spacing[1]
    mask = (r / a_mm) ** 2 + (c / b_mm) ** 2 <= 1
    return mask & (r <= 0) if half else mask


@pytest.mark.parametrize("spacing", [(0.3, 0.3), (0.3, 0.15), (0.154, 0.308)])
@pytest.mark.parametrize("half", [False, True])
def test_spheroid_volume_within_1_percent(spacing: tuple[float, float], half: bool) -> None:
    a, b = 45.0, 22.0
    mask = spheroid_section(a, b, spacing, half)
    exact = 4.0 / 3.0 * math.pi * a * b * b / 1000.0 * (0.5 if half else 1.0)
    assert simpson_biplane_ml(mask, spacing, mask, spacing) == pytest.approx(exact, rel=0.01)


def test_views_with_different_spacings_and_elliptic_sections() -> None:
    a, b2, b4 = 40.0, 18.0, 22.0  # half ellipsoid with semi-axes b2 (2CH plane) and b4 (4CH plane)
    m2 = spheroid_section(a, b2, (0.3, 0.15), half=True)
    m4 = spheroid_section(a, b4, (0.2, 0.3), half=True)
    exact = 2.0 / 3.0 * math.pi * a * b2 * b4 / 1000.0
    assert simpson_biplane_ml(m2, (0.3, 0.15), m4, (0.2, 0.3)) == pytest.approx(exact, rel=0.01)


def test_start_rule_overestimates_half_spheroid() -> None:
    mask = spheroid_section(45.0, 22.0, (0.3, 0.3), half=True)
    exact = 2.0 / 3.0 * math.pi * 45.0 * 22.0 * 22.0 / 1000.0
    start = simpson_biplane_ml(mask, (0.3, 0.3), mask, (0.3, 0.3), SimpsonOptions(disc_position="start"))
    assert start / exact - 1 == pytest.approx(0.0344, abs=0.01)  # left Riemann sum of 1 - t²: +3.4 %


def test_ef_from_two_spheroids() -> None:
    sp = (0.3, 0.3)
    ed, es = spheroid_section(45.0, 24.0, sp, half=True), spheroid_section(38.0, 18.0, sp, half=True)
    masks = {
        ("2CH", "ED"): (ed, sp),
        ("4CH", "ED"): (ed, sp),
        ("2CH", "ES"): (es, sp),
        ("4CH", "ES"): (es, sp),
    }
    volumes = patient_volumes(masks)
    edv, esv = 2 / 3 * math.pi * 45 * 24**2 / 1000, 2 / 3 * math.pi * 38 * 18**2 / 1000
    assert volumes["edv_ml"] == pytest.approx(edv, rel=0.01)
    assert volumes["esv_ml"] == pytest.approx(esv, rel=0.01)
    assert volumes["ef_percent"] == pytest.approx(100 * (edv - esv) / edv, abs=1.0)
    assert ejection_fraction_percent(100.0, 40.0) == pytest.approx(60.0)
    assert math.isnan(ejection_fraction_percent(0.0, 10.0))


def test_degenerate_masks_give_nan_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    sp = (0.3, 0.3)
    good = spheroid_section(30.0, 15.0, sp, half=True)
    one = np.zeros_like(good)
    one[10, 10] = True
    with caplog.at_level(logging.WARNING):
        assert math.isnan(simpson_biplane_ml(np.zeros_like(good), sp, good, sp))
        assert math.isnan(simpson_biplane_ml(good, sp, one, sp))
    assert "degenerate 2CH" in caplog.text and "degenerate 4CH" in caplog.text
    assert math.isnan(patient_volumes({("2CH", "ED"): (good, sp)})["edv_ml"])
