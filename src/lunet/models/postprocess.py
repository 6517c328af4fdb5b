"""Logits → label map on the original image grid: one rule for training predictions and `lunet predict`.

The left atrium is never output. The networks keep the 4-class head of the papers (BG, LV, MYO, LA), but
the loss covers LV and myocardium only, so the LA channel is never trained and its score means nothing: its
probability is added to the background's before the argmax, and every label map lunet writes holds 0, 1, 2.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from lunet.data.labels import Label

logger = logging.getLogger(__name__)


def labels_on_grid(logits: object, shape: Sequence[int]) -> np.ndarray:
    """Class logits ``(C, S, S)`` (torch tensor or numpy array) → uint8 labels ``(rows, cols)`` on ``shape``.

    Softmax, the LA probability (class 3) merged into the background, bilinear resize of the probabilities to
    ``shape`` (``align_corners=False``), argmax: labels 0 (BG), 1 (LV), 2 (MYO) only. Pixels whose
    logits are not finite (a diverged network) are labelled background (0), with a warning, rather than given
    the arbitrary class that ``argmax`` picks for NaN.
    """
    import torch
    import torch.nn.functional as F

    tensor = logits if isinstance(logits, torch.Tensor) else torch.from_numpy(np.asarray(logits))
    tensor = tensor.detach().float().cpu()[None]
    finite = torch.isfinite(tensor).all(dim=1, keepdim=True)
    if not bool(finite.all()):
        logger.warning("non-finite logits at %d pixels: labelled background", int((~finite).sum()))
        tensor = torch.where(finite, tensor, torch.zeros_like(tensor))
    probs = torch.softmax(tensor, dim=1)
    if probs.shape[1] > int(Label.LA):  # the untrained atrium channel counts as background
        probs = torch.cat([probs[:, :1] + probs[:, int(Label.LA) :].sum(1, keepdim=True), probs[:, 1:3]], 1)
    bad = (~finite).float()
    rows, cols = int(shape[0]), int(shape[1])
    if tuple(probs.shape[-2:]) != (rows, cols):
        probs = F.interpolate(probs, size=(rows, cols), mode="bilinear", align_corners=False)
        bad = F.interpolate(bad, size=(rows, cols), mode="bilinear", align_corners=False)
    labels = probs[0].max(0).indices  # the argmax (first maximum on ties); torch.argmax(0) is 7× slower here
    labels[bad[0, 0] > 0] = 0
    return labels.to(torch.uint8).numpy()
