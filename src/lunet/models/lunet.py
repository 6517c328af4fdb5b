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

The box margin ``box_margin`` (``m``: 5 % or 15 % in the paper) does not change the network: it defines the
training target ``enlarge_box(box0, box_margin)`` that the box is regressed to, which the data module reads
from the model (its one home).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from lunet.boxes import DEFAULT_BOX_MARGIN
from lunet.models.blocks import check_input
from lunet.models.localizers import MIN_BOX_EXTENT, UL2
from lunet.models.outputs import LUNetOutput
from lunet.models.roi import RoiModel, RoiOptions, segment_in_box
from lunet.models.unet import NUM_CLASSES, UNet1


class LUNet(RoiModel, nn.Module):
    """U-L2 localizer composed with a U-Net1 segmenter on the crop.

    Args:
        box_margin: margin ``m`` of the reference boxes the box is trained on (0.05 for LU-Net-m5, 0.15 for
            -m15); not used in forward.
        roi_size: size (h, w) the crop is resized to (multiples of 32); ``None`` = the input size (256 in
            the paper).
        num_classes: output classes.
        min_extent: smallest box side (fraction of the image), see :func:`lunet.models.localizers.order_box`.
        crop_grid: ``"native"`` (crop from ``crop_source``) or ``"network"`` (crop from the input), see the
            module docstring.

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
    ) -> None:
        super().__init__()
        self.roi = RoiOptions.checked("lunet", box_margin, roi_size, crop_grid)
        self.num_classes = num_classes
        self.localizer = UL2(num_classes=num_classes, min_extent=min_extent, box_margin=self.box_margin)
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
        check_input(image, "lunet")
        located = self.localizer(image)
        box = located.box if crop_box is None else crop_box.to(image.dtype)
        roi_logits, logits = segment_in_box(
            self.segmenter, image, box, self.roi, self.num_classes, crop_source, "lunet"
        )
        return LUNetOutput(
            coarse_logits=located.seg_logits, box=located.box, roi_logits=roi_logits, logits=logits
        )
