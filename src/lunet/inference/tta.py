"""Test-time augmentation (TTA): a small fixed set of passes, their masks mapped back to the original grid.

Each pass (:class:`TtaPass`) is one member of the training augmentation family
(:func:`lunet.training.datamodule.augment_frame`): a zoom about the image centre, a translation and a gamma
change of the normalised ``[0, 1]`` intensities, with fixed values instead of random draws, and no
left-right flip (a flipped apical view is a mirrored heart the networks never saw). The geometric map is
defined in normalised image coordinates (``align_corners=False``), so it is the same on the ``S × S``
network input, on LU-Net's ``2S`` crop source and on the original image grid:

``augmented(u) = image((u − c − t) / z + c)`` (pixel ``u``, centre ``c``, shift ``t`` = fraction × side,
zoom ``z``)

A pass's labels, predicted on the augmented input and put on the original grid by
:func:`lunet.models.postprocess.frame_labels`, are taken back by the inverse map
``label(v) = predicted(z · (v − c) + c + t)`` (nearest neighbour; outside the image: background). The
identity pass is not resampled at all, so its mask is today's prediction, bit for bit.

:data:`DEFAULT_PASSES` (7 passes: identity, zoom 0.95 and 1.05, a diagonal shift of ±3 % of the side, gamma
0.85 and 1.15) stays inside half the training augmentation's default range (``AugmentConfig``: zoom ±10 %,
shift ±5 %, gamma ±20 %). The spread of a patient's EF over the passes is what the ``normalised`` conformal
score divides by (:mod:`lunet.evaluation.intervals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lunet.models.postprocess import frame_labels

__all__ = ["DEFAULT_PASSES", "TtaPass", "augment_input", "pass_labels", "passes_by_name", "restore_labels"]


@dataclass(frozen=True)
class TtaPass:
    """One deterministic augmentation.

    Attributes:
        name: short id written in ``calibration.json``.
        zoom: scale about the image centre (> 1 enlarges the heart).
        shift: ``(rows, cols)`` translation as a fraction of the image side (+ moves the content down/right).
        gamma: exponent applied to the normalised ``[0, 1]`` intensities.
    """

    name: str
    zoom: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    gamma: float = 1.0

    @property
    def geometric(self) -> bool:
        """Whether the pass moves pixels (its labels need the inverse map)."""
        return self.zoom != 1.0 or self.shift != (0.0, 0.0)

    @property
    def identity(self) -> bool:
        """The unaugmented pass."""
        return not self.geometric and self.gamma == 1.0


IDENTITY = TtaPass("identity")
#: The default passes: the unaugmented one first (the point estimate), then six augmentations.
DEFAULT_PASSES: tuple[TtaPass, ...] = (
    IDENTITY,
    TtaPass("zoom0.95", zoom=0.95),
    TtaPass("zoom1.05", zoom=1.05),
    TtaPass("shift+0.03", shift=(0.03, 0.03)),
    TtaPass("shift-0.03", shift=(-0.03, -0.03)),
    TtaPass("gamma0.85", gamma=0.85),
    TtaPass("gamma1.15", gamma=1.15),
)


def passes_by_name(names: Sequence[str]) -> tuple[TtaPass, ...]:
    """The default passes named in ``names`` (e.g. those recorded in a ``calibration.json``), in that order.

    Raises:
        ValueError: an unknown pass name.
    """
    known = {p.name: p for p in DEFAULT_PASSES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown test-time augmentation pass(es) {unknown}; known: {sorted(known)}")
    return tuple(known[n] for n in names)


def _affine(shape: Sequence[int], tta: TtaPass, inverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(matrix, offset)`` of ``scipy.ndimage.affine_transform`` (output pixel → input pixel)."""
    size = np.asarray(shape[-2:], dtype=np.float64)
    centre = (size - 1.0) / 2.0
    shift = np.asarray(tta.shift, dtype=np.float64) * size
    if inverse:  # label(v) = predicted(z (v − c) + c + t)
        return np.eye(2) * tta.zoom, centre * (1.0 - tta.zoom) + shift
    return np.eye(2) / tta.zoom, centre - (centre + shift) / tta.zoom  # image((u − c − t) / z + c)


def augment_input(image: np.ndarray, tta: TtaPass) -> np.ndarray:
    """A prepared network input ``(rows, cols)`` float32 in ``[0, 1]`` under one pass (bilinear, edges
    repeated, as in training); the identity pass returns the input unchanged."""
    if tta.identity:
        return image
    from scipy.ndimage import affine_transform

    out = np.asarray(image, dtype=np.float32)
    if tta.geometric:
        matrix, offset = _affine(out.shape, tta, inverse=False)
        out = affine_transform(out, matrix, offset, order=1, mode="nearest").astype(np.float32)
    if tta.gamma != 1.0:
        out = np.clip(out, 0.0, 1.0) ** np.float32(tta.gamma)
    return out.astype(np.float32, copy=False)


def restore_labels(labels: np.ndarray, tta: TtaPass) -> np.ndarray:
    """Labels ``(rows, cols)`` predicted under ``tta`` (on the original grid) taken back to the unaugmented
    image (nearest neighbour; background where the inverse map leaves the image)."""
    if not tta.geometric:
        return labels
    from scipy.ndimage import affine_transform

    matrix, offset = _affine(labels.shape, tta, inverse=True)
    return affine_transform(labels, matrix, offset, order=0, mode="constant", cval=0).astype(labels.dtype)


def pass_labels(
    predictor: Any,
    inputs: Sequence[Sequence[np.ndarray]],
    shapes: Sequence[Sequence[int]],
    tta: TtaPass,
    batch_size: int = 8,
) -> list[np.ndarray | None]:
    """Labels of a batch of frames under one pass, on each frame's original grid.

    Args:
        predictor: a :class:`lunet.inference.backends.Predictor` (or any callable with its signature).
        inputs: per frame, the network inputs of :func:`lunet.inference.inputs.network_inputs`
            (``[image (S, S)]`` or ``[image, crop source (2S, 2S)]``).
        shapes: per frame, the original ``(rows, cols)``.
        tta: the pass.
        batch_size: frames per model call.

    Returns:
        Per frame, uint8 labels ``(rows, cols)`` in the unaugmented image's geometry (None for a model
        without segmentation).
    """
    out: list[np.ndarray | None] = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        arrays = [np.stack([augment_input(a, tta) for a in parts])[:, None] for parts in zip(*chunk)]
        outputs = predictor(*arrays)
        for i, shape in enumerate(shapes[start : start + batch_size]):
            label = frame_labels(outputs, i, shape)
            out.append(None if label is None else restore_labels(label, tta))
    return out
