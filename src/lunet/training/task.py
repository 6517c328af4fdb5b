"""The one Lightning module of lunet: a model, a loss and an optimiser configuration (style rule 9).

No subclass per model: the output type of the network selects the loss terms
(:func:`lunet.training.losses.composite_loss`). Logged per epoch: ``train_loss``, ``val_loss`` and, for models
with a segmentation, ``val_dice`` (hard Dice of LV_Endo, mean over the images with an LV in the prediction or
the label); for models with a box, ``val_iou``.

Reproducibility: at the start of every training epoch the global torch RNG is re-seeded from ``(seed,
epoch)``, so an epoch computes the same thing whether the run was resumed or not (shuffling and augmentation
are seeded the same way in :mod:`lunet.training.datamodule`).

The run's other Lightning add-ons live beside it: the validation metrics (:mod:`lunet.training.metrics`),
atomic checkpoints (:mod:`lunet.training.checkpoint_io`) and ``metrics.csv``
(:mod:`lunet.training.metrics_csv`); this module logs the one-line epoch summary.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from lunet.boxes import box_iou
from lunet.config import OptimConfig
from lunet.data.labels import Label
from lunet.models.outputs import BoxOutput, final_logits, predicted_box
from lunet.training.jitter import jitter_boxes
from lunet.training.losses import LossConfig, composite_loss
from lunet.training.metrics import hard_dice

logger = logging.getLogger(__name__)


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
