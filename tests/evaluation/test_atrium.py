"""Left-atrium volume by biplane area–length: known answers on made ellipsoid sections."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunet.data.labels import Label
from lunet.evaluation.atrium import (
    area_length_ml,
    atrium_area_mm2,
    atrium_long_axis_mm,
    la_volume_ml,
    patient_la_volumes,
)

SPACING = (0.3, 0.2)  # (row_mm, col_mm): anisotropic on purpose


def _ellipse(a_mm: float, b_mm: float, spacing=SPACING, half: bool = False, ventricle: bool = False):
    """Label map of an LA ellipse: semi-axis ``a_mm`` along the rows (long axis), ``b_mm`` along the
    columns. ``half``: only the part above its widest row (the mitral plane), with, if ``ventricle``, an
    LV block below that plane."""
    rows = int(2.6 * a_mm / spacing[0])
    cols = int(2.6 * b_mm / spacing[1])
    r = (np.arange(rows) + 0.5) * spacing[0] - rows * spacing[0] / 2  # pixel centres, mm; plane at r = 0
    c = (np.arange(cols) + 0.5) * spacing[1] - cols * spacing[1] / 2
    rr, cc = np.meshgrid(r, c, indexing="ij")
    inside = (rr / a_mm) ** 2 + (cc / b_mm) ** 2 <= 1.0
    label = np.zeros((rows, cols), np.uint8)
    if half:
        inside &= rr < 0
        if ventricle:
            label[(rr >= 0) & (rr < a_mm) & (np.abs(cc) < 1.1 * b_mm)] = Label.LV
    label[inside] = Label.LA
    return label


def test_area_of_an_ellipse_within_half_a_percent():
    label = _ellipse(25.0, 18.0)
    assert atrium_area_mm2(label, SPACING) == pytest.approx(math.pi * 25 * 18, rel=5e-3)


def test_long_axis_of_a_lone_ellipse_is_its_major_axis():
    assert atrium_long_axis_mm(_ellipse(25.0, 18.0), SPACING) == pytest.approx(50.0, abs=0.3)


def test_long_axis_from_the_mitral_plane_of_a_half_ellipse():
    label = _ellipse(25.0, 18.0, half=True, ventricle=True)
    assert atrium_long_axis_mm(label, SPACING) == pytest.approx(25.0, abs=0.3)


def test_ellipsoid_volume_is_exact_for_area_length():
    a, b, c = 27.0, 20.0, 16.0  # semi-axes (mm): long, 4CH width, 2CH width
    four, two = _ellipse(a, b), _ellipse(a, c, spacing=(0.25, 0.3))
    want = 4.0 / 3.0 * math.pi * a * b * c / 1000.0
    assert la_volume_ml((four, SPACING), (two, (0.25, 0.3))) == pytest.approx(want, rel=0.02)


def test_half_ellipsoid_on_the_mitral_plane_is_exact_too():
    a, b, c = 24.0, 19.0, 17.0
    four = _ellipse(a, b, half=True, ventricle=True)
    two = _ellipse(a, c, half=True, ventricle=True)
    want = 2.0 / 3.0 * math.pi * a * b * c / 1000.0  # about 16.2 ml
    assert la_volume_ml((four, SPACING), (two, SPACING)) == pytest.approx(want, rel=0.02)


def test_the_shorter_long_axis_is_used():
    # sections pi*a*b and pi*a'*c with a' > a: L = 2a, so V = 8/(3 pi) * pi a b * pi a' c / (2a)
    four, two = _ellipse(22.0, 18.0), _ellipse(28.0, 16.0)
    want = area_length_ml(math.pi * 22 * 18, math.pi * 28 * 16, 44.0)
    assert want == pytest.approx(4 / 3 * math.pi * 28 * 18 * 16 / 1000)
    assert la_volume_ml((four, SPACING), (two, SPACING)) == pytest.approx(want, rel=0.02)


def test_empty_atrium_gives_nan_and_missing_views_too():
    empty = np.zeros((50, 40), np.uint8)
    assert math.isnan(atrium_long_axis_mm(empty, SPACING))
    assert math.isnan(la_volume_ml((empty, SPACING), (_ellipse(20.0, 15.0), SPACING)))
    assert math.isnan(patient_la_volumes({("4CH", "ES"): (_ellipse(20.0, 15.0), SPACING)})["la_esv_ml"])


def test_patient_volume_is_taken_at_end_systole():
    small, large = _ellipse(18.0, 14.0), _ellipse(26.0, 20.0)
    maps = {(v, "ED"): (small, SPACING) for v in ("2CH", "4CH")}
    maps |= {(v, "ES"): (large, SPACING) for v in ("2CH", "4CH")}
    want = 4 / 3 * math.pi * 26 * 20 * 20 / 1000
    assert patient_la_volumes(maps)["la_esv_ml"] == pytest.approx(want, rel=0.02)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="spacing"):
        atrium_area_mm2(np.zeros((4, 4), np.uint8), (0.0, 0.3))
    with pytest.raises(ValueError, match="label map"):
        atrium_area_mm2(np.zeros((2, 4, 4), np.uint8), SPACING)
