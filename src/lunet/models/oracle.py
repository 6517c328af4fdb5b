"""U-Net1 on an ideal crop: the motivation study of LU-Net (TUFFC 2020, Sec. III-A, BB-m5/-m15/-m30).

The crop is given by the reference box (``lunet.boxes.reference_box(label, margin)``), so the model is called
as ``model(image, box)``; it is U-Net1 between :func:`crop_to_box` and :func:`paste_from_box` with the LU-Net
geometry. Parameters: 1.99 M (paper: 2M).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from lunet.models.blocks import check_input
from lunet.models.lunet import check_roi_size, segment_in_box
from lunet.models.outputs import OracleOutput
from lunet.models.unet import NUM_CLASSES, UNet1


class OracleUNet1(nn.Module):
    """U-Net1 on the crop given by a reference box.

    Args:
        roi_size: size (h, w) of the crop fed to U-Net1 (multiples of 32); ``None`` = the input size.
        num_classes: output classes.

    Shapes:
        image ``(B, 1, H, W)``, box ``(B, 4)`` normalised → :class:`OracleOutput` (box, roi_logits, logits).
    """

    def __init__(self, roi_size: int | Sequence[int] | None = None, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.roi_size = check_roi_size(roi_size, "unet1-oracle")
        self.num_classes = num_classes
        self.segmenter = UNet1(num_classes=num_classes)

    def forward(self, image: Tensor, box: Tensor) -> OracleOutput:
        check_input(image, "unet1-oracle")
        if box.ndim != 2 or box.shape != (image.shape[0], 4):
            raise ValueError(
                f"unet1-oracle: expected boxes of shape ({image.shape[0]}, 4), got {tuple(box.shape)}"
            )
        box = box.to(image.dtype)
        roi_logits, logits = segment_in_box(self.segmenter, image, box, self.roi_size, self.num_classes)
        return OracleOutput(box=box, roi_logits=roi_logits, logits=logits)
