"""What a training run keeps on disk besides its metrics: the best weights, and how and why it stopped.

- :class:`BestBundle` writes the model bundle (``model.safetensors`` + ``model.json``, weights only, no
  optimiser state) every time the monitored loss improves; the full training state (optimiser included) is
  only in ``checkpoints/last.ckpt``, which resuming needs.
- :func:`write_outcome` writes ``RUN/training.json``: the epochs run, the epoch limit, the stop reason and the
  best epoch (:data:`STOP_REASONS`), so that a comparison can say whether the models trained equally long.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning as L

from lunet.io import write_text_atomic

logger = logging.getLogger(__name__)

OUTCOME_FILE = "training.json"
#: Why ``fit`` returned: the epoch limit, early stopping, the step limit or the wall-time limit.
STOP_REASONS = ("max_epochs", "early_stopping", "max_steps", "max_time")


class BestBundle(L.Callback):
    """Save the model as a bundle (:func:`lunet.bundle.save_bundle`) when ``monitor`` reaches a new minimum.

    The best score and epoch are part of the callback's state, which Lightning stores in ``last.ckpt``, so a
    resumed run keeps comparing against the best of the epochs before the interruption.

    Args:
        run_dir: folder of the bundle.
        monitor: logged metric to minimise (``"val_loss"``, or ``"train_loss"`` without validation).
        meta: ``model.json`` content (``"model"``, ``"overrides"``, ...); ``"epoch"`` is added (1-based).
    """

    def __init__(self, run_dir: Path, monitor: str, meta: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.monitor = monitor
        self.meta = meta
        self.best_score = math.inf
        self.best_epoch = 0

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from lunet.bundle import save_bundle

        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        score = float(trainer.callback_metrics[self.monitor])
        if not score < self.best_score:  # NaN never improves
            return
        self.best_score, self.best_epoch = score, trainer.current_epoch + 1
        if trainer.is_global_zero:
            save_bundle(self.run_dir, pl_module.model, {**self.meta, "epoch": self.best_epoch})

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = float(state_dict.get("best_score", math.inf))
        self.best_epoch = int(state_dict.get("best_epoch", 0))


@dataclass(frozen=True)
class TrainingOutcome:
    """How a run ended (``RUN/training.json``).

    Attributes:
        epochs_run: epochs completed (over all resumed sessions).
        epochs_max: the configured epoch limit.
        stop_reason: one of :data:`STOP_REASONS`.
        best_epoch: 1-based epoch of the saved weights (0 when no epoch had a finite loss).
        monitor: the metric the best epoch minimises.
        steps: optimiser steps completed.
    """

    epochs_run: int
    epochs_max: int
    stop_reason: str
    best_epoch: int
    monitor: str
    steps: int


def stop_reason(trainer: L.Trainer, early_stopped: bool, max_time_s: float | None) -> str:
    """Why ``trainer.fit`` returned (see :data:`STOP_REASONS`)."""
    if early_stopped:
        return "early_stopping"
    if 0 <= trainer.max_steps <= trainer.global_step:
        return "max_steps"
    if trainer.current_epoch >= (trainer.max_epochs or 0) or max_time_s is None:
        return "max_epochs"
    return "max_time"


def write_outcome(run_dir: Path, outcome: TrainingOutcome) -> Path:
    """Write ``run_dir/training.json`` atomically and log the outcome in one line."""
    path = run_dir / OUTCOME_FILE
    write_text_atomic(path, json.dumps(asdict(outcome), indent=2) + "\n")
    logger.info(
        "%s: %d of %d epochs (stopped by %s); weights of epoch %d kept",
        run_dir,
        outcome.epochs_run,
        outcome.epochs_max,
        outcome.stop_reason.replace("_", " "),
        outcome.best_epoch,
    )
    return path


def read_outcome(run_dir: Path) -> TrainingOutcome | None:
    """The ``training.json`` of a run, or ``None`` when the run has none (trained by lunet ≤ 0.1)."""
    path = Path(run_dir) / OUTCOME_FILE
    if not path.is_file():
        return None
    return TrainingOutcome(**json.loads(path.read_text()))
