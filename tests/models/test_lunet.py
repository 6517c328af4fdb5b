"""LU-Net composition, the oracle, and the box parametrisation of the regressors."""

from __future__ import annotations

import hypothesis.strategies as st
import torch
from hypothesis import given, settings

from lunet.models import create_model
from lunet.models.crop import crop_to_box
from lunet.models.localizers import order_box


def _soft_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    probs = logits.softmax(1)[:, 1:3]
    target = target[:, 1:3]
    inter = (probs * target).sum((2, 3))
    return 1 - (2 * inter / (probs.sum((2, 3)) + target.sum((2, 3)) + 1e-6)).mean()


def test_roi_loss_gradient_reaches_the_localizer_through_the_crop():
    torch.manual_seed(0)
    model = create_model("lunet")
    image = torch.randn(1, 1, 64, 64)
    labels = torch.zeros(1, 64, 64, dtype=torch.long)
    labels[:, 20:44, 16:40] = 2
    labels[:, 26:38, 22:34] = 1
    out = model(image)
    one_hot = torch.nn.functional.one_hot(labels, 4).permute(0, 3, 1, 2).float()
    target = crop_to_box(
        one_hot, out.box, out.roi_logits.shape[-2:]
    )  # training crops the labels the same way
    _soft_dice_loss(out.roi_logits, target).backward()
    head = model.localizer.head.fc
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    # the localizer's own U-Net gets a gradient through the box only (its logits are not in this loss)
    assert model.localizer.unet.encoder.levels[0][0][0].weight.grad.abs().sum() > 0


def test_lunet_output_geometry():
    model = create_model("lunet", roi_size=32).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 64, 64))
    assert out.roi_logits.shape == (1, 4, 32, 32)
    assert out.logits.shape == out.coarse_logits.shape == (1, 4, 64, 64)
    x0, y0, x1, y1 = (float(v) * 64 for v in out.box[0])
    labels = out.logits.argmax(1)[0]
    rows, cols = torch.meshgrid(torch.arange(64) + 0.5, torch.arange(64) + 0.5, indexing="ij")
    outside = (cols < x0 - 1) | (cols > x1 + 1) | (rows < y0 - 1) | (rows > y1 + 1)
    assert torch.all(labels[outside] == 0), "outside the box the background must win"
    assert model.box_margin == 0.05


def test_oracle_with_the_whole_image_box_is_unet1():
    torch.manual_seed(0)
    model = create_model("unet1-oracle").eval()
    image = torch.randn(2, 1, 64, 64)
    box = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 2)
    with torch.no_grad():
        out = model(image, box)
        direct = model.segmenter(image)
    torch.testing.assert_close(out.roi_logits, direct)
    torch.testing.assert_close(out.logits, direct, atol=1e-4, rtol=0)
    assert torch.equal(out.box, box)


def test_roi_size_must_be_a_multiple_of_32():
    import pytest

    with pytest.raises(ValueError, match="multiples of 32"):
        create_model("lunet", roi_size=100)


def test_order_box_known_values():
    unit = torch.tensor([[0.8, 0.1, 0.2, 0.9], [0.5, 0.5, 0.5, 0.5], [0.0, 0.99, 0.001, 1.0]])
    boxes = order_box(unit, min_extent=0.1)
    torch.testing.assert_close(boxes[0], torch.tensor([0.2, 0.1, 0.8, 0.9]))
    torch.testing.assert_close(boxes[1], torch.tensor([0.45, 0.45, 0.55, 0.55]))
    torch.testing.assert_close(boxes[2], torch.tensor([0.0, 0.9, 0.1, 1.0]))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4), st.floats(0.01, 0.5))
def test_fuzz_order_box_gives_valid_boxes(values, min_extent):
    box = order_box(torch.tensor([values], dtype=torch.float64), min_extent)[0]
    assert torch.all(box >= -1e-12) and torch.all(box <= 1 + 1e-12)
    assert torch.all(box[2:] - box[:2] >= min_extent - 1e-9)
    image = torch.randn(1, 1, 32, 32, dtype=torch.float64)
    assert torch.isfinite(crop_to_box(image, box[None], 16)).all()
