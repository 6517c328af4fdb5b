"""Reference boxes jittered like a localizer's errors, for LU-Net's ``train_crop="reference"`` recipe.

Each side of the reference box (margin ``m``) moves by a Gaussian amount, SD ``sd`` × the box's extent along
that side's axis, independently per side and per image; the result is then widened where needed so that it
still contains the structure's tight box (margin 0), and clipped to the image. The segmenter so sees crops
whose margins vary as a localizer's boxes do, but never a crop that cuts the structure (a cut structure is
lost whatever the segmenter does, so training on it teaches nothing).
"""

from __future__ import annotations

import torch
from torch import Tensor


def jitter_boxes(box: Tensor, box0: Tensor, sd: float, generator: torch.Generator | None = None) -> Tensor:
    """Jittered boxes that contain ``box0``.

    Args:
        box: ``(B, 4)`` reference boxes (with the model's margin), normalised
            ``(x_min, y_min, x_max, y_max)``.
        box0: ``(B, 4)`` tight boxes of the structure (margin 0) inside ``box``.
        sd: SD of each side's move, fraction of the box's extent along that axis; 0 returns ``box``.
        generator: torch RNG (``None``: the global one, re-seeded per epoch by the training task).

    Returns:
        ``(B, 4)`` boxes with ``box0`` inside them, clipped to [0, 1].
    """
    if sd <= 0:
        return box
    extent = (box[:, 2:] - box[:, :2]).repeat(1, 2)
    noise = torch.randn(box.shape, generator=generator, dtype=box.dtype, device="cpu").to(box.device)
    moved = box + sd * extent * noise
    lo = torch.minimum(moved[:, :2], box0[:, :2].to(box.dtype))
    hi = torch.maximum(moved[:, 2:], box0[:, 2:].to(box.dtype))
    return torch.cat([lo, hi], dim=1).clamp(0.0, 1.0)
