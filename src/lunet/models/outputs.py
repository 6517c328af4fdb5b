"""Output types of the multi-output networks (style rule 3: a NamedTuple, never a flag-dependent type).

Single-output segmentation networks (``unet1``, ``agunet``) return a plain logits tensor ``(B, C, H, W)``.
Box regressors without a segmentation head (``alexnet-loc``, ``vgg-loc``) return :class:`BoxOutput`.
Boxes are normalised ``(x_min, y_min, x_max, y_max)`` in [0, 1] (see :mod:`lunet.boxes`).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

from torch import Tensor


class BoxOutput(NamedTuple):
    box: Tensor  # (B, 4)


class LocalizerOutput(NamedTuple):
    """U-L1 / U-L2: a box and the localizer's own segmentation ``logits`` (``seg_logits`` before #25)."""

    box: Tensor  # (B, 4)
    logits: Tensor  # (B, C, H, W)

    @property
    def seg_logits(self) -> Tensor:
        """Deprecated spelling of :attr:`logits` (every output type names its segmentation ``logits``)."""
        warnings.warn(
            "LocalizerOutput.seg_logits is deprecated: use .logits", DeprecationWarning, stacklevel=2
        )
        return self.logits


class SHGOutput(NamedTuple):
    """Stacked hourglass: logits of every stage (each supervised); ``logits`` is the last stage."""

    stage_logits: tuple[Tensor, ...]
    logits: Tensor


class RUNetOutput(NamedTuple):
    """RU-Net: o1 = ``coarse_logits`` (first U-Net), attention mask in [0, 1], o2 = ``logits``."""

    coarse_logits: Tensor  # (B, C, H, W)
    attention: Tensor  # (B, 1, H, W)
    logits: Tensor  # (B, C, H, W)


class LUNetOutput(NamedTuple):
    """LU-Net: o1 = ``coarse_logits`` (U-L2's segmentation), the box, the crop's logits, o2 = ``logits``.

    ``box`` is the box the model crops with at inference (regressed, or from o1 with ``box_source=
    "segmentation"``); ``regressed_box`` is the regression head's box, the one the L1 loss trains (the same
    tensor as ``box`` for the paper's ``box_source="regressed"``).
    """

    coarse_logits: Tensor  # (B, C, H, W), full image
    box: Tensor  # (B, 4)
    roi_logits: Tensor  # (B, C, h, w), in the crop's frame
    logits: Tensor  # (B, C, H, W), pasted back into the full image
    regressed_box: Tensor | None = None  # (B, 4)


class OracleOutput(NamedTuple):
    """U-Net1 on a crop given by the reference box (the paper's BB-m5/15/30 study)."""

    box: Tensor
    roi_logits: Tensor
    logits: Tensor


#: Anything a lunet network returns: plain logits or one of the output tuples above.
ModelOutput = Tensor | BoxOutput | LocalizerOutput | SHGOutput | RUNetOutput | LUNetOutput | OracleOutput


def final_logits(output: ModelOutput) -> Tensor:
    """Full-image segmentation logits of any model output (o2 for two-stage models)."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, BoxOutput):
        raise TypeError("a box regressor has no segmentation output")
    return output.logits  # type: ignore[attr-defined]


def first_logits(output: ModelOutput) -> Tensor | None:
    """o1: the first-stage segmentation of two-stage models (RU-Net, LU-Net), else ``None``."""
    if isinstance(output, (RUNetOutput, LUNetOutput)):
        return output.coarse_logits
    return None


def predicted_box(output: ModelOutput) -> Tensor | None:
    """The box a model proposes, if any."""
    return getattr(output, "box", None) if not isinstance(output, Tensor) else None
