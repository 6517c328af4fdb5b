"""Training throughput: lunet's training path against a minimal plain-PyTorch loop, same run.

For each model (default ``unet1`` and ``lunet``), images/s over ``--steps`` optimiser steps after ``--warmup``
steps, measured two ways in the same process:

- **lunet**: ``lunet.training.fit.train`` — the code of ``lunet train``: Lightning ``Trainer`` with lunet's
  callbacks and checkpoint plugin, ``SegmentationTask`` (the LightningModule) and ``CacheDataModule`` reading
  the preprocessed cache each step (``predict=False``; ``max_steps`` = warm-up + steps). A callback syncs the
  device and reads the clock after step ``warmup`` and after the last step.
- **plain**: the same network (same seed, same ``create_model`` overrides), the same loss
  (``composite_loss`` with the same ``LossConfig``), the same ``torch.optim.Adam``, the same batches as
  tensors already on the device (the training frames of the same fold, in cache order), and
  ``zero_grad / backward / step``: no Lightning, no data loading.

The ratio lunet/plain is the figure; target ≥ 0.9. The measured window stays inside the first epoch when
the fold has enough training frames (``--patients`` is chosen so by default); otherwise the epoch-end
work (validation, checkpoint, metrics.csv) falls inside it and is reported.

Run: ``python bench/bench_training.py [--size 128] [--batch 8] [--steps 10] [--repeats 2] [--device cuda]``.
Prints a table, exits 0. Data: synthetic phantom (speed does not depend on the content).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import lightning as L
import numpy as np
import torch

from _common import make_phantom, print_header, print_table, quiet_lightning, setup_torch, sync, verdict

if TYPE_CHECKING:
    from lunet.config import TrainConfig

TARGET_RATIO = 0.9


class StepClock(L.Callback):
    """Reads the clock (after a device sync) when ``global_step`` reaches ``warmup``, ``warmup + steps``."""

    def __init__(self, warmup: int, steps: int, device: str) -> None:
        self.warmup, self.steps, self.device = warmup, steps, device
        self.start = self.stop = math.nan
        self.epochs = (0, 0)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        if trainer.global_step == self.warmup and math.isnan(self.start):
            sync(self.device)
            self.start, self.epochs = time.perf_counter(), (trainer.current_epoch, trainer.current_epoch)
        elif trainer.global_step == self.warmup + self.steps and math.isnan(self.stop):
            sync(self.device)
            self.stop, self.epochs = time.perf_counter(), (self.epochs[0], trainer.current_epoch)


def lunet_seconds(config: TrainConfig, run_dir: Path, args: argparse.Namespace) -> tuple[float, int]:
    """Seconds of ``args.steps`` steps through ``lunet.training.train``; and the epoch boundaries crossed."""
    from lunet.training.fit import train

    clock = StepClock(args.warmup, args.steps, args.device)
    train(config, run_dir, predict=False, callbacks=[clock])
    if math.isnan(clock.stop):
        raise RuntimeError(f"{run_dir}: training stopped before step {args.warmup + args.steps}")
    return clock.stop - clock.start, clock.epochs[1] - clock.epochs[0]


def plain_seconds(
    config: TrainConfig, cache_dir: Path, fold_rows: np.ndarray, args: argparse.Namespace
) -> float:
    """Seconds of ``args.steps`` steps of a bare PyTorch loop on pre-loaded device tensors."""
    from lunet.config import AugmentConfig
    from lunet.data.cache import CachedImages
    from lunet.models.registry import get_spec
    from lunet.training.datamodule import CachedFrames
    from lunet.training.fit import build_model
    from lunet.training.losses import composite_loss

    n_batches = args.warmup + args.steps
    frames = CachedFrames(CachedImages(cache_dir), fold_rows, config.model.box_margin, AugmentConfig())
    items = [frames[i % len(frames)] for i in range(n_batches * args.batch)]
    batches = [
        {k: torch.stack([it[k] for it in items[b * args.batch : (b + 1) * args.batch]]).to(args.device)
         for k in ("image", "label", "box")}
        for b in range(n_batches)
    ]  # fmt: skip
    L.seed_everything(config.seed, verbose=False)
    model, _ = build_model(config)
    model = model.to(args.device).train()
    needs_box = get_spec(config.model.name).needs_reference_box
    loss_config = config.loss
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optim.lr)
    autocast = torch.autocast(
        args.device.split(":")[0], torch.bfloat16, enabled=args.precision == "bf16-mixed"
    )
    start = math.nan
    for i, batch in enumerate(batches):
        with autocast:
            out = model(batch["image"], crop_box=batch["box"]) if needs_box else model(batch["image"])
            loss, _ = composite_loss(out, batch, loss_config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i + 1 == args.warmup:
            sync(args.device)
            start = time.perf_counter()
    sync(args.device)
    return time.perf_counter() - start


def default_patients(args: argparse.Namespace) -> int:
    """Patients whose training share (8 of 10 folds, 4 frames each) covers warm-up + steps in one epoch."""
    frames = args.batch * (args.warmup + args.steps)
    return max(12, math.ceil(frames / 4 / 0.75) + 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["unet1", "lunet"])
    parser.add_argument("--size", type=int, default=128, help="network input side (multiple of 32)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2, help="steps before the clock starts (≥ 1)")
    parser.add_argument("--steps", type=int, default=10, help="timed optimiser steps")
    parser.add_argument(
        "--repeats", type=int, default=2, help="measure each path N times (alternating), keep the best"
    )
    parser.add_argument("--patients", type=int, default=None, help="phantom patients (default: one epoch)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    parser.add_argument("--num-workers", type=int, default=0, help="lunet DataLoader workers")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke check: size 64, 1 + 2 steps, unet1")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.warmup, args.steps, args.repeats, args.models = 64, 4, 1, 2, 1, ["unet1"]
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be ≥ 1")
    setup_torch(args.device, args.threads)
    quiet_lightning()
    print_header("bench_training: lunet training path vs a plain PyTorch loop", args.device)
    from lunet.config import TrainConfig
    from lunet.data.cache import CachedImages, build_cache
    from lunet.training.fit import select_fold

    patients = args.patients or default_patients(args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_training_") as name:
        tmp = Path(name)
        root = make_phantom(tmp / "phantom", patients, size="256", seed=args.seed)
        cache_dir = build_cache(root, tmp / "cache", size=args.size)
        for model in args.models:
            config = TrainConfig.create(
                model=model, data=str(root), cache=str(cache_dir), size=args.size, batch_size=args.batch,
                epochs=10_000, max_steps=args.warmup + args.steps, patience=0, seed=args.seed,
                accelerator="gpu" if args.device.startswith("cuda") else "cpu", precision=args.precision,
                num_workers=args.num_workers, progress_bar=False,
            )  # fmt: skip
            fold = select_fold(config, CachedImages(cache_dir), tmp / "folds_probe")
            train_rows = CachedImages(cache_dir).indices_for(fold.train)
            lunet_s, plain_s, crossed = math.inf, math.inf, 0
            for r in range(args.repeats):
                plain_s = min(plain_s, plain_seconds(config, cache_dir, train_rows, args))
                seconds, crossed = lunet_seconds(config, tmp / f"run_{model}_{r}", args)
                lunet_s = min(lunet_s, seconds)
            images = args.steps * args.batch
            ratio = plain_s / lunet_s
            rows.append({"model": model, "plain img/s": images / plain_s, "lunet img/s": images / lunet_s,
                         "lunet/plain": ratio, "epoch ends in window": crossed,
                         "target ≥ 0.9": verdict(ratio, TARGET_RATIO)})  # fmt: skip
    print(f"\n{patients} phantom patients, fold 1 of 10 ({len(train_rows)} training frames), input "
          f"{args.size}×{args.size}, batch {args.batch}, {args.warmup} warm-up + {args.steps} timed steps, "
          f"{args.precision}, device {args.device}, best of {args.repeats}:")  # fmt: skip
    print_table(rows, ["model", "plain img/s", "lunet img/s", "lunet/plain", "epoch ends in window",
                       "target ≥ 0.9"])  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
