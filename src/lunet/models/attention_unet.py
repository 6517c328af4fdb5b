"""AG-U-Net: U-Net1 with additive attention gates (Oktay et al., MIDL 2018), as in LU-Net (TUFFC 2020, IV-D).

Every skip connection of U-Net1 passes through an :class:`AttentionGate` before the concatenation. The gating
signal is the coarser level's decoder output *before* its upsampling (the bottleneck for the deepest skip):
the
skip is brought to the coarse resolution by a strided 1×1 convolution, added to the projected gate, and
``α = sigmoid(BN(ψ(ReLU(BN(·)))))`` is upsampled back to weigh the skip (BatchNorm before each activation).
Deep supervision: each gated map is projected by a 1×1 convolution to ``num_classes`` channels, upsampled to
full resolution and concatenated with the last decoder level, right before the final 1×1 convolution. The
network returns logits. Parameters: 2.04 M (paper: 2M).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lunet.models.blocks import DoubleConv, Encoder, check_input, upsample2
from lunet.models.unet import NUM_CLASSES, UNET1_FILTERS


class AttentionGate(nn.Module):
    """Additive attention gate.

    Args:
        skip_channels: channels of the skip features x ``(B, Cx, H, W)``.
        gate_channels: channels of the gating signal g ``(B, Cg, H/2, W/2)``.
        inter_channels: channels of the joint space.

    Returns (forward):
        gated skip ``α·x`` ``(B, Cx, H, W)`` and the coefficients α ``(B, 1, H, W)`` in [0, 1].
    """

    def __init__(self, skip_channels: int, gate_channels: int, inter_channels: int) -> None:
        super().__init__()
        self.theta = nn.Conv2d(skip_channels, inter_channels, kernel_size=1, stride=2, bias=False)
        self.phi = nn.Conv2d(gate_channels, inter_channels, kernel_size=1, bias=False)
        self.joint_norm = nn.BatchNorm2d(inter_channels)
        self.psi = nn.Conv2d(inter_channels, 1, kernel_size=1, bias=False)
        self.psi_norm = nn.BatchNorm2d(1)

    def forward(self, x: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
        joint = F.relu(self.joint_norm(self.theta(x) + self.phi(g)))
        alpha = torch.sigmoid(self.psi_norm(self.psi(joint)))
        alpha = F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return alpha * x, alpha


class AttentionUNet(nn.Module):
    """U-Net1 with attention gates on every skip and deep supervision from the gated maps.

    Args:
        num_classes: output classes.
        filters: U-Net1 encoder filters, finest first.

    Shapes:
        ``(B, 1, H, W)`` → logits ``(B, num_classes, H, W)``.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, filters: tuple[int, ...] = UNET1_FILTERS) -> None:
        super().__init__()
        self.filters = tuple(filters)
        n = len(self.filters)
        self.encoder = Encoder(1, self.filters)
        # Index k refers to the skip / decoder level k (k = 0 … n-2).
        self.gates = nn.ModuleList(
            AttentionGate(self.filters[k], self.filters[k + 1], max(self.filters[k] // 2, 8))
            for k in range(n - 1)
        )
        self.levels = nn.ModuleList(
            DoubleConv(self.filters[k + 1] + self.filters[k], self.filters[k]) for k in range(n - 1)
        )
        self.supervision = nn.ModuleList(
            nn.Conv2d(self.filters[k], num_classes, kernel_size=1) for k in range(n - 1)
        )
        self.head = nn.Conv2d(self.filters[0] + (n - 1) * num_classes, num_classes, kernel_size=1)

    def forward(self, image: Tensor) -> Tensor:
        check_input(image, "agunet", multiple=2 ** (len(self.filters) - 1))
        features = self.encoder(image)
        size = image.shape[-2:]
        x = features[-1]
        aggregated: list[Tensor] = []
        for k in range(len(features) - 2, -1, -1):
            gated, _ = self.gates[k](features[k], x)
            dsv = self.supervision[k](gated)
            aggregated.append(
                dsv if k == 0 else F.interpolate(dsv, size=size, mode="bilinear", align_corners=False)
            )
            x = self.levels[k](torch.cat([upsample2(x), gated], dim=1))
        return self.head(torch.cat([x, *aggregated], dim=1))
