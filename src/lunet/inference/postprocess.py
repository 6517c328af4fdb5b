"""Logits → label map on the original image grid: one rule for training predictions and `lunet predict`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)


def labels_on_grid(logits: object, shape: Sequence[int]) -> np.ndarray:
    """Class logits ``(C, S, S)`` (torch tensor or numpy array) → uint8 labels ``(rows, cols)`` on ``shape``.

    Softmax, bilinear resize of the probabilities to ``shape`` (``align_corners=False``), argmax. Pixels whose
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
    bad = (~finite).float()
    rows, cols = int(shape[0]), int(shape[1])
    if tuple(probs.shape[-2:]) != (rows, cols):
        probs = F.interpolate(probs, size=(rows, cols), mode="bilinear", align_corners=False)
        bad = F.interpolate(bad, size=(rows, cols), mode="bilinear", align_corners=False)
    labels = probs[0].argmax(0)
    labels[bad[0, 0] > 0] = 0
    return labels.to(torch.uint8).numpy()
