"""The ensemble of a cross-validation's fold models, as ``lunet predict --model CV_RUN`` runs it.

``lunet cv`` leaves one trained model per fold (``RUN/fold_K``, :func:`lunet.bundle.cv_members`). Given the
cross-validation folder, ``lunet predict`` runs every fold model on every frame and writes:

- **labels**: the per-pixel majority vote of the fold models' label maps (each made by the one prediction
  rule, :func:`lunet.models.postprocess.frame_prediction`, so LU-Net's LA from o1 is voted like any label);
  a tie goes to the lowest label (background first), as MONAI's ``VoteEnsemble(num_classes=C)`` votes
  (tested against it);
- **box**: the mean of the fold models' boxes (box models);
- **EDV, ESV, EF**: Simpson on the voted masks; their interval is the CV+ interval of the run's
  ``calibration.json`` (``lunet calibrate RUN``, :mod:`lunet.evaluation.cv_plus`), built from every fold
  model's own estimate (and pass spread) of the patient, and widened to contain the ensemble's estimate.

Every fold model must read the same input (size, crop source) and output the same labels; they do when one
``lunet cv`` trained them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lunet.models.postprocess import FramePrediction

__all__ = ["Ensemble", "vote_frames", "vote_labels"]

#: How the ensemble's masks are made (written in the patient JSON).
VOTE = "per-pixel majority vote of the fold models' labels (ties: the lowest label)"


def vote_labels(label_maps: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel majority vote of label maps (same shape; labels 0–255); a tie goes to the lowest label.

    Raises:
        ValueError: no maps, or maps of different shapes.
    """
    if not label_maps:
        raise ValueError("no label maps to vote")
    stack = np.stack([np.asarray(m, dtype=np.uint8) for m in label_maps])
    counts = np.stack([(stack == c).sum(0) for c in range(int(stack.max()) + 1)])
    return counts.argmax(0).astype(np.uint8)  # argmax takes the first (lowest) label of the maxima


def vote_frames(frames: Sequence[FramePrediction]) -> FramePrediction:
    """The ensemble's prediction of one frame from each fold model's (labels voted, boxes averaged)."""
    labels = [f.labels for f in frames if f.labels is not None]
    boxes = [f.box for f in frames if f.box is not None]
    return FramePrediction(
        labels=vote_labels(labels) if len(labels) == len(frames) else None,
        box=np.mean(boxes, axis=0) if len(boxes) == len(frames) else None,
    )


@dataclass
class Ensemble:
    """The fold models of a cross-validation, loaded for prediction.

    Attributes:
        folder: the ``lunet cv`` run folder.
        members: one :class:`lunet.predictor.Predictor` per fold, by fold number.
        names: their folders' names (``fold_1`` …), as the CV+ calibration lists them.
    """

    folder: Path
    members: list[Any]
    names: list[str]

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        backend: str = "auto",
        device: str = "cpu",
        threads: int | None = None,
    ) -> Ensemble:
        """Load every trained fold of ``folder``.

        Raises:
            ValueError: fewer than two trained folds, or folds that do not read the same input or output the
                same labels.
        """
        from lunet.bundle import trained_labels
        from lunet.inference.backends import load_predictor
        from lunet.run_files import cv_members

        folder = Path(folder)
        folds = cv_members(folder)
        if len(folds) < 2:
            raise ValueError(f"{folder}: not a cross-validation with two or more trained folds (fold_K/)")
        members = [load_predictor(f, backend, device, threads) for f in folds]
        first = members[0]
        for fold, member in zip(folds[1:], members[1:]):
            same = (member.size, getattr(member, "source_size", None), trained_labels(member.meta)) == (
                first.size, getattr(first, "source_size", None), trained_labels(first.meta),
            )  # fmt: skip
            if not same:
                raise ValueError(
                    f"{fold}: its input size, crop source or labels differ from {folds[0]}'s; an ensemble's "
                    "folds must come from one `lunet cv`"
                )
        return cls(folder, members, [f.name for f in folds])
