"""Differentiable crop-and-resize into a box, and its inverse paste-back (LU-Net, TUFFC 2020, Sec. III-B3).

Geometry (see :mod:`lunet.boxes`): a box is normalised ``(x_min, y_min, x_max, y_max)`` with pixel *edges*
as reference, which is ``grid_sample``'s ``align_corners=False`` convention. In grid coordinates
``X = 2·x - 1`` the crop maps an output coordinate ``u ∈ [-1, 1]`` to ``X = t + s·u`` with
``s = x_max - x_min``
and ``t = x_min + x_max - 1`` (same for y). A box aligned to pixel edges cropped to its own pixel size
therefore reproduces the array slice exactly; paste uses the inverse map ``u = (X - t) / s``.

The sampling grid is built from elementwise arithmetic (it equals ``F.affine_grid`` with the matrix
``[[s_x, 0, t_x], [0, s_y, t_y]]``, checked in the tests) so that the ONNX export needs only
``GridSample`` (opset ≥ 16), not ``AffineGrid`` (opset 20).

Paste-back outside the box: ``grid_sample`` pads with zeros; the same sampling applied to a field of ones
gives the coverage ``α ∈ [0, 1]`` of each output pixel by the ROI (fractional on the box border), and the
result is ``pasted + (1 - α)·fill``, i.e. exactly as if the ROI were surrounded by the constant ``fill``.
For probabilities or one-hot labels ``fill`` is 0 (or a one-hot background); for logits use
:func:`background_logits_fill`, which makes the background class win outside the box.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

#: Logit given to the background class outside the box (the other classes get 0): softmax ≈ 0.99986 BG.
BACKGROUND_LOGIT = 10.0


def _as_size(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = (int(v) for v in size)
    return h, w


def _check(x: Tensor, boxes: Tensor, what: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{what}: expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    if boxes.ndim != 2 or boxes.shape[-1] != 4 or boxes.shape[0] != x.shape[0]:
        raise ValueError(f"{what}: expected boxes of shape ({x.shape[0]}, 4), got {tuple(boxes.shape)}")


def _axis_coords(n: int, ref: Tensor) -> Tensor:
    """Pixel-centre coordinates in [-1, 1] of ``n`` pixels (align_corners=False): ``(2j + 1) / n - 1``."""
    return (torch.arange(n, device=ref.device, dtype=ref.dtype) * 2.0 + 1.0) / n - 1.0


def box_sampling_grid(boxes: Tensor, size: tuple[int, int], inverse: bool = False) -> Tensor:
    """Sampling grid ``(B, h, w, 2)`` for ``grid_sample`` mapping an output frame onto ``boxes``.

    Args:
        boxes: (B, 4) normalised ``(x_min, y_min, x_max, y_max)``.
        size: output (h, w) in pixels.
        inverse: False → the output frame is the box (crop); True → the output frame is the full image and the
            grid points into the box's frame (paste).
    """
    h, w = size
    boxes = boxes.to(torch.float32) if not boxes.is_floating_point() else boxes
    sx = boxes[:, 2] - boxes[:, 0]
    sy = boxes[:, 3] - boxes[:, 1]
    tx = boxes[:, 0] + boxes[:, 2] - 1.0
    ty = boxes[:, 1] + boxes[:, 3] - 1.0
    u = _axis_coords(w, boxes)[None, :]  # (1, w)
    v = _axis_coords(h, boxes)[None, :]  # (1, h)
    if inverse:  # a degenerate (zero-extent) box pastes nothing instead of producing NaN
        gx = (u - tx[:, None]) / sx.clamp(min=1e-6)[:, None]
        gy = (v - ty[:, None]) / sy.clamp(min=1e-6)[:, None]
    else:
        gx = tx[:, None] + sx[:, None] * u
        gy = ty[:, None] + sy[:, None] * v
    b = boxes.shape[0]
    return torch.stack([gx[:, None, :].expand(b, h, w), gy[:, :, None].expand(b, h, w)], dim=-1)


def crop_to_box(x: Tensor, boxes: Tensor, size: int | Sequence[int], mode: str = "bilinear") -> Tensor:
    """Crop each image to its box and resize it to ``size`` (differentiable in ``x`` and in ``boxes``).

    Args:
        x: (B, C, H, W) images, labels one-hot, or logits.
        boxes: (B, 4) normalised boxes (x_min, y_min, x_max, y_max).
        size: output (h, w) in pixels, or one int for a square.
        mode: ``"bilinear"`` or ``"nearest"`` (``grid_sample`` modes).

    Returns:
        (B, C, h, w); samples falling outside the image are 0.
    """
    _check(x, boxes, "crop_to_box")
    grid = box_sampling_grid(boxes.to(x.dtype), _as_size(size))
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def paste_from_box(
    roi: Tensor,
    boxes: Tensor,
    size: int | Sequence[int],
    mode: str = "bilinear",
    fill: float | Sequence[float] | Tensor = 0.0,
) -> Tensor:
    """Paste ROI maps back into full images with the geometry of :func:`crop_to_box` (its inverse).

    Args:
        roi: (B, C, h, w) maps in the box's frame.
        boxes: (B, 4) normalised boxes used for the crop.
        size: full image (H, W) in pixels, or one int for a square.
        mode: ``"bilinear"`` or ``"nearest"``.
        fill: value of the output outside the box: a scalar or one value per channel (C,). For logits use
            :func:`background_logits_fill`.

    Returns:
        (B, C, H, W): ``pasted + (1 - α)·fill`` with α the ROI's coverage of each pixel (see the module doc).
    """
    _check(roi, boxes, "paste_from_box")
    grid = box_sampling_grid(boxes.to(roi.dtype), _as_size(size), inverse=True)
    pasted = F.grid_sample(roi, grid, mode=mode, padding_mode="zeros", align_corners=False)
    fill_t = torch.as_tensor(fill, dtype=roi.dtype, device=roi.device)
    if fill_t.ndim == 0 and float(fill_t) == 0.0 and not isinstance(fill, Tensor):
        return pasted
    ones = torch.ones_like(roi[:, :1])
    coverage = F.grid_sample(ones, grid, mode=mode, padding_mode="zeros", align_corners=False)
    return pasted + (1.0 - coverage) * fill_t.reshape(1, -1, 1, 1)


def background_logits_fill(num_classes: int, logit: float = BACKGROUND_LOGIT) -> Tensor:
    """Fill vector for pasting logits: ``logit`` for the background class (index 0), 0 for the others."""
    fill = torch.zeros(num_classes)
    fill[0] = logit
    return fill
