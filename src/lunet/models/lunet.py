"""LU-Net: localization U-Net + segmentation U-Net, trained end to end (Leclerc et al., IEEE TUFFC 2020).

U-L2 (:class:`lunet.models.localizers.UL2`) segments the image (o1) and proposes a box; the image is cropped
to the box and resized to ``roi_size`` by bilinear differentiable sampling (:func:`crop_to_box`), U-Net1
segments the crop, and its logits are pasted back into the full image with the same geometry
(:func:`paste_from_box`; outside the box the background logit wins, see :mod:`lunet.models.crop`). The
gradient of a loss on the crop reaches the localizer through the sampling grid. Parameters: 10.90 M + 1.99 M
= 12.9 M (paper: 13M).

Crop source (``crop_grid``, :mod:`lunet.models.roi`): ``"native"`` (default) crops the ROI from
``crop_source``, a finer copy of the same frame (2× the network side in lunet's cache and in ``predict``),
so the ROI keeps the resolution the box gives it; predictions then paste the ROI *probabilities* onto the
original image grid (``lunet.models.postprocess.labels_on_grid`` with the box). ``"network"`` crops from
the S×S network input and predictions use ``logits`` pasted on the S×S grid (the ablation: the path
lunet took before the native one).

The box margin ``box_margin`` (``m``: 5 % or 15 % in the paper) defines the training target
``enlarge_box(box0, box_margin)`` that the box is regressed to, and the margin of the box taken from o1. It is
a constructor option (``lunet train --margin``, the config's ``model.overrides["box_margin"]``), read back
from a built model by :func:`lunet.models.registry.box_margin_of` (the data module's box targets come from
there) and recorded as ``box_margin`` in the bundle's ``model.json`` (:attr:`lunet.bundle.Bundle.box_margin`);
the U-L2 inside is given the same value.

Box source (``box_source``, :data:`lunet.models.localizers.BOX_SOURCES`): ``"regressed"`` (the paper) crops
with U-L2's regressed box; ``"segmentation"`` (lunet's default recipe, see :mod:`lunet.config.recipes`) crops
with the bounding box of U-L2's own coarse segmentation o1 (LV ∪ myocardium, arg-max), enlarged by
``box_margin``, and falls back to the regressed box where o1 is empty. The regression head is trained in
both; with ``"segmentation"`` it learns from a detached softmax, so its L1 loss does not reach U-L2's U-Net
and o1 stays a segmentation (with the paper's multi-task gradient, o1 over-segmented LV ∪ myocardium 2.4× in
area on the phantom and its box was loose). Its box is in the output as ``regressed_box``.

Localizer resolution (``localizer_scale``, 1 by default): U-L2 sees the input average-pooled by this factor
(2: a 64×64 localizer input for S = 128, a quarter of its cost), and its o1 logits are resized bilinearly back
to S×S for the loss, the box and the outputs. The segmenter's crop keeps its resolution.

Cascade (``refine_steps``, 0 by default): after the first crop, the box of the pasted segmentation o2
(LV ∪ myocardium, enlarged by ``box_margin``) replaces the box and the crop is segmented again,
``refine_steps`` times: a second localization on the first crop. It costs one more segmenter pass per
step; a given ``crop_box`` (training) is never refined.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from lunet.boxes import DEFAULT_BOX_MARGIN
from lunet.models.blocks import check_input
from lunet.models.localizers import BOX_SOURCES, MIN_BOX_EXTENT, UL2, box_from_segmentation
from lunet.models.outputs import LUNetOutput
from lunet.models.roi import RoiModel, RoiOptions, segment_in_box
from lunet.models.unet import NUM_CLASSES, UNet1


class LUNet(RoiModel, nn.Module):
    """U-L2 localizer composed with a U-Net1 segmenter on the crop.

    Args:
        box_margin: margin ``m`` of the reference boxes the box is trained on (0.05 for LU-Net-m5, 0.15 for
            -m15); in forward, the margin of the box of o1 (``box_source="segmentation"``) and of the cascade.
        roi_size: size (h, w) the crop is resized to (multiples of 32); ``None`` = the input size (256 in
            the paper).
        num_classes: output classes.
        min_extent: smallest box side (fraction of the image), see :func:`lunet.models.localizers.order_box`.
        crop_grid: ``"native"`` (crop from ``crop_source``) or ``"network"`` (crop from the input), see the
            module docstring.
        box_source: ``"regressed"`` (the paper; the default, so bundles written before this option load as
            they were trained) or ``"segmentation"`` (the box of o1), see the module docstring.
        refine_steps: cascade steps (module docstring); 0 = one crop, as in the paper.
        localizer_scale: U-L2 runs on the input pooled by this factor (1 = the paper; the input side must
            then be a multiple of 32 × the factor).

    Shapes:
        image ``(B, 1, H, W)``, crop_box ``(B, 4)`` normalised, crop_source ``(B, 1, H', W')`` (same field
        of view as image) → :class:`LUNetOutput` (coarse_logits o1 and logits o2 ``(B, C, H, W)``, the
        predicted box ``(B, 4)``, roi_logits ``(B, C, h, w)``).
    """

    def __init__(
        self,
        box_margin: float = DEFAULT_BOX_MARGIN,
        roi_size: int | Sequence[int] | None = None,
        num_classes: int = NUM_CLASSES,
        min_extent: float = MIN_BOX_EXTENT,
        crop_grid: str = "native",
        box_source: str = "regressed",
        refine_steps: int = 0,
        localizer_scale: int = 1,
    ) -> None:
        super().__init__()
        if box_source not in BOX_SOURCES:
            raise ValueError(f"lunet: box_source must be one of {', '.join(BOX_SOURCES)}, got {box_source!r}")
        self.box_source = box_source
        if refine_steps < 0:
            raise ValueError(f"lunet: refine_steps must be >= 0, got {refine_steps}")
        self.refine_steps = int(refine_steps)
        if localizer_scale not in (1, 2, 4):
            raise ValueError(f"lunet: localizer_scale must be 1, 2 or 4, got {localizer_scale}")
        self.localizer_scale = int(localizer_scale)
        self.min_extent = min_extent
        self.roi = RoiOptions.checked("lunet", box_margin, roi_size, crop_grid)
        self.num_classes = num_classes
        self.localizer = UL2(num_classes=num_classes, min_extent=min_extent, box_margin=self.box_margin)
        # the box of o1 needs o1 to be a segmentation: the box loss (weight 10) would otherwise bend U-L2's
        # softmax towards what helps the regression head (o1 over-segmented 2.4× in area on the phantom)
        self.localizer.detach_branch = box_source == "segmentation"
        self.segmenter = UNet1(num_classes=num_classes)

    def forward(
        self, image: Tensor, crop_box: Tensor | None = None, crop_source: Tensor | None = None
    ) -> LUNetOutput:
        """Localize, crop, segment, paste.

        Args:
            image: ``(B, 1, H, W)`` normalised network input.
            crop_box: ``(B, 4)`` box to crop with instead of the predicted one (the reference-box warm-up of
                training); the output's ``box`` is still the predicted box.
            crop_source: ``(B, 1, H', W')`` finer copy of ``image`` to crop the ROI from (``crop_grid``
                ``"native"``; ignored for ``"network"``); ``None`` = ``image``.
        """
        check_input(image, "lunet", multiple=32 * self.localizer_scale)
        if self.localizer_scale == 1:
            located = self.localizer(image)
            coarse = located.logits
        else:
            located = self.localizer(F.avg_pool2d(image, self.localizer_scale))
            coarse = F.interpolate(
                located.logits, size=image.shape[-2:], mode="bilinear", align_corners=False
            )
        predicted = located.box
        if self.box_source == "segmentation":
            predicted = box_from_segmentation(
                coarse.detach(), self.box_margin, located.box.detach(), min_extent=self.min_extent
            )
        box = predicted if crop_box is None else crop_box.to(image.dtype)
        roi_logits, logits = segment_in_box(
            self.segmenter, image, box, self.roi, self.num_classes, crop_source, "lunet"
        )
        for _ in range(self.refine_steps if crop_box is None else 0):
            predicted = box = box_from_segmentation(
                logits.detach(), self.box_margin, box.detach(), min_extent=self.min_extent
            )
            roi_logits, logits = segment_in_box(
                self.segmenter, image, box, self.roi, self.num_classes, crop_source, "lunet"
            )
        return LUNetOutput(
            coarse_logits=coarse,
            box=predicted,
            roi_logits=roi_logits,
            logits=logits,
            regressed_box=located.box,
        )
