"""Resize (spacing carried), nearest labels, min-max normalisation: known answers and torch references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lunet.data.preprocess import (
    normalize_intensity,
    prepare_image,
    resize_image,
    resize_label,
    resized_spacing,
)


def test_resized_spacing_known_answer():
    # 843 x 512 at (0.154, 0.154) mm -> 256 x 256: rows 0.154*843/256, cols 0.154*512/256 = 0.308
    assert resized_spacing((0.154, 0.154), (843, 512), (256, 256)) == pytest.approx((0.50711719, 0.308))
    image = np.zeros((64, 48), np.uint8)
    out, spacing = resize_image(image, (0.308, 0.154), 32)
    assert out.shape == (32, 32) and out.dtype == np.float32
    assert spacing == pytest.approx((0.616, 0.231))
    _, spacing = resize_label(image, (0.308, 0.154), (128, 96))
    assert spacing == pytest.approx((0.154, 0.077))


def test_physical_extent_is_preserved():
    for shape in [(843, 512), (64, 48), (7, 300)]:
        spacing = resized_spacing((0.3, 0.2), shape, (256, 256))
        assert spacing[0] * 256 == pytest.approx(0.3 * shape[0]) and spacing[1] * 256 == pytest.approx(
            0.2 * shape[1]
        )


def test_bilinear_matches_torch_align_corners_false_inside():
    image = np.random.default_rng(0).random((40, 30)).astype(np.float32)
    out, _ = resize_image(image, (1.0, 1.0), (64, 64))
    ref = F.interpolate(
        torch.from_numpy(image)[None, None], size=(64, 64), mode="bilinear", align_corners=False
    )
    np.testing.assert_allclose(out[2:-2, 2:-2], ref[0, 0, 2:-2, 2:-2].numpy(), atol=1e-5)


@pytest.mark.parametrize(("shape", "size"), [((64, 48), 256), ((843, 512), (256, 256)), ((30, 30), 7)])
def test_nearest_labels_match_torch_nearest_exact(shape, size):
    label = np.random.default_rng(1).integers(0, 4, shape).astype(np.uint8)
    out, _ = resize_label(label, (0.3, 0.15), size)
    target = (size, size) if isinstance(size, int) else size
    ref = F.interpolate(torch.from_numpy(label)[None, None].float(), size=target, mode="nearest-exact")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, ref[0, 0].numpy().astype(np.uint8))


def test_label_resize_keeps_only_existing_labels_and_areas():
    rows, cols = np.mgrid[:200, :100]
    label = ((np.hypot((rows - 100) * 0.15, (cols - 50) * 0.3) <= 9.0) * 1).astype(np.uint8)
    out, spacing = resize_label(label, (0.15, 0.3), 256)
    assert set(np.unique(out)) == {0, 1}
    area = out.sum() * spacing[0] * spacing[1]
    assert area == pytest.approx(np.pi * 81, rel=0.02)


def test_normalize_intensity_min_max():
    image = np.array([[10, 20], [30, 50]], np.uint8)
    np.testing.assert_allclose(normalize_intensity(image), [[0, 0.25], [0.5, 1.0]])
    assert normalize_intensity(image).dtype == np.float32
    np.testing.assert_array_equal(normalize_intensity(np.full((3, 3), 7.0)), np.zeros((3, 3)))
    scaled = normalize_intensity(image.astype(np.float64) * 3.5 + 100)
    np.testing.assert_allclose(scaled, normalize_intensity(image), atol=1e-6)
    with_nan = normalize_intensity(np.array([[np.nan, 0.0], [2.0, 4.0]]))
    np.testing.assert_allclose(with_nan, [[0, 0], [0.5, 1]])


def test_prepare_image_is_resize_then_normalize():
    image = np.random.default_rng(2).integers(0, 256, (64, 48)).astype(np.uint8)
    out, spacing = prepare_image(image, (0.308, 0.154), 32)
    resized, spacing2 = resize_image(image, (0.308, 0.154), 32)
    np.testing.assert_array_equal(out, normalize_intensity(resized))
    assert spacing == spacing2 and out.min() == 0.0 and out.max() == 1.0


def test_bad_resize_arguments():
    with pytest.raises(ValueError, match="size must be positive"):
        resize_image(np.zeros((4, 4)), (1, 1), 0)
    with pytest.raises(ValueError, match="expects \\(rows, cols\\)"):
        resize_label(np.zeros((2, 4, 4)), (1, 1), 8)


def test_check_spacing_is_the_one_spacing_rule():
    from lunet.data.preprocess import check_spacing

    class ReaderError(ValueError):
        pass

    assert check_spacing((np.float32(0.25), 1)) == (0.25, 1.0)
    for bad in ((0.0, 0.3), (-0.1, 0.3), (float("nan"), 0.3), (0.3, float("inf"))):
        with pytest.raises(ReaderError, match=r"^a\.mhd: invalid pixel spacing .*must be > 0 and finite"):
            check_spacing(bad, "a.mhd", ReaderError)
    with pytest.raises(ValueError, match=r"^spacing: pixel spacing must be two numbers"):
        check_spacing((0.3,))
