"""The one Lightning module of lunet: a model, a loss and an optimiser configuration (style rule 9).

No subclass per model: the output type of the network selects the loss terms
(:func:`lunet.training.losses.composite_loss`). Logged per epoch: ``train_loss``, ``val_loss`` and, for models
with a segmentation, ``val_dice`` (hard Dice of LV_Endo, mean over the images with an LV in the prediction or
the label); for models with a box, ``val_iou``.

Reproducibility: at the start of every training epoch the global torch RNG is re-seeded from ``(seed,
epoch)``, so an epoch computes the same thing whether the run was resumed or not (shuffling and augmentation
are seeded the same way in :mod:`lunet.training.datamodule`).

This module also holds the small Lightning add-ons of a run: :class:`AtomicCheckpointIO` (a kill never leaves
a half-written ``.ckpt``), :class:`EpochMetricsCSV` (``metrics.csv``, one row per epoch, written atomically
and restored on resume) and the one-line epoch summary in the log.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import Tensor, nn

from lunet.config import OptimConfig
from lunet.data.labels import Label
from lunet.io import atomic_path, write_text_atomic
from lunet.models.outputs import BoxOutput, final_logits, predicted_box
from lunet.training.jitter import jitter_boxes
from lunet.training.losses import LossConfig, composite_loss

logger = logging.getLogger(__name__)


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


class SegmentationTask(L.LightningModule):
    """Trains any lunet model.

    Args:
        model: a network from ``lunet.models.create_model``.
        loss: loss weights and options.
        optim: optimiser settings.
        needs_reference_box: call ``model(image, crop_box)`` with the batch's reference box (the oracle).
        warmup_reference_box_epochs: models that crop an ROI (LU-Net): for the first N epochs crop with the
            reference box (``model(image, crop_box=box)``); 0 = the paper.
        train_crop: ``"predicted"`` (the paper) or ``"reference"``: LU-Net's training crops use the reference
            box every epoch (validation always uses the predicted box).
        reference_box_jitter: SD of the jitter of those training reference boxes
            (:func:`lunet.training.jitter.jitter_boxes`); 0 = the exact reference box.
        crops_roi: the model takes ``crop_box`` and ``crop_source`` (``ModelSpec.crops_roi``); the batch's
            ``source`` (the finer copy of the image, when the data module provides it) is passed on.
        seed: base seed of the per-epoch RNG re-seeding.
        hparams: plain-typed dict saved in checkpoints (the run config); must load with ``weights_only=True``.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: LossConfig,
        optim: OptimConfig,
        needs_reference_box: bool = False,
        warmup_reference_box_epochs: int = 0,
        seed: int = 0,
        hparams: dict[str, Any] | None = None,
        crops_roi: bool = False,
        train_crop: str = "predicted",
        reference_box_jitter: float = 0.0,
    ) -> None:
        super().__init__()
        if (needs_reference_box or warmup_reference_box_epochs > 0) and not crops_roi:
            raise ValueError(
                "a reference-box crop (the oracle, or the warm-up epochs) needs a model that crops an ROI "
                "(lunet, unet1-oracle)"
            )
        self.crops_roi = crops_roi
        self.model = model
        self.loss_config = loss
        self.optim = optim
        self.needs_reference_box = needs_reference_box
        self.warmup_reference_box_epochs = warmup_reference_box_epochs
        self.train_crop = train_crop
        self.reference_box_jitter = reference_box_jitter
        if train_crop == "reference" and not crops_roi:
            raise ValueError("train_crop='reference' needs a model that crops an ROI (lunet)")
        self.seed = seed
        if hparams is not None:
            self.save_hyperparameters(hparams)
        self._epoch_start = time.monotonic()

    def forward(
        self, image: Tensor, crop_box: Tensor | None = None, crop_source: Tensor | None = None
    ) -> Any:
        """The model's output; ``crop_box`` and ``crop_source`` only go to models that crop an ROI."""
        if not self.crops_roi:
            return self.model(image)
        return self.model(image, crop_box=crop_box, crop_source=crop_source)

    def _run(self, batch: dict[str, Tensor]) -> tuple[Any, Tensor | None]:
        """Model output for a batch, and the box the ROI was cropped with when it is not the predicted one
        (the oracle's reference box; LU-Net's reference-box warm-up)."""
        warm = self.training and (
            self.current_epoch < self.warmup_reference_box_epochs or self.train_crop == "reference"
        )
        crop_box = batch["box"] if self.needs_reference_box or warm else None
        if warm and not self.needs_reference_box and self.reference_box_jitter > 0:
            crop_box = jitter_boxes(batch["box"], batch["box0"], self.reference_box_jitter)
        return self(batch["image"], crop_box, batch.get("source")), crop_box

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        out, crop_box = self._run(batch)
        loss, _ = composite_loss(out, batch, self.loss_config, crop_box)
        self.log(
            "train_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(batch["image"]),
            sync_dist=True,
        )
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        out, crop_box = self._run(batch)
        loss, _ = composite_loss(out, batch, self.loss_config, crop_box)
        n = len(batch["image"])
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)
        if not isinstance(out, BoxOutput):  # a box regressor has no segmentation
            pred = final_logits(out).argmax(1) == int(Label.LV)
            dice = hard_dice(pred, batch["label"] == int(Label.LV)).nanmean()
            self.log("val_dice", dice, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)
        box = predicted_box(out)
        if box is not None and not self.needs_reference_box:
            self.log(
                "val_iou", box_iou(box, batch["box"]).nanmean(), on_epoch=True, batch_size=n, sync_dist=True
            )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=self.optim.lr)

    def on_train_epoch_start(self) -> None:
        torch.manual_seed(self.seed * 100_003 + self.current_epoch)
        self._epoch_start = time.monotonic()

    def on_train_epoch_end(self) -> None:
        if not self.trainer.is_global_zero or self.trainer.sanity_checking:
            return
        metrics = self.trainer.callback_metrics
        parts = [f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"]
        for name in ("train_loss", "val_loss", "val_dice", "val_iou"):
            if name in metrics:
                parts.append(f"{name} {float(metrics[name]):.4f}")
        parts.append(f"{time.monotonic() - self._epoch_start:.1f} s")
        logger.info("  ".join(parts))


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file next to the target, then ``os.replace``: never a half-written
    .ckpt."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


class EpochMetricsCSV(L.Callback):
    """``metrics.csv``: one row per finished epoch (epoch, step, losses, Dice, IoU, seconds), resumable.

    The rows live in the callback's state, which Lightning stores in every checkpoint, so a resumed run
    continues the same file instead of starting it again.
    """

    COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_dice", "val_iou", "seconds")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []
        self._start = time.monotonic()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        row: dict[str, float] = {"epoch": trainer.current_epoch + 1, "step": trainer.global_step}
        for name in self.COLUMNS[2:-1]:
            row[name] = float(metrics[name]) if name in metrics else math.nan
        row["seconds"] = round(time.monotonic() - self._start, 3)
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        if trainer.is_global_zero:
            self.write()

    def write(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        write_text_atomic(self.path, buffer.getvalue())

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state_dict.get("rows", [])]
