"""RU-Net's threshold → dilation → threshold stage against morphological dilation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import convolve
from skimage.morphology import dilation, disk

from lunet.models.blocks import disk_kernel, parametric_sigmoid
from lunet.models.runet import EpicardiumAttention


def _disk_mask(n: int, radius: int) -> np.ndarray:
    rows, cols = np.mgrid[:n, :n]
    return (rows - n // 2) ** 2 + (cols - n // 2) ** 2 <= radius**2


def test_disk_kernel_matches_skimage():
    for r in (0, 1, 5, 11):
        np.testing.assert_array_equal(disk_kernel(r).numpy(), disk(r).astype(np.float32))


@pytest.mark.parametrize(("radius", "dil"), [(10, 11), (20, 5), (8, 30)])
def test_attention_dilates_a_disk_like_binary_dilation(radius, dil):
    n = 128
    mask = _disk_mask(n, radius)
    # an epicardium probability: 0.9 inside, 0.1 outside, thresholded by the first sigmoid at 0.5
    prob = torch.from_numpy(np.where(mask, 0.9, 0.1).astype(np.float32))[None, None]
    attention = EpicardiumAttention(dil=dil, shift=0.5)(prob)[0, 0].numpy()
    assert attention.min() >= 0 and attention.max() <= 1
    ours = attention > 0.5
    reference = dilation(mask, disk(dil))  # binary dilation (binary_dilation is deprecated)
    # the second sigmoid keeps pixels whose disk overlaps the mask by ≥ 1 %: a slightly smaller dilation
    assert not np.any(ours & ~reference), "the soft dilation must stay inside the morphological one"
    equivalent_radius = np.sqrt(ours.sum() / np.pi)
    assert radius + dil - 4.0 <= equivalent_radius <= radius + dil + 0.5
    # the exact rule: kept iff more than 1 % of the disk around the pixel lies in the mask
    footprint = disk(dil).astype(np.float64)
    overlap = convolve(mask.astype(np.float64), footprint / footprint.sum(), mode="constant")
    assert np.sum(ours != (overlap > 0.01)) <= 4
    iou = (ours & reference).sum() / (ours | reference).sum()
    assert iou > 0.8
    # inside the original disk: one; far outside the dilated disk the paper's second sigmoid gives
    # 1 / (1 + exp(100 · 0.01)) = sigmoid(-1) ≈ 0.269, not 0 (documented in lunet.models.runet)
    assert np.all(attention[mask] > 0.99)
    np.testing.assert_allclose(attention[~reference], 1 / (1 + np.e), atol=1e-4)


def test_first_threshold_uses_the_shift():
    prob = torch.full((1, 1, 32, 32), 0.6)
    assert torch.all(EpicardiumAttention(dil=2, shift=0.5)(prob) > 0.99)
    assert torch.all(EpicardiumAttention(dil=2, shift=0.7)(prob) < 0.28)  # sigmoid(-1) floor
    torch.testing.assert_close(parametric_sigmoid(torch.tensor([0.5]), 100.0, 0.5), torch.tensor([0.5]))
