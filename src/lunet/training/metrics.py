"""Validation metrics of a training epoch, on torch tensors (the empty rules of
:mod:`lunet.evaluation.segmentation`, so training and evaluation agree)."""

from __future__ import annotations

import torch
from torch import Tensor


def hard_dice(pred: Tensor, target: Tensor) -> Tensor:
    """Dice of two boolean masks ``(B, H, W)`` per image ``(B,)``; NaN when both are empty (the rule of
    :func:`lunet.evaluation.segmentation.dice_from_counts`)."""
    from lunet.evaluation.segmentation import dice_from_counts

    inter = (pred & target).flatten(1).sum(1).float()
    return dice_from_counts(inter, pred.flatten(1).sum(1).float(), target.flatten(1).sum(1).float())


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU ``(B,)`` of normalised boxes ``(B, 4)``; NaN for an empty union
    (:func:`lunet.evaluation.segmentation.iou_from_counts`)."""
    from lunet.evaluation.segmentation import iou_from_counts

    lo = torch.maximum(a[:, :2], b[:, :2])
    hi = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(1)
    area = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1) + (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    return iou_from_counts(inter, area - inter)
