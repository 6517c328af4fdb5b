"""``RUN/metrics.csv``: one row per finished epoch, written atomically and restored on resume."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import lightning as L

from lunet.io import write_text_atomic


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
