"""Test-time augmentation passes (lunet.inference.tta): masks mapped back to where they belong."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lunet.inference.tta import (
    DEFAULT_PASSES,
    TtaPass,
    augment_input,
    pass_labels,
    passes_by_name,
    restore_labels,
)


class ThresholdNet:
    """A stand-in predictor that segments LV where the input is bright (> 0.5): logits (B, 4, S, S)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.source_size = None
        self.calls = 0

    def __call__(self, batch: np.ndarray) -> dict[str, Any]:
        self.calls += 1
        lv = (batch[:, 0] > 0.5).astype(np.float32)
        logits = np.zeros((len(batch), 4, self.size, self.size), dtype=np.float32)
        logits[:, 1] = 10.0 * lv
        logits[:, 0] = 10.0 * (1.0 - lv)
        return {"logits": logits}


def ellipse(shape: tuple[int, int], centre: tuple[float, float], radii: tuple[float, float]) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return ((rows - centre[0]) / radii[0]) ** 2 + ((cols - centre[1]) / radii[1]) ** 2 <= 1.0


def test_the_default_passes_are_small_deterministic_and_without_flips() -> None:
    assert DEFAULT_PASSES[0].identity and len(DEFAULT_PASSES) == 7
    for tta in DEFAULT_PASSES:  # inside half the training augmentation range, never a mirror
        assert 0.9 < tta.zoom < 1.1 and max(map(abs, tta.shift)) <= 0.05 and 0.8 <= tta.gamma <= 1.2
    assert passes_by_name(["identity", "gamma0.85"]) == (DEFAULT_PASSES[0], DEFAULT_PASSES[5])
    with pytest.raises(ValueError, match="unknown test-time augmentation pass"):
        passes_by_name(["flip-lr"])


def test_identity_pass_returns_the_same_mask_bit_for_bit() -> None:
    image = ellipse((64, 64), (30, 34), (14, 9)).astype(np.float32)
    net = ThresholdNet(64)
    (label,) = pass_labels(net, [[image]], [(64, 64)], DEFAULT_PASSES[0])
    assert label is not None
    np.testing.assert_array_equal(label, (image > 0.5).astype(np.uint8))
    np.testing.assert_array_equal(augment_input(image, DEFAULT_PASSES[0]), image)


@pytest.mark.parametrize("tta", DEFAULT_PASSES[1:], ids=lambda t: t.name)
def test_each_pass_maps_the_mask_back_to_the_right_place(tta: TtaPass) -> None:
    """A threshold net on a bright ellipse: under any pass the restored mask is the ellipse again (a pixel of
    boundary at most), while the augmented input itself has moved (geometric passes)."""
    truth = ellipse((96, 96), (44, 50), (22, 13))
    image = truth.astype(np.float32) * 0.9 + 0.05
    (label,) = pass_labels(ThresholdNet(96), [[image]], [(96, 96)], tta)
    assert label is not None
    restored = label == 1
    assert np.sum(restored != truth) <= 0.04 * truth.sum()  # only boundary pixels differ
    assert abs(int(restored.sum()) - int(truth.sum())) <= 0.03 * truth.sum()
    if tta.geometric:
        moved = augment_input(image, tta) > 0.5
        assert np.sum(moved != truth) > 0.06 * truth.sum()  # the pass did move the heart


def test_restore_inverts_a_known_shift_and_zoom_exactly_on_the_grid() -> None:
    """A 4-pixel shift of a 100-pixel image (0.04) is undone exactly; zoom 1.05 then its inverse keeps the
    centroid within half a pixel."""
    label = np.zeros((100, 100), dtype=np.uint8)
    label[30:60, 40:55] = 1
    shifted = np.roll(label, (4, 4), axis=(0, 1))  # what a net would segment on the shifted image
    np.testing.assert_array_equal(restore_labels(shifted, TtaPass("s", shift=(0.04, 0.04))), label)
    zoomed = TtaPass("z", zoom=1.05)
    forward = augment_input(label.astype(np.float32), zoomed) > 0.5
    back = restore_labels(forward.astype(np.uint8), zoomed)
    assert np.allclose(np.argwhere(back).mean(0), np.argwhere(label).mean(0), atol=0.5)


def test_gamma_changes_intensities_only() -> None:
    image = np.linspace(0.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    out = augment_input(image, TtaPass("g", gamma=1.15))
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out, image**1.15, rtol=1e-5, atol=1e-6)
    label = np.eye(8, dtype=np.uint8)
    assert restore_labels(label, TtaPass("g", gamma=1.15)) is label


def test_pass_labels_batches_frames_of_different_sizes() -> None:
    """Frames of two original grids in one call: each comes back on its own grid, in order."""
    net = ThresholdNet(32)
    small = ellipse((32, 32), (16, 16), (8, 6)).astype(np.float32)
    labels = pass_labels(
        net, [[small], [small], [small]], [(32, 32), (64, 48), (32, 32)], DEFAULT_PASSES[1], 2
    )
    assert [lab.shape for lab in labels if lab is not None] == [(32, 32), (64, 48), (32, 32)]
    assert net.calls == 2
