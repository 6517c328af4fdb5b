"""What the two crop models (LU-Net, the oracle U-Net1) share: their ROI options and crop → segment → paste.

``crop_grid`` says where the ROI is cropped from:

- ``"native"``: from ``crop_source``, a finer copy of the network input with the same field of view (lunet
  feeds it at ``lunet.data.preprocess.crop_source_size(S)`` = 2S per side). With the paper's S = 256 and a
  CAMUS frame (~843×512), an ROI of half the image then keeps ~2× the resolution of the network grid, and
  predictions paste the ROI probabilities onto the original grid instead of the S×S grid.
- ``"network"``: from the S×S network input itself, pasted back on the S×S grid (lunet before the native
  path; kept for the ablation).

The model output always holds ``logits`` pasted on the *input* grid (o2, used by the training loss option
and the validation Dice); :func:`uses_crop_source` tells callers to feed ``crop_source`` and to compose the
ROI on the original grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from lunet.boxes import check_box_margin
from lunet.models.blocks import SIZE_MULTIPLE, InputShapeError
from lunet.models.crop import background_logits_fill, crop_to_box, paste_from_box

CROP_GRIDS = ("native", "network")


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


@dataclass(frozen=True)
class RoiOptions:
    """Checked hyper-parameters of a crop model (see the module docstring)."""

    box_margin: float
    roi_size: tuple[int, int] | None
    crop_grid: str

    @classmethod
    def checked(
        cls, name: str, box_margin: float, roi_size: int | Sequence[int] | None, crop_grid: str
    ) -> RoiOptions:
        """Validated options; ``ValueError`` naming the model and the bad value."""
        if crop_grid not in CROP_GRIDS:
            raise ValueError(f"{name}: crop_grid must be one of {', '.join(CROP_GRIDS)}, got {crop_grid!r}")
        return cls(check_box_margin(box_margin, name), check_roi_size(roi_size, name), crop_grid)


class RoiModel:
    """Mixin of the crop models (LU-Net, the oracle): ``box_margin`` and ``crop_grid`` from ``self.roi``."""

    roi: RoiOptions

    @property
    def box_margin(self) -> float:
        """Margin ``m`` of the reference boxes (:func:`lunet.models.registry.box_margin_of`)."""
        return self.roi.box_margin

    @property
    def crop_grid(self) -> str:
        """``"native"`` or ``"network"``: where the ROI is cropped from."""
        return self.roi.crop_grid


def uses_crop_source(model: nn.Module) -> bool:
    """True for a crop model with ``crop_grid="native"``: feed it ``crop_source`` and compose its ROI on the
    original grid."""
    roi = getattr(model, "roi", None)
    return isinstance(roi, RoiOptions) and roi.crop_grid == "native"


def _check_source(source: Tensor, image: Tensor, name: str) -> None:
    if source.ndim != 4 or source.shape[:2] != image.shape[:2]:
        raise InputShapeError(
            f"{name}: crop_source must be (B, {image.shape[1]}, H', W') with B = {image.shape[0]}, "
            f"got {tuple(source.shape)}"
        )


def segment_in_box(
    segmenter: nn.Module,
    image: Tensor,
    box: Tensor,
    roi: RoiOptions,
    num_classes: int,
    crop_source: Tensor | None = None,
    name: str = "model",
) -> tuple[Tensor, Tensor]:
    """Crop to ``box`` (from ``crop_source`` when ``roi.crop_grid`` is native and one is given), segment,
    paste back on the grid of ``image``.

    Returns:
        roi_logits ``(B, C, h, w)`` and the pasted logits ``(B, C, H, W)``.
    """
    source = image
    if crop_source is not None and roi.crop_grid == "native":
        _check_source(crop_source, image, name)
        source = crop_source.to(image.dtype)
    size = roi.roi_size if roi.roi_size is not None else (image.shape[-2], image.shape[-1])
    roi_logits = segmenter(crop_to_box(source, box, size))
    fill = background_logits_fill(num_classes).to(roi_logits)
    logits = paste_from_box(roi_logits, box, (image.shape[-2], image.shape[-1]), fill=fill)
    return roi_logits, logits
