"""Crop-and-resize into a box and paste-back: exact slices, inversion, fuzzing, ONNX export."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from lunet.boxes import box_from_mask
from lunet.models.crop import (
    background_logits_fill,
    box_sampling_grid,
    crop_to_box,
    paste_from_box,
)


def _pattern(h: int = 64, w: int = 48, channels: int = 2) -> torch.Tensor:
    return torch.arange(channels * h * w, dtype=torch.float32).reshape(1, channels, h, w)


def test_grid_equals_affine_grid():
    boxes = torch.tensor([[0.1, 0.2, 0.7, 0.9], [0.0, 0.0, 1.0, 1.0], [0.3, 0.05, 0.35, 0.5]])
    sx, sy = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    tx, ty = boxes[:, 0] + boxes[:, 2] - 1, boxes[:, 1] + boxes[:, 3] - 1
    zero = torch.zeros(3)
    theta = torch.stack([torch.stack([sx, zero, tx], 1), torch.stack([zero, sy, ty], 1)], 1)
    expected = F.affine_grid(theta, [3, 1, 5, 7], align_corners=False)
    torch.testing.assert_close(box_sampling_grid(boxes, (5, 7)), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_crop_of_pixel_aligned_box_is_the_array_slice(mode):
    x = _pattern()
    r0, r1, c0, c1 = 10, 42, 5, 29  # rows 10..41, columns 5..28
    mask = np.zeros((64, 48), bool)
    mask[r0:r1, c0:c1] = True
    box = torch.as_tensor(box_from_mask(mask), dtype=torch.float32)[None]
    crop = crop_to_box(x, box, (r1 - r0, c1 - c0), mode=mode)
    assert torch.equal(crop, x[..., r0:r1, c0:c1])


def test_paste_inverts_crop_inside_the_box_and_fills_outside():
    x = _pattern(channels=1)
    box = torch.tensor([[8 / 48, 16 / 64, 40 / 48, 48 / 64]])
    crop = crop_to_box(x, box, (32, 32))
    pasted = paste_from_box(crop, box, (64, 48), fill=-1.0)
    # exact up to float rounding of the grid coordinates at the box edge
    torch.testing.assert_close(pasted[..., 16:48, 8:40], x[..., 16:48, 8:40], rtol=1e-5, atol=1e-3)
    outside = torch.ones(64, 48, dtype=torch.bool)
    outside[16:48, 8:40] = False
    assert torch.all(pasted[0, 0][outside] == -1.0)


def test_crop_is_a_resize_of_the_box():
    # a smooth (linear) image: bilinear resampling of the box must reproduce the plane exactly
    rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    x = (2.0 * rows + 3.0 * cols)[None, None]
    box = torch.tensor([[0.25, 0.25, 0.75, 0.75]])  # 32×32 pixels → 64×64: ×2 upsampling
    crop = crop_to_box(x, box, 64)
    j = torch.arange(64.0)
    src = 16 + (j + 0.5) / 2 - 0.5  # input pixel coordinate of each output pixel centre
    expected = 2.0 * src[:, None] + 3.0 * src[None, :]
    torch.testing.assert_close(crop[0, 0], expected, atol=1e-4, rtol=0)


def test_background_fill_makes_background_win_outside():
    roi = torch.randn(1, 4, 32, 32)
    roi[:, 1] += 20  # LV everywhere inside
    box = torch.tensor([[0.25, 0.25, 0.75, 0.75]])
    logits = paste_from_box(roi, box, 64, fill=background_logits_fill(4))
    labels = logits.argmax(1)[0]
    assert torch.all(labels[16:48, 16:48] == 1)
    assert labels.sum() == 32 * 32  # every other pixel is background (0)


def test_gradient_reaches_the_box():
    x = torch.randn(2, 1, 32, 32)
    box = torch.tensor([[0.1, 0.2, 0.6, 0.9], [0.3, 0.3, 0.9, 0.7]], requires_grad=True)
    crop_to_box(x, box, 16).square().sum().backward()
    assert box.grad is not None and torch.all(box.grad.abs() > 0)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="boxes of shape"):
        crop_to_box(torch.zeros(2, 1, 8, 8), torch.zeros(1, 4), 4)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        paste_from_box(torch.zeros(1, 8, 8), torch.zeros(1, 4), 4)


@st.composite
def _box_and_sizes(draw):
    n = draw(st.integers(16, 48))  # full image side
    w0 = draw(st.integers(0, n - 4))
    w1 = draw(st.integers(w0 + 4, n))
    h0 = draw(st.integers(0, n - 4))
    h1 = draw(st.integers(h0 + 4, n))
    jitter = draw(st.floats(-0.45, 0.45))  # sub-pixel misalignment of the box edges
    box = [(w0 + jitter) / n, (h0 + jitter) / n, (w1 + jitter) / n, (h1 + jitter) / n]
    roi = draw(st.integers(4, 64))
    return n, box, roi


@settings(max_examples=60, deadline=None)
@given(_box_and_sizes())
def test_fuzz_crop_then_paste_is_identity_on_smooth_images(case):
    n, box, roi = case
    # A linear ramp is reproduced exactly by bilinear interpolation wherever all 4 neighbours are sampled:
    # paste(crop(x)) must return x up to rounding at pixels lying 1 pixel inside the box (in both frames).
    rows, cols = torch.meshgrid(torch.arange(float(n)), torch.arange(float(n)), indexing="ij")
    x = (0.5 * rows - 0.25 * cols + 3.0)[None, None]
    boxes = torch.tensor([box])
    crop = crop_to_box(x, boxes, roi)
    back = paste_from_box(crop, boxes, n)
    assert crop.shape == (1, 1, roi, roi) and back.shape == (1, 1, n, n)
    assert torch.isfinite(back).all()
    # interior: pixel centres at least one ROI pixel (in image units) and one image pixel from the box edge
    bx0, by0, bx1, by1 = (v * n for v in box)
    margin_x = max(1.0, (bx1 - bx0) / roi) + 0.5
    margin_y = max(1.0, (by1 - by0) / roi) + 0.5
    centre = torch.arange(float(n)) + 0.5
    # a box may overhang the image (jitter): ROI samples there read zero padding, so the same margin applies
    # at the image border too
    inside_x = (centre > max(bx0, 0.0) + margin_x) & (centre < min(bx1, n) - margin_x)
    inside_y = (centre > max(by0, 0.0) + margin_y) & (centre < min(by1, n) - margin_y)
    inside = inside_y[:, None] & inside_x[None, :]
    if inside.any():
        torch.testing.assert_close(back[0, 0][inside], x[0, 0][inside], atol=1e-3, rtol=0)


class _CropPaste(torch.nn.Module):
    def forward(self, image: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        roi = crop_to_box(image, box, (32, 32))
        return paste_from_box(roi * 2.0, box, (64, 64), fill=background_logits_fill(1))


def test_crop_paste_exports_to_onnx(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    image = torch.randn(1, 1, 64, 64)
    box = torch.tensor([[0.1, 0.2, 0.7, 0.8]])
    path = tmp_path / "crop.onnx"
    torch.onnx.export(_CropPaste(), (image, box), str(path), opset_version=17, dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {i.name: v.numpy() for i, v in zip(session.get_inputs(), (image, box))})
    np.testing.assert_allclose(got, _CropPaste()(image, box).numpy(), atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(_box_and_sizes())
def test_fuzz_paste_then_crop_is_identity_on_smooth_rois(case):
    n, box, roi = case
    rows, cols = torch.meshgrid(torch.arange(float(roi)), torch.arange(float(roi)), indexing="ij")
    x = (0.7 * rows + 0.2 * cols - 1.0)[None, None]
    boxes = torch.tensor([box])
    back = crop_to_box(paste_from_box(x, boxes, n), boxes, roi)
    assert back.shape == x.shape and torch.isfinite(back).all()
    # interior: ROI pixels whose centre is 2 image pixels + 1 ROI pixel inside the box and the image
    bx0, by0, bx1, by1 = (v * n for v in box)
    centre = torch.arange(float(roi)) + 0.5
    cx = bx0 + centre * (bx1 - bx0) / roi  # image-pixel coordinates of the ROI pixel centres
    cy = by0 + centre * (by1 - by0) / roi
    mx, my = 2.0 + (bx1 - bx0) / roi, 2.0 + (by1 - by0) / roi
    ok_x = (cx > max(bx0, 0) + mx) & (cx < min(bx1, n) - mx)
    ok_y = (cy > max(by0, 0) + my) & (cy < min(by1, n) - my)
    inside = ok_y[:, None] & ok_x[None, :]
    if inside.any():
        torch.testing.assert_close(back[0, 0][inside], x[0, 0][inside], atol=1e-3, rtol=0)


def test_degenerate_box_gives_finite_output():
    x = torch.randn(1, 2, 16, 16)
    box = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    assert torch.isfinite(crop_to_box(x, box, 8)).all()
    assert torch.isfinite(paste_from_box(x, box, 16, fill=background_logits_fill(2))).all()
