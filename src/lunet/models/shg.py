"""Stacked hourglasses (SHG) of light U-Net1s, the cascade baseline of the CAMUS study (TMI 2019).

Three light U-Net1 stages (filters 32, 32, 64, 96, 112, 128: 1.52 M parameters each). Stage 1 sees the
image; stages 2 and 3 see the image concatenated with the softmax of the previous stage's logits
(1 + 4 channels). Every stage is returned so that each can be supervised (``SHGOutput.stage_logits``);
``SHGOutput.logits`` is the last stage. Total 4.57 M parameters (paper: 4.5M).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lunet.models.blocks import check_input
from lunet.models.outputs import SHGOutput
from lunet.models.unet import NUM_CLASSES, UNet1

#: Filters of the light U-Net1 used by each stage (~1.5M parameters, as in the paper).
LIGHT_UNET1_FILTERS: tuple[int, ...] = (32, 32, 64, 96, 112, 128)


class StackedUNet(nn.Module):
    """Cascade of ``n_stages`` light U-Net1s.

    Args:
        n_stages: number of stacked U-Nets (3 in the paper).
        num_classes: output classes.
        filters: encoder filters of each stage.

    Shapes:
        ``(B, 1, H, W)`` → :class:`SHGOutput` with ``n_stages`` logits ``(B, num_classes, H, W)``.
    """

    def __init__(
        self,
        n_stages: int = 3,
        num_classes: int = NUM_CLASSES,
        filters: tuple[int, ...] = LIGHT_UNET1_FILTERS,
    ) -> None:
        super().__init__()
        if n_stages < 1:
            raise ValueError(f"StackedUNet: n_stages must be at least 1, got {n_stages}")
        self.stages = nn.ModuleList(
            UNet1(in_channels=1 if k == 0 else 1 + num_classes, num_classes=num_classes, filters=filters)
            for k in range(n_stages)
        )

    def forward(self, image: Tensor) -> SHGOutput:
        """``(B, 1, H, W)`` image → logits of every stage."""
        check_input(image, "shg")
        logits: list[Tensor] = []
        x = image
        for stage in self.stages:
            out = stage(x)
            logits.append(out)
            x = torch.cat([image, torch.softmax(out, dim=1)], dim=1)
        return SHGOutput(stage_logits=tuple(logits), logits=logits[-1])
