"""Known answers for Dice, d_m and d_H, and cross-checks with MedPy and MONAI."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from eval_helpers import disk
from scipy import ndimage

from lunet.evaluation.segmentation import (
    contour,
    dice,
    hausdorff_mm,
    mean_absolute_distance_mm,
    segmentation_scores,
)

SPACING = (0.3, 0.15)


def test_dice_identical_disjoint_partial() -> None:
    a = np.zeros((20, 20), bool)
    a[2:8, 2:8] = True
    b = np.zeros_like(a)
    b[10:14, 10:14] = True
    c = np.zeros_like(a)
    c[2:8, 5:11] = True  # 18 of 36 pixels shared
    assert dice(a, a) == 1.0
    assert dice(a, b) == 0.0
    assert dice(a, c) == pytest.approx(2 * 18 / 72)


def test_empty_cases() -> None:
    empty = np.zeros((16, 16), bool)
    full = np.zeros((16, 16), bool)
    full[4:9, 4:9] = True
    assert math.isnan(dice(empty, empty))
    assert dice(empty, full) == 0.0 and dice(full, empty) == 0.0
    for fn in (mean_absolute_distance_mm, hausdorff_mm):
        assert math.isnan(fn(empty, empty, SPACING))
        assert math.isnan(fn(empty, full, SPACING))
        assert math.isnan(fn(full, empty, SPACING))


@pytest.mark.parametrize("k", [1, 3, 7])
def test_shift_k_rows(k: int) -> None:
    ref = disk((160, 200), (24.0, 15.0), 12.0, SPACING)  # radius 40 rows, 80 columns
    pred = np.roll(ref, k, axis=0)
    assert hausdorff_mm(pred, ref, SPACING) == pytest.approx(k * SPACING[0], abs=1e-12)
    # For a large disk the distance to the shifted contour is ~ k·row_mm·|cos θ|, whose mean is 2/π.
    d_m = mean_absolute_distance_mm(pred, ref, SPACING)
    assert 0.45 * k * SPACING[0] < d_m < 0.8 * k * SPACING[0]


def test_shift_k_columns_uses_column_spacing() -> None:
    ref = disk((120, 200), (18.0, 15.0), 10.0, SPACING)
    pred = np.roll(ref, 4, axis=1)
    assert hausdorff_mm(pred, ref, SPACING) == pytest.approx(4 * SPACING[1], abs=1e-12)


def test_contour_is_boundary_and_inputs_unchanged() -> None:
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    edge = contour(mask)
    assert edge.sum() == 16 and not edge[3, 3]
    ref = mask.copy()
    hausdorff_mm(mask, ~mask, SPACING)
    assert np.array_equal(mask, ref)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="same shape"):
        dice(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="spacing"):
        hausdorff_mm(np.ones((4, 4)), np.ones((4, 4)), (0.0, 1.0))


def _random_masks(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.random((64, 72)), 4) > 0.5
    b = ndimage.gaussian_filter(rng.random((64, 72)), 4) > 0.5
    return a, b


@pytest.mark.parametrize("seed", range(4))
def test_matches_medpy(seed: int) -> None:
    binary = pytest.importorskip("medpy.metric.binary")
    a, b = _random_masks(seed)
    assert hausdorff_mm(a, b, SPACING) == pytest.approx(binary.hd(a, b, voxelspacing=SPACING), rel=1e-12)
    assert mean_absolute_distance_mm(a, b, SPACING) == pytest.approx(
        binary.assd(a, b, voxelspacing=SPACING), rel=1e-12
    )
    assert dice(a, b) == pytest.approx(binary.dc(a, b), rel=1e-12)


@pytest.mark.parametrize("seed", range(2))
def test_matches_monai(seed: int) -> None:
    metrics = pytest.importorskip("monai.metrics")
    import torch

    a, b = _random_masks(seed)
    ta, tb = (torch.tensor(m[None, None].astype(np.float32)) for m in (a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = float(metrics.compute_hausdorff_distance(ta, tb, include_background=True, spacing=SPACING))
        asd = float(metrics.compute_average_surface_distance(ta, tb, include_background=True, symmetric=True,
                                                             spacing=SPACING))  # fmt: skip
    assert hausdorff_mm(a, b, SPACING) == pytest.approx(hd, rel=1e-6)  # MONAI returns float32
    assert mean_absolute_distance_mm(a, b, SPACING) == pytest.approx(asd, rel=1e-6)


def test_segmentation_scores_structures() -> None:
    ref = np.zeros((40, 40), np.uint8)
    ref[10:30, 10:30] = 2
    ref[14:26, 14:26] = 1
    pred = ref.copy()
    pred[pred == 2] = 0  # myocardium missed: endo perfect, epi = endo
    scores = segmentation_scores(pred, ref, (1.0, 1.0))
    assert scores["lv_endo_dice"] == 1.0 and scores["lv_endo_hd_mm"] == 0.0
    assert scores["lv_epi_dice"] == pytest.approx(2 * 144 / (144 + 400))
    assert scores["lv_epi_hd_mm"] == pytest.approx(4 * math.sqrt(2))  # corner (10,10) to corner (14,14)


def test_kdtree_distances_equal_edt_definition() -> None:
    """Nearest-neighbour distances = distance_transform_edt(~contour, sampling) read at the other contour."""
    from lunet.evaluation.segmentation import directed_contour_distances

    a, b = _random_masks(7)
    to_b, to_a = directed_contour_distances(a, b, SPACING)
    edt_b = ndimage.distance_transform_edt(~contour(b), sampling=SPACING)[contour(a)]
    edt_a = ndimage.distance_transform_edt(~contour(a), sampling=SPACING)[contour(b)]
    np.testing.assert_allclose(np.sort(to_b), np.sort(edt_b), rtol=1e-12)
    np.testing.assert_allclose(np.sort(to_a), np.sort(edt_a), rtol=1e-12)
