"""Box regressors of LU-Net (TUFFC 2020, Sec. IV-C): AlexNet-like, VGG19-like, U-L1 and U-L2.

Every regressor predicts the normalised box ``(x_min, y_min, x_max, y_max)`` of :mod:`lunet.boxes`.
Input size: the fully connected heads need a fixed number of features at any allowed input size (H, W
multiples of 32), so each head starts with an adaptive average pooling to a fixed grid. The grids are chosen
so that at 256×256 the pooling is (nearly) the identity and the parameter counts match the paper:
AlexNet 7×7×256 (its natural 256×256 output: 71.9 M vs 71M), VGG19 4×4×512 (8×8 pooled ×2: 70.4 M vs 70M),
U-L1 7×7×128 from the 8×8 bottleneck (8.7 M vs 9M; an 8×8 grid would give 10.7 M, +19 %), U-L2 8×8×128
(10.9 M vs 11M).

Box output (:func:`order_box`): four sigmoids in [0, 1], sorted per axis (min → x_min, max → x_max), then
widened about their centre to a minimum extent (default 1/32 of the image) and shifted inside [0, 1], so
every box is a valid crop. Inside its valid range the map is the identity on the sigmoid outputs.
U-L2-mo and U-L2-mu are the same network: only the training loss differs.

``box_margin`` (every regressor): the margin ``m`` of the reference boxes it is trained to predict
(``enlarge_box(box0, box_margin)``); not used in forward, it is the one home of the training target's margin.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from lunet.boxes import DEFAULT_BOX_MARGIN, check_box_margin
from lunet.models.blocks import AdaptiveAvgPool, ConvBNReLU, check_input
from lunet.models.outputs import BoxOutput, LocalizerOutput
from lunet.models.unet import NUM_CLASSES, UNet1

#: Default smallest box side, as a fraction of the image side.
MIN_BOX_EXTENT = 1.0 / 32.0


def order_box(unit: Tensor, min_extent: float = MIN_BOX_EXTENT) -> Tensor:
    """Four values in [0, 1] ``(B, 4)`` → valid boxes ``(x_min, y_min, x_max, y_max)`` ``(B, 4)``.

    Per axis: sort the two values, widen to at least ``min_extent`` about their centre, keep inside [0, 1].
    """
    lo = torch.minimum(unit[:, :2], unit[:, 2:])
    hi = torch.maximum(unit[:, :2], unit[:, 2:])
    extent = torch.clamp(hi - lo, min=min_extent)
    centre = torch.minimum(torch.maximum((lo + hi) / 2, extent / 2), 1.0 - extent / 2)
    return torch.cat([centre - extent / 2, centre + extent / 2], dim=1)


class BoxHead(nn.Module):
    """Adaptive average pooling to ``grid`` → flatten → FC layers with ReLU → 4 → sigmoid → :func:`order_box`.

    Args:
        channels: channels of the input features.
        grid: (rows, cols) of the pooled grid.
        hidden: sizes of the hidden fully connected layers (no dropout).
        min_extent: smallest box side (fraction of the image side).
    """

    def __init__(
        self,
        channels: int,
        grid: tuple[int, int],
        hidden: tuple[int, ...],
        min_extent: float = MIN_BOX_EXTENT,
    ) -> None:
        super().__init__()
        self.pool = AdaptiveAvgPool(grid)
        sizes = (channels * grid[0] * grid[1], *hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        layers.append(nn.Linear(sizes[-1], 4))
        self.fc = nn.Sequential(*layers)
        self.min_extent = min_extent

    def forward(self, features: Tensor) -> Tensor:
        """``(B, channels, h, w)`` → boxes ``(B, 4)``."""
        return order_box(torch.sigmoid(self.fc(self.pool(features))), self.min_extent)


def _alexnet_features() -> nn.Sequential:
    relu = nn.ReLU(inplace=True)
    return nn.Sequential(
        nn.Conv2d(1, 96, 11, stride=4, padding=2), relu, nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), relu, nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), relu,
        nn.Conv2d(384, 384, 3, padding=1), relu,
        nn.Conv2d(384, 256, 3, padding=1), relu, nn.MaxPool2d(3, 2),
    )  # fmt: skip


class AlexNetLocalizer(nn.Module):
    """AlexNet-like box regressor (Krizhevsky 2012 filters 96-256-384-384-256, no BatchNorm, no dropout).

    Shapes: ``(B, 1, H, W)`` (H, W multiples of 32, at least 64) → :class:`BoxOutput` ``(B, 4)``.
    """

    def __init__(self, min_extent: float = MIN_BOX_EXTENT, box_margin: float = DEFAULT_BOX_MARGIN) -> None:
        super().__init__()
        self.box_margin = check_box_margin(box_margin, "alexnet-loc")
        self.features = _alexnet_features()
        self.head = BoxHead(256, (7, 7), (4096, 4096), min_extent)

    def forward(self, image: Tensor) -> BoxOutput:
        check_input(image, "alexnet-loc", min_size=64)
        return BoxOutput(box=self.head(self.features(image)))


class VGGLocalizer(nn.Module):
    """VGG19-like box regressor: 16 3×3 convolutions (64×2, 128×2, 256×4, 512×4, 512×4), BatchNorm, 5 pools.

    BatchNorm (the ``vgg19_bn`` variant) makes it trainable from scratch; it adds 11 k parameters.
    Shapes: ``(B, 1, H, W)`` → :class:`BoxOutput` ``(B, 4)``.
    """

    STAGES: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))

    def __init__(self, min_extent: float = MIN_BOX_EXTENT, box_margin: float = DEFAULT_BOX_MARGIN) -> None:
        super().__init__()
        self.box_margin = check_box_margin(box_margin, "vgg-loc")
        layers: list[nn.Module] = []
        c_in = 1
        for c_out, n_conv in self.STAGES:
            for _ in range(n_conv):
                layers.append(ConvBNReLU(c_in, c_out))
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = BoxHead(512, (4, 4), (4096, 4096), min_extent)

    def forward(self, image: Tensor) -> BoxOutput:
        check_input(image, "vgg-loc")
        return BoxOutput(box=self.head(self.features(image)))


class UL1(nn.Module):
    """U-L1: U-Net1 segmenting (4-class logits) whose bottleneck feeds FC 1024-256-32-4.

    Shapes: ``(B, 1, H, W)`` → :class:`LocalizerOutput` (box ``(B, 4)``, logits ``(B, C, H, W)``).
    """

    def __init__(
        self,
        num_classes: int = NUM_CLASSES,
        min_extent: float = MIN_BOX_EXTENT,
        box_margin: float = DEFAULT_BOX_MARGIN,
    ) -> None:
        super().__init__()
        self.box_margin = check_box_margin(box_margin, "ul1")
        self.unet = UNet1(num_classes=num_classes)
        self.head = BoxHead(self.unet.filters[-1], (7, 7), (1024, 256, 32), min_extent)

    def forward(self, image: Tensor) -> LocalizerOutput:
        features, logits = self.unet.forward_features(image)
        return LocalizerOutput(box=self.head(features[-1]), logits=logits)


class UL2(nn.Module):
    """U-L2: U-Net1 segmenting; its output (softmax) feeds a downsampling branch and FC 1024-256-32-4.

    The branch is five ConvBNReLU + max-pool ×2 stages (16, 32, 64, 128, 128 filters): at 256×256 it gives
    an 8×8×128 map. Shapes: ``(B, 1, H, W)`` → :class:`LocalizerOutput`.
    """

    BRANCH: tuple[int, ...] = (16, 32, 64, 128, 128)

    def __init__(
        self,
        num_classes: int = NUM_CLASSES,
        min_extent: float = MIN_BOX_EXTENT,
        box_margin: float = DEFAULT_BOX_MARGIN,
    ) -> None:
        super().__init__()
        self.box_margin = check_box_margin(box_margin, "ul2")
        self.unet = UNet1(num_classes=num_classes)
        chans = (num_classes, *self.BRANCH)
        self.branch = nn.Sequential(
            *(
                nn.Sequential(ConvBNReLU(chans[i], chans[i + 1]), nn.MaxPool2d(2))
                for i in range(len(self.BRANCH))
            )
        )
        self.head = BoxHead(self.BRANCH[-1], (8, 8), (1024, 256, 32), min_extent)
        #: Train the box branch on a detached softmax, so the box loss does not reach the U-Net (set by LU-Net
        #: when its box comes from the segmentation; False = the paper's multi-task U-L2).
        self.detach_branch = False

    def forward(self, image: Tensor) -> LocalizerOutput:
        logits = self.unet(image)
        probs = logits.softmax(dim=1)
        if self.detach_branch:
            probs = probs.detach()
        return LocalizerOutput(box=self.head(self.branch(probs)), logits=logits)


#: Where LU-Net's box comes from: the U-L2 regression head (the paper) or the bounding box of U-L2's own
#: coarse segmentation o1 (lunet's default recipe, see :class:`lunet.models.lunet.LUNet`).
BOX_SOURCES = ("regressed", "segmentation")


#: Side of the coarse grid on which :func:`main_component` grows its region (the mask is max-pooled to it).
COMPONENT_GRID = 32


def main_component(mask: Tensor, score: Tensor, grid: int = COMPONENT_GRID) -> Tensor:
    """The connected region of ``mask`` around its highest-``score`` pixel, grown on a coarse grid.

    The mask is max-pooled to about ``grid``×``grid`` cells, a region is grown there from the cell holding the
    pixel of highest ``score`` (smoothed in a 5×5 window) by ``grid`` 3×3 dilations each intersected with the
    coarse mask (morphological reconstruction: reaches every cell of its 8-connected component), and brought
    back as the fine mask's pixels inside the region. Blobs separated from the structure by at least a
    coarse cell (the input side / ``grid`` pixels) drop out; nearer ones join it. Pooling, comparisons and
    products only: it exports to ONNX and costs ``grid`` max-pools of a ``grid``² map.

    Args:
        mask: ``(B, H, W)`` bool.
        score: ``(B, H, W)`` float, e.g. the structure's probability.
        grid: side of the coarse grid.

    Returns:
        ``(B, H, W)`` bool, the pixels of ``mask`` in the component; empty where ``mask`` is.
    """
    import torch.nn.functional as F

    height, width = int(mask.shape[-2]), int(mask.shape[-1])  # fixed sizes (an export's only dynamic axis
    fy, fx = max(1, height // grid), max(1, width // grid)  # is the batch)
    fine = mask[:, None].to(score.dtype)
    smooth = F.avg_pool2d(score[:, None] * fine, 5, stride=1, padding=2)
    seed = (smooth >= smooth.amax(dim=(2, 3), keepdim=True)) & (fine > 0)
    coarse = F.max_pool2d(fine, (fy, fx), ceil_mode=True)
    region = F.max_pool2d(seed.to(score.dtype), (fy, fx), ceil_mode=True)
    for _ in range(max(coarse.shape[-2:])):
        region = F.max_pool2d(region, 3, stride=1, padding=1) * coarse
    back = F.interpolate(region, scale_factor=(float(fy), float(fx)), mode="nearest")[..., :height, :width]
    return (back[:, 0] > 0) & mask


def box_from_segmentation(
    logits: Tensor,
    box_margin: float,
    fallback: Tensor | None = None,
    labels: tuple[int, ...] = (1, 2),
    min_extent: float = MIN_BOX_EXTENT,
) -> Tensor:
    """Box around the main connected region of the pixels whose arg-max is one of ``labels``, enlarged.

    The region is :func:`main_component` of the arg-max mask (LV ∪ myocardium), seeded at its most probable
    pixel, so stray blobs of a coarse segmentation away from the heart do not stretch the box. Pixel-edge
    convention of :mod:`lunet.boxes` (on a one-component mask, the box of :func:`lunet.boxes.box_from_mask`),
    enlarged by ``box_margin`` × its own extent per axis and clipped to [0, 1]. Built from arg-max, pooling,
    comparisons and reductions only, so it exports to ONNX. Not differentiable (the segmentation is trained
    by its own Dice term).

    Args:
        logits: ``(B, C, H, W)`` logits.
        box_margin: margin ``m`` (fraction of each axis' extent, both sides).
        fallback: ``(B, 4)`` boxes for images whose segmentation holds none of ``labels``;
            ``None`` = the whole image.
        labels: classes inside the box.
        min_extent: smallest box side (see :func:`order_box`).

    Returns:
        ``(B, 4)`` normalised boxes ``(x_min, y_min, x_max, y_max)``, dtype of ``logits``.
    """
    _, _, height, width = logits.shape
    arg = logits.argmax(dim=1)
    inside = torch.zeros_like(arg, dtype=torch.bool)
    for label in labels:
        inside = inside | (arg == label)
    probs = logits.softmax(dim=1)
    inside = main_component(inside, probs[:, list(labels)].sum(dim=1))
    cols = inside.any(dim=1)  # (B, W)
    rows = inside.any(dim=2)  # (B, H)
    dtype = logits.dtype
    col_idx = torch.arange(width, device=logits.device, dtype=dtype).expand_as(cols)
    row_idx = torch.arange(height, device=logits.device, dtype=dtype).expand_as(rows)
    x0 = torch.where(cols, col_idx, torch.full_like(col_idx, width)).amin(dim=1) / width
    x1 = (torch.where(cols, col_idx, torch.full_like(col_idx, -1)).amax(dim=1) + 1) / width
    y0 = torch.where(rows, row_idx, torch.full_like(row_idx, height)).amin(dim=1) / height
    y1 = (torch.where(rows, row_idx, torch.full_like(row_idx, -1)).amax(dim=1) + 1) / height
    w, h = x1 - x0, y1 - y0
    box = torch.stack([x0 - box_margin * w, y0 - box_margin * h, x1 + box_margin * w, y1 + box_margin * h], 1)
    box = order_box(box.clamp(0.0, 1.0), min_extent)
    found = cols.any(dim=1, keepdim=True)
    if fallback is None:
        fallback = torch.tensor([[0.0, 0.0, 1.0, 1.0]], dtype=dtype, device=logits.device)
    return torch.where(found, box, fallback.to(dtype).expand_as(box))
