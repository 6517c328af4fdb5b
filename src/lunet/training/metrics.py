"""Validation metrics of a training epoch, on torch tensors (the empty rules of
:mod:`lunet.evaluation.segmentation`, so training and evaluation agree; the box IoU is
:func:`lunet.boxes.box_iou`, shared with the evaluation)."""

from __future__ import annotations

from torch import Tensor


def hard_dice(pred: Tensor, target: Tensor) -> Tensor:
    """Dice of two boolean masks ``(B, H, W)`` per image ``(B,)``; NaN when both are empty (the rule of
    :func:`lunet.evaluation.segmentation.dice_from_counts`)."""
    from lunet.evaluation.segmentation import dice_from_counts

    inter = (pred & target).flatten(1).sum(1).float()
    return dice_from_counts(inter, pred.flatten(1).sum(1).float(), target.flatten(1).sum(1).float())
