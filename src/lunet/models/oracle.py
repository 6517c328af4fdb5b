"""U-Net1 on an ideal crop: the motivation study of LU-Net (TUFFC 2020, Sec. III-A, BB-m5/-m15/-m30).

The crop is given by the reference box (``enlarge_box(box0, box_margin)``), so the model is called as
``model(image, crop_box)``; it is U-Net1 between :func:`crop_to_box` and :func:`paste_from_box` with the
LU-Net geometry and LU-Net's crop source (``crop_grid``, see :mod:`lunet.models.roi`). Parameters: 1.99 M
(paper: 2M).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from lunet.boxes import DEFAULT_BOX_MARGIN
from lunet.models.blocks import check_input
from lunet.models.outputs import OracleOutput
from lunet.models.roi import RoiModel, RoiOptions, segment_in_box
from lunet.models.unet import NUM_CLASSES, UNet1


class OracleUNet1(RoiModel, nn.Module):
    """U-Net1 on the crop given by a reference box.

    Args:
        box_margin: margin ``m`` of the reference box it is fed (BB-m5: 0.05).
        roi_size: size (h, w) of the crop fed to U-Net1 (multiples of 32); ``None`` = the input size.
        num_classes: output classes.
        crop_grid: ``"native"`` or ``"network"`` (:mod:`lunet.models.roi`).

    Shapes:
        image ``(B, 1, H, W)``, crop_box ``(B, 4)`` normalised, crop_source ``(B, 1, H', W')`` →
        :class:`OracleOutput` (box, roi_logits, logits).
    """

    def __init__(
        self,
        box_margin: float = DEFAULT_BOX_MARGIN,
        roi_size: int | Sequence[int] | None = None,
        num_classes: int = NUM_CLASSES,
        crop_grid: str = "native",
    ) -> None:
        super().__init__()
        self.roi = RoiOptions.checked("unet1-oracle", box_margin, roi_size, crop_grid)
        self.num_classes = num_classes
        self.segmenter = UNet1(num_classes=num_classes)

    def forward(self, image: Tensor, crop_box: Tensor, crop_source: Tensor | None = None) -> OracleOutput:
        check_input(image, "unet1-oracle")
        if crop_box.ndim != 2 or crop_box.shape != (image.shape[0], 4):
            raise ValueError(
                f"unet1-oracle: expected boxes of shape ({image.shape[0]}, 4), got {tuple(crop_box.shape)}"
            )
        box = crop_box.to(image.dtype)
        roi_logits, logits = segment_in_box(
            self.segmenter, image, box, self.roi, self.num_classes, crop_source, "unet1-oracle"
        )
        return OracleOutput(box=box, roi_logits=roi_logits, logits=logits)
