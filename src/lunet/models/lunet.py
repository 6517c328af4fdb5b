"""LU-Net: localization U-Net + segmentation U-Net, trained end to end (Leclerc et al., IEEE TUFFC 2020).

U-L2 (:class:`lunet.models.localizers.UL2`) segments the image (o1) and proposes a box; the image is cropped
to the box and resized to ``roi_size`` by bilinear differentiable sampling (:func:`crop_to_box`), U-Net1
segments the crop, and its logits are pasted back into the full image with the same geometry
(:func:`paste_from_box`; outside the box the background logit wins, see :mod:`lunet.models.crop`). The
gradient of a loss on the crop reaches the localizer through the sampling grid. Parameters: 10.90 M + 1.99 M
= 12.9 M (paper: 13M).

The margin ``m`` (5 % or 15 % in the paper) does not change the network: it defines the training target
``lunet.boxes.reference_box(label, margin)`` that the box is regressed to. It is kept as the attribute
``margin`` so that the model carries it into its saved configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from lunet.models.blocks import SIZE_MULTIPLE, InputShapeError, check_input
from lunet.models.crop import background_logits_fill, crop_to_box, paste_from_box
from lunet.models.localizers import MIN_BOX_EXTENT, UL2
from lunet.models.outputs import LUNetOutput
from lunet.models.unet import NUM_CLASSES, UNet1


def check_roi_size(roi_size: int | Sequence[int] | None, name: str) -> tuple[int, int] | None:
    """Validate an ROI size: ``None`` (= input size) or (h, w) multiples of 32."""
    if roi_size is None:
        return None
    h, w = (roi_size, roi_size) if isinstance(roi_size, int) else (int(v) for v in roi_size)
    if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE or h <= 0 or w <= 0:
        raise InputShapeError(
            f"{name}: roi_size must be positive multiples of {SIZE_MULTIPLE}, got {roi_size}"
        )
    return h, w


def segment_in_box(
    segmenter: nn.Module, image: Tensor, box: Tensor, roi_size: tuple[int, int] | None, num_classes: int
) -> tuple[Tensor, Tensor]:
    """Crop ``image`` to ``box``, segment, paste back.

    Returns:
        roi_logits ``(B, C, h, w)`` and the pasted logits ``(B, C, H, W)``.
    """
    size = roi_size if roi_size is not None else (image.shape[-2], image.shape[-1])
    roi_logits = segmenter(crop_to_box(image, box, size))
    fill = background_logits_fill(num_classes).to(roi_logits)
    logits = paste_from_box(roi_logits, box, (image.shape[-2], image.shape[-1]), fill=fill)
    return roi_logits, logits


class LUNet(nn.Module):
    """U-L2 localizer composed with a U-Net1 segmenter on the crop.

    Args:
        margin: box margin of the training targets (0.05 for LU-Net-m5, 0.15 for -m15); not used in forward.
        roi_size: size (h, w) the crop is resized to (multiples of 32); ``None`` = the input size (256 in
            the paper).
        num_classes: output classes.
        min_extent: smallest box side (fraction of the image), see :func:`lunet.models.localizers.order_box`.

    Shapes:
        ``(B, 1, H, W)`` → :class:`LUNetOutput` (coarse_logits o1 and logits o2 ``(B, C, H, W)``,
        box ``(B, 4)``,
        roi_logits ``(B, C, h, w)``).
    """

    def __init__(
        self,
        margin: float = 0.05,
        roi_size: int | Sequence[int] | None = None,
        num_classes: int = NUM_CLASSES,
        min_extent: float = MIN_BOX_EXTENT,
    ) -> None:
        super().__init__()
        if not 0.0 <= margin < 1.0:
            raise ValueError(f"LU-Net: margin must be in [0, 1), got {margin}")
        self.margin = float(margin)
        self.roi_size = check_roi_size(roi_size, "lunet")
        self.num_classes = num_classes
        self.localizer = UL2(num_classes=num_classes, min_extent=min_extent)
        self.segmenter = UNet1(num_classes=num_classes)

    def forward(self, image: Tensor) -> LUNetOutput:
        check_input(image, "lunet")
        located = self.localizer(image)
        roi_logits, logits = segment_in_box(
            self.segmenter, image, located.box, self.roi_size, self.num_classes
        )
        return LUNetOutput(
            coarse_logits=located.seg_logits, box=located.box, roi_logits=roi_logits, logits=logits
        )
