"""Training losses of the papers (LU-Net, TUFFC 2020, Sec. IV-C2) and the composite loss of any output.

- Segmentation: multi-class soft Dice over LV and myocardium (:func:`soft_dice_loss`), computed per image and
  per class, then averaged (MONAI's ``DiceLoss`` with its default reduction; tested against it).
- Localization: "a L1 loss clipped at 0.99 summing the errors on the four BB values" (:func:`box_l1_loss`).
  Our reading: each of the four absolute errors is clipped at 0.99, then the four are summed (per image), then
  averaged over the batch (``box_clip_mode="value"``). Boxes are normalised to [0, 1], so a single error above
  0.99 is a box on the wrong side of the image and its gradient is dropped. The other reading, clipping the
  *sum* at 0.99 (``"sum"``), gives no gradient at all to an image whose four errors add up to more than 0.99
  (usual at initialisation: four errors of 0.25), which would stall training; it is kept as an option.
- Multi-task: the box term is weighted ``loc_weight`` (10 in the paper).

The composite loss (:func:`composite_loss`) picks the terms from the type of the model output:

=================  =======================================================================================
plain logits        Dice(logits, label)
SHGOutput           Σ over stages Dice(stage, label)
RUNetOutput         Dice(o1, label) + Dice(o2, label)
LocalizerOutput     loc_weight·L1(box) (+ Dice(seg, label) when ``ul2_mode="mu"``)
BoxOutput           L1(box)
LUNetOutput         loc_weight·L1(regressed box) + Dice(o1, label) + Dice(roi, label cropped by the box used)
                    (+ Dice(o2, label) when ``lunet_o2_loss``, not in the paper)
OracleOutput        Dice(roi, crop of the label by the reference box)
=================  =======================================================================================

LU-Net's "dynamically evolving" ROI loss: the one-hot label is cropped with the *same* differentiable sampling
as the image (``crop_to_box``, bilinear → a soft target; from the batch's ``source_label`` when the ROI is
cropped from the finer crop source, see :mod:`lunet.models.roi`) and with the box the network actually used,
so the target follows the predicted ROI as it evolves during training. The box is detached for the *target*
crop: the localizer learns from the L1 term and from the gradient that flows through the image crop, never by
moving the box to make the target easier.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from lunet.config import LossConfig
from lunet.models.crop import crop_to_box
from lunet.models.outputs import (
    BoxOutput,
    LocalizerOutput,
    LUNetOutput,
    ModelOutput,
    OracleOutput,
    RUNetOutput,
    SHGOutput,
)

DICE_SMOOTH = 1e-5


def one_hot_labels(label: Tensor, num_classes: int) -> Tensor:
    """Integer labels ``(B, H, W)`` → float one-hot ``(B, C, H, W)``."""
    return F.one_hot(label.long(), num_classes).permute(0, 3, 1, 2).to(torch.float32)


def soft_dice_loss(
    logits: Tensor, target: Tensor, classes: Sequence[int] = (1, 2), smooth: float = DICE_SMOOTH
) -> Tensor:
    """Multi-class soft Dice loss, 1 − mean over images and ``classes`` of the soft Dice.

    Args:
        logits: (B, C, H, W) raw scores; softmax over C is applied here.
        target: (B, H, W) integer labels, or (B, C, H, W) soft one-hot targets in [0, 1].
        classes: channels that enter the loss (LV=1 and MYO=2 in the paper).
        smooth: added to numerator and denominator (as MONAI's ``smooth_nr`` / ``smooth_dr``).

    Returns:
        scalar loss in [0, 1]: 0 for a perfect prediction.
    """
    probs = torch.softmax(logits.float(), dim=1)
    if target.ndim == 3:
        target = one_hot_labels(target, logits.shape[1])
    if target.shape != probs.shape:
        raise ValueError(f"soft_dice_loss: target shape {tuple(target.shape)} != logits {tuple(probs.shape)}")
    idx = list(classes)
    p = probs[:, idx]
    t = target[:, idx].to(p.dtype)
    inter = (p * t).sum(dim=(2, 3))
    denom = p.sum(dim=(2, 3)) + t.sum(dim=(2, 3))
    dice = (2.0 * inter + smooth) / (denom + smooth)
    return 1.0 - dice.mean()


def box_l1_loss(pred: Tensor, target: Tensor, clip: float = 0.99, mode: str = "value") -> Tensor:
    """Clipped L1 box loss summed over the four values, averaged over the batch.

    Args:
        pred, target: (B, 4) normalised boxes.
        clip: clipping threshold (0.99 in the paper).
        mode: ``"value"`` → Σᵢ min(|Δᵢ|, clip); ``"sum"`` → min(Σᵢ |Δᵢ|, clip) (see the module docstring).

    Returns:
        scalar loss.
    """
    err = (pred.float() - target.float()).abs()
    if mode == "value":
        per_image = torch.clamp(err, max=clip).sum(dim=1)
    elif mode == "sum":
        per_image = torch.clamp(err.sum(dim=1), max=clip)
    else:
        raise ValueError(f"box_l1_loss: mode must be 'value' or 'sum', got {mode!r}")
    return per_image.mean()


def roi_target(label: Tensor, boxes: Tensor, size: tuple[int, int], num_classes: int) -> Tensor:
    """Soft one-hot target of a crop: one-hot ``label`` (B, H, W) cropped to ``boxes`` (detached),
    bilinear."""
    return crop_to_box(one_hot_labels(label, num_classes), boxes.detach().float(), size, mode="bilinear")


def composite_loss(
    output: ModelOutput, batch: dict[str, Tensor], cfg: LossConfig, crop_box: Tensor | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """Total loss of one model output and its named terms (for logging).

    Args:
        output: a logits tensor or one of the NamedTuples of :mod:`lunet.models.outputs`.
        batch: ``label`` (B, H, W) integer labels (uint8 from the data module), ``box`` (B, 4)
            reference boxes with the model's margin and, when the ROI is cropped from a finer copy of the
            image, ``source_label`` (B, H', W'): the labels on that copy's grid, which the ROI target is
            cropped from (so the target keeps the ROI's resolution).
        cfg: weights and options.
        crop_box: the box the ROI was actually cropped with, when it is not ``output.box`` (LU-Net's
            reference-box warm-up).

    Returns:
        ``(total, terms)``; ``terms`` maps names (``dice``, ``dice_o1``, ``dice_roi``, ``box_l1``, ...) to
        detached unweighted values.
    """
    label = batch["label"]
    roi_label = batch.get("source_label", label)  # the ROI target is cropped from the ROI's own source
    terms: dict[str, Tensor] = {}

    def dice(name: str, logits: Tensor, target: Tensor | None = None) -> Tensor:
        value = soft_dice_loss(logits, label if target is None else target, cfg.dice_classes)
        terms[name] = value.detach()
        return cfg.seg_weight * value

    def box(pred: Tensor, weight: float) -> Tensor:
        value = box_l1_loss(pred, batch["box"], cfg.box_clip, cfg.box_clip_mode)
        terms["box_l1"] = value.detach()
        return weight * value

    if isinstance(output, Tensor):
        total = dice("dice", output)
    elif isinstance(output, SHGOutput):
        total = sum(dice(f"dice_s{i + 1}", s) for i, s in enumerate(output.stage_logits))
    elif isinstance(output, RUNetOutput):
        total = dice("dice_o1", output.coarse_logits) + dice("dice", output.logits)
    elif isinstance(output, LocalizerOutput):
        total = box(output.box, cfg.loc_weight)
        if cfg.ul2_mode == "mu":
            total = total + dice("dice", output.logits)
    elif isinstance(output, BoxOutput):
        total = box(output.box, 1.0)
    elif isinstance(output, LUNetOutput):
        used = output.box if crop_box is None else crop_box
        roi_size = (output.roi_logits.shape[-2], output.roi_logits.shape[-1])
        target = roi_target(roi_label, used, roi_size, output.roi_logits.shape[1])
        regressed = output.box if output.regressed_box is None else output.regressed_box
        total = box(regressed, cfg.loc_weight) + dice("dice_o1", output.coarse_logits)
        total = total + dice("dice_roi", output.roi_logits, target)
        if cfg.lunet_o2_loss:
            total = total + dice("dice", output.logits)
    elif isinstance(output, OracleOutput):
        roi_size = (output.roi_logits.shape[-2], output.roi_logits.shape[-1])
        target = roi_target(roi_label, output.box, roi_size, output.roi_logits.shape[1])
        total = dice("dice_roi", output.roi_logits, target)
    else:
        raise TypeError(f"composite_loss: unsupported model output {type(output).__name__}")
    return total, terms
