"""Known answers for area, perimeter, simplicity, convexity and topology counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from eval_helpers import disk

from lunet.evaluation.shape import (
    area_mm2,
    component_count,
    convexity,
    hole_count,
    perimeter_mm,
    shape_scores,
    simplicity,
)

SPACING = (0.3, 0.15)


@pytest.mark.parametrize("radius_mm", [6.0, 12.0])
def test_disk_anisotropic(radius_mm: float) -> None:
    mask = disk((100, 200), (15.0, 15.0), radius_mm, SPACING)
    assert area_mm2(mask, SPACING) == pytest.approx(math.pi * radius_mm**2, rel=0.01)
    assert perimeter_mm(mask, SPACING) == pytest.approx(2 * math.pi * radius_mm, rel=0.03)
    assert simplicity(mask, SPACING) == pytest.approx(1.0, abs=0.03)
    assert 0.97 < convexity(mask, SPACING) <= 1.0


def test_square_and_l_shape() -> None:
    square = np.zeros((30, 30), bool)
    square[5:25, 5:25] = True
    assert perimeter_mm(square, (1.0, 1.0)) == pytest.approx(80.0, rel=0.05)  # the blur rounds the 4 corners
    assert convexity(square, (1.0, 1.0)) == pytest.approx(1.0)
    assert simplicity(square, (1.0, 1.0)) == pytest.approx(math.sqrt(4 * math.pi * 400) / 80, rel=0.05)
    ell = square.copy()
    ell[5:15, 15:25] = False  # 300 px; hull = square minus a triangle of 50 px
    assert convexity(ell, (1.0, 1.0)) == pytest.approx(300 / 350)


def test_thin_ring_has_low_simplicity_and_a_hole() -> None:
    outer = disk((80, 80), (40.0, 40.0), 30.0, (1.0, 1.0))
    inner = disk((80, 80), (40.0, 40.0), 26.0, (1.0, 1.0))
    ring = outer & ~inner
    assert simplicity(ring, (1.0, 1.0)) < 0.5
    assert hole_count(ring) == 1 and component_count(ring) == 1
    assert convexity(ring, (1.0, 1.0)) < 0.3


def test_components_holes_and_empty() -> None:
    mask = np.zeros((20, 20), bool)
    mask[2:6, 2:6] = True
    mask[10:18, 10:18] = True
    mask[13, 13] = False
    assert component_count(mask) == 2
    assert hole_count(mask) == 1
    scores = shape_scores(np.zeros((5, 5), bool), SPACING, "lv")
    assert math.isnan(scores["lv_simplicity"]) and math.isnan(scores["lv_convexity"])
    assert scores["lv_components"] == 0 and scores["lv_holes"] == 0


def test_convexity_against_skimage_solidity() -> None:
    """Our hull is that of the pixel squares, skimage's ``solidity`` rasterises the hull: ours is never
    above it, and lower by at most ~0.3 pixel / the smallest semi-axis (the continuous hull's half-pixel
    rim)."""
    from skimage.measure import regionprops

    rng = np.random.default_rng(0)
    rows, cols = (np.mgrid[:128, :128] + 0.5).astype(np.float64)
    for _ in range(50):
        a, b, theta = rng.uniform(8, 50), rng.uniform(8, 50), rng.uniform(0, math.pi)
        cy, cx = 64 + rng.uniform(-5, 5, size=2)
        u = (cols - cx) * math.cos(theta) + (rows - cy) * math.sin(theta)
        v = -(cols - cx) * math.sin(theta) + (rows - cy) * math.cos(theta)
        mask = (u / a) ** 2 + (v / b) ** 2 <= 1
        if rng.random() < 0.5:  # a notch makes it non-convex
            mask &= (cols - cx - 0.6 * a) ** 2 + (rows - cy) ** 2 >= (0.4 * min(a, b)) ** 2
        ours = convexity(mask, (1.0, 1.0))
        solidity = regionprops(mask.astype(np.uint8))[0].solidity
        assert solidity - 0.3 / min(a, b) <= ours <= solidity + 1e-12
        assert convexity(mask, SPACING) == pytest.approx(ours)  # an area ratio: spacing cancels
