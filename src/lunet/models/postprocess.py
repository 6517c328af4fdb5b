"""Model outputs → labels and box on the original image grid: one rule for a run's predictions,
`lunet predict` and sequences (:func:`frame_prediction` over what :class:`lunet.predictor.Predictor`
returns).

The networks keep the 4-class head of CAMUS (BG, LV, MYO, LA). Whether the left-atrium channel means anything
depends on the training: a model whose loss covered the LA (the default since the LA is trained,
``LossConfig.dice_classes`` ``(1, 2, 3)``; :func:`lunet.bundle.trained_labels` reads it from a bundle) is
composed with ``atrium=True`` and its label maps hold 0–3. A model trained on LV and myocardium only (every
run and bundle written before) never trained the LA channel, so its score means nothing: with
``atrium=False`` its probability is added to the background's before the argmax and the label maps hold 0, 1,
2 — exactly as that model always predicted.

LU-Net's ROI is a box around LV ∪ myocardium (as in the paper), so the atrium lies mostly outside it, where
the pasted ROI output is background. With ``atrium=True`` and U-L2's full-image segmentation o1
(``coarse_logits``) in the outputs, :func:`frame_labels` labels LA where the composed output is background
and o1's arg-max is LA: the LA comes from o1, the LV and myocardium stay the ROI's (Tables I–IV unchanged in
meaning).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lunet.data.labels import Label

logger = logging.getLogger(__name__)


def probabilities_on_grid(
    logits: object, shape: Sequence[int], box: object | None = None, atrium: bool = False
) -> np.ndarray:
    """Class logits ``(C, h, w)`` (torch tensor or numpy array) → float32 probabilities ``(3, rows, cols)``
    (BG, LV, MYO), or ``(4, rows, cols)`` (BG, LV, MYO, LA) with ``atrium``, on ``shape``.

    Softmax, the LA probability (class 3) merged into the background unless ``atrium`` (a model trained on
    the LA), then the probabilities are resampled bilinearly (``align_corners=False``) onto ``shape``:

    - ``box`` ``None``: the logits cover the whole image (e.g. ``(C, S, S)`` on the network grid), resized;
    - ``box`` ``(4,)`` normalised: the logits are an ROI in that box's frame (LU-Net and the oracle with
      ``crop_grid="native"``), pasted with :func:`lunet.models.crop.paste_from_box`; outside the box the
      probability is all background.

    Pixels whose logits are not finite (a diverged network) get probability 1 for the background, with a
    warning, rather than the arbitrary class that ``argmax`` picks for NaN.
    """
    return _probabilities(logits, shape, box, atrium).numpy()


def labels_on_grid(
    logits: object, shape: Sequence[int], box: object | None = None, atrium: bool = False
) -> np.ndarray:
    """Class logits ``(C, h, w)`` → uint8 labels ``(rows, cols)`` on ``shape``: the argmax of
    :func:`probabilities_on_grid` (same arguments), labels 0 (BG), 1 (LV), 2 (MYO), and 3 (LA) only with
    ``atrium``."""
    import torch

    probs = _probabilities(logits, shape, box, atrium)
    return probs.max(0).indices.to(torch.uint8).numpy()  # the argmax (first maximum on ties): 7× faster


def _probabilities(logits: object, shape: Sequence[int], box: object | None, atrium: bool = False) -> Any:
    """:func:`probabilities_on_grid` as a torch tensor ``(3 or 4, rows, cols)``."""
    import torch
    import torch.nn.functional as F

    tensor = logits if isinstance(logits, torch.Tensor) else torch.from_numpy(np.asarray(logits))
    tensor = tensor.detach().float().cpu()[None]
    finite = torch.isfinite(tensor).all(dim=1, keepdim=True)
    all_finite = bool(finite.all())
    if not all_finite:
        logger.warning("non-finite logits at %d pixels: labelled background", int((~finite).sum()))
        tensor = torch.where(finite, tensor, torch.zeros_like(tensor))
    probs = torch.softmax(tensor, dim=1)
    if not atrium and probs.shape[1] > int(Label.LA):  # an untrained atrium channel counts as background
        probs = torch.cat([probs[:, :1] + probs[:, int(Label.LA) :].sum(1, keepdim=True), probs[:, 1:3]], 1)
    bad = (~finite).float()
    rows, cols = int(shape[0]), int(shape[1])
    if box is not None:
        from lunet.models.crop import paste_from_box

        boxes = torch.as_tensor(np.asarray(box, dtype=np.float32).reshape(1, 4))
        background = torch.zeros(probs.shape[1])
        background[0] = 1.0
        probs = paste_from_box(probs, boxes, (rows, cols), fill=background)
        bad = paste_from_box(bad, boxes, (rows, cols)) if not all_finite else bad
    elif tuple(probs.shape[-2:]) != (rows, cols):
        probs = F.interpolate(probs, size=(rows, cols), mode="bilinear", align_corners=False)
        if not all_finite:
            bad = F.interpolate(bad, size=(rows, cols), mode="bilinear", align_corners=False)
    probs = probs[0]
    if not all_finite:
        invalid = bad[0, 0] > 0
        probs[:, invalid] = 0.0
        probs[0, invalid] = 1.0
    return probs


def frame_labels(
    outputs: Mapping[str, object], index: int, shape: Sequence[int], atrium: bool = False
) -> np.ndarray | None:
    """Labels ``(rows, cols)`` of frame ``index`` of a batch of model outputs, or ``None`` without a
    segmentation.

    ``outputs``: ``{"roi_logits": (B, C, h, w), "box": (B, 4)}`` (ROI composed on the original grid) or
    ``{"logits": (B, C, S, S), ...}`` (the full image), as the prediction back-ends return them; with
    ``atrium`` (a model trained on the LA), LU-Net's ``"coarse_logits"`` ``(B, C, S, S)`` (o1), when present,
    fill the LA where the composed labels are background (see the module docstring).
    """
    if "roi_logits" in outputs:
        labels = labels_on_grid(outputs["roi_logits"][index], shape, outputs["box"][index], atrium)  # type: ignore[index]
    elif "logits" in outputs:
        labels = labels_on_grid(outputs["logits"][index], shape, atrium=atrium)  # type: ignore[index]
    else:
        return None
    if atrium and "coarse_logits" in outputs:
        coarse = labels_on_grid(outputs["coarse_logits"][index], shape, atrium=True)  # type: ignore[index]
        labels[(labels == int(Label.BG)) & (coarse == int(Label.LA))] = int(Label.LA)
    return labels


def frame_scores(
    outputs: Mapping[str, Any], index: int, shape: Sequence[int], atrium: bool = False
) -> np.ndarray:
    """Class scores of frame ``index`` whose :func:`labels_on_grid` on ``shape`` are the frame's labels, kept
    on the coarsest grid that allows it (for smoothing along time before the argmax).

    Returns:
        float32: the full-image ``logits`` ``(C, S, S)`` as they are, or, for an ROI (``roi_logits`` and
        ``box``), the log-probabilities ``(3, rows, cols)`` (4 with ``atrium``) composed on ``shape`` (softmax
        of log p is p).

    Raises:
        ValueError: the outputs hold no segmentation (a box regressor).
    """
    if "roi_logits" in outputs:
        probs = probabilities_on_grid(outputs["roi_logits"][index], shape, outputs["box"][index], atrium)
        return np.log(np.maximum(probs, 1e-12))
    if "logits" in outputs:
        return np.asarray(outputs["logits"][index], dtype=np.float32)
    raise ValueError("the model has no segmentation output")


@dataclass(frozen=True, eq=False)
class FramePrediction:
    """What a model says about one frame, on the frame's original grid.

    Attributes:
        labels: ``(rows, cols)`` uint8 labels, or ``None`` for a box regressor.
        box: ``(4,)`` float64 normalised box ``(x_min, y_min, x_max, y_max)``, or ``None`` without a box.
        coarse_labels: ``(rows, cols)`` uint8 labels of o1 (the first stage of a two-stage model) when the
            outputs carry ``o1_logits`` (:data:`lunet.predictor.FIRST_STAGE`), else ``None``.
    """

    labels: np.ndarray | None
    box: np.ndarray | None
    coarse_labels: np.ndarray | None = None


def frame_prediction(
    outputs: Mapping[str, Any], index: int, shape: Sequence[int], atrium: bool = False
) -> FramePrediction:
    """Frame ``index`` of a batch of model outputs on its original grid ``shape`` ``(rows, cols)``.

    ``outputs`` as :class:`lunet.predictor.Predictor` returns them: ``{"roi_logits", "box"}``, or
    ``{"logits"}`` and/or ``{"box"}``, optionally ``{"o1_logits"}`` (o1); labels by :func:`frame_labels`
    (``atrium``: a model trained on the left atrium, its LA kept, LU-Net's from ``coarse_logits``).
    """
    box = np.asarray(outputs["box"][index], dtype=np.float64) if "box" in outputs else None
    coarse = outputs.get("o1_logits")
    return FramePrediction(
        labels=frame_labels(outputs, index, shape, atrium),
        box=box,
        coarse_labels=None if coarse is None else labels_on_grid(coarse[index], shape, atrium=atrium),
    )
