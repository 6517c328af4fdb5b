"""Typed, frozen training configuration, saved as JSON in every run folder (style rule 8).

Hyper-parameters are data: changing the epoch count, the model or the loss weights never needs a new class.
``TrainConfig.to_json`` / ``from_json`` round-trip exactly; ``replace`` applies CLI overrides.

Paper defaults (Leclerc et al., TUFFC 2020, Sec. IV-C): Adam, lr 1e-3 (or 1e-4), early stopping with patience
20 on the validation loss, best validation checkpoint kept, localization term weighted 10, L1 box loss clipped
at 0.99, multi-class Dice over LV and myocardium. The batch size is not given in the paper; 16 is our default.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lunet.io import write_text_atomic

UL2_MODES = ("mu", "mo")
BOX_CLIP_MODES = ("value", "sum")


class ConfigError(ValueError):
    """An invalid configuration value or file (the message names the field or the file)."""


@dataclass(frozen=True)
class LossConfig:
    """Weights and options of ``lunet.training.losses.composite_loss``; the single source of the loss defaults
    (``TrainConfig``'s loss fields default to these; ``from_train`` picks them out of a ``TrainConfig``)."""

    seg_weight: float = 1.0
    loc_weight: float = 10.0
    box_clip: float = 0.99
    box_clip_mode: str = "value"
    dice_classes: tuple[int, ...] = (1, 2)
    ul2_mode: str = "mu"
    lunet_o2_loss: bool = False

    @classmethod
    def from_train(cls, config: object) -> LossConfig:
        names = cls.__dataclass_fields__
        return cls(**{name: getattr(config, name) for name in names})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Attributes:
        model: registry name (``lunet models`` lists them).
        model_overrides: keyword overrides for ``create_model`` (e.g. ``{"dil": 30, "shift": 0.7}``).
        data: dataset root (CAMUS layout, either release, or a synthetic one).
        cache: folder of the resized-image cache; ``None`` → ``<out>/../cache/<data name>_<size>``.
        fold: test fold, 1-based (1..n_folds).
        n_folds: number of cross-validation folds (10 in the papers).
        folds_dir: folder of published fold lists (``subGroup{k}_{training,validation,testing}.txt``);
            ``None`` → the official CAMUS folds on the CAMUS training set, else stratified folds built from
            ``seed`` (:func:`lunet.data.folds.choose_folds`).
        generated_folds: stratified folds built from ``seed`` even on the CAMUS training set.
        seed: seed of the folds, the initial weights, the shuffling and the augmentation.
        size: network input side in pixels (256 in the papers; a multiple of 32).
        margin: box margin of the reference boxes (0.05 for "-m5", 0.15 for "-m15").
        epochs: maximum number of epochs (early stopping usually ends training before).
        lr: Adam learning rate (1e-3 or 1e-4 in the paper).
        batch_size: global batch size (split across the processes in DDP).
        patience: early-stopping patience in epochs on the validation loss; 0 disables early stopping.
        seg_weight: weight of every Dice term.
        loc_weight: weight of the box L1 term in multi-task losses (10 in the paper).
        box_clip: clip of the L1 box loss (0.99 in the paper).
        box_clip_mode: ``"value"`` clips each of the 4 absolute errors, ``"sum"`` clips their sum
            (see :mod:`lunet.training.losses` for why ``"value"`` is the default).
        dice_classes: classes in the multi-class Dice loss (LV=1, MYO=2 in the paper).
        ul2_mode: U-L1/U-L2 loss, ``"mu"`` (box + segmentation) or ``"mo"`` (box only).
        lunet_o2_loss: add a Dice term on LU-Net's pasted full-image output o2 (not in the paper; off).
        warmup_reference_box_epochs: LU-Net option (not in the paper; 0 = paper): during the first N
            epochs the segmentation U-Net is fed the crop of the *reference* box instead of the predicted one,
            so that it learns on sensible crops while the localizer is still poor.
        augment: light augmentation of the training images (off by default, as in the paper).
        augment_shift: largest random translation, fraction of the image side.
        augment_scale: largest random zoom, fraction (0.1 → 0.9..1.1).
        augment_gamma: largest random gamma change, fraction (0.2 → gamma 0.8..1.2).
        accelerator: Lightning accelerator ("auto", "cpu", "gpu").
        devices: Lightning devices (an int, or "auto").
        num_nodes: number of nodes (DDP across machines).
        strategy: Lightning strategy ("auto", "ddp", ...).
        precision: Lightning precision ("32-true", "16-mixed", "bf16-mixed").
        sync_batchnorm: synchronise BatchNorm statistics across DDP processes.
        num_workers: data-loader worker processes.
        max_steps: stop after this many optimiser steps (-1 = no limit; used by tests).
        max_time_s: stop training after this many seconds (``None`` = no limit; the demo's safety net on slow
            machines; results then depend on the machine's speed).
        deterministic: ask PyTorch/Lightning for deterministic algorithms.
        log_every_n_steps: Lightning logging interval.
        progress_bar: show Lightning's progress bar (loss and val Dice).
    """

    model: str = "unet1"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    data: str = ""
    cache: str | None = None
    fold: int = 1
    n_folds: int = 10
    folds_dir: str | None = None
    generated_folds: bool = False
    seed: int = 0
    size: int = 256
    margin: float = 0.05
    epochs: int = 500
    lr: float = 1e-3
    batch_size: int = 16
    patience: int = 20
    seg_weight: float = LossConfig.seg_weight
    loc_weight: float = LossConfig.loc_weight
    box_clip: float = LossConfig.box_clip
    box_clip_mode: str = LossConfig.box_clip_mode
    dice_classes: tuple[int, ...] = LossConfig.dice_classes
    ul2_mode: str = LossConfig.ul2_mode
    lunet_o2_loss: bool = LossConfig.lunet_o2_loss
    warmup_reference_box_epochs: int = 0
    augment: bool = False
    augment_shift: float = 0.05
    augment_scale: float = 0.1
    augment_gamma: float = 0.2
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    sync_batchnorm: bool = False
    num_workers: int = 0
    max_steps: int = -1
    max_time_s: float | None = None
    deterministic: bool = False
    log_every_n_steps: int = 10
    progress_bar: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "dice_classes", tuple(int(c) for c in self.dice_classes))
        object.__setattr__(self, "model_overrides", dict(self.model_overrides))
        if self.ul2_mode not in UL2_MODES:
            raise ConfigError(f"ul2_mode must be one of {UL2_MODES}, got {self.ul2_mode!r}")
        if self.box_clip_mode not in BOX_CLIP_MODES:
            raise ConfigError(f"box_clip_mode must be one of {BOX_CLIP_MODES}, got {self.box_clip_mode!r}")
        if self.size <= 0 or self.size % 32:
            raise ConfigError(f"size must be a positive multiple of 32, got {self.size}")
        if not 1 <= self.fold <= self.n_folds:
            raise ConfigError(f"fold must be in 1..{self.n_folds}, got {self.fold}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ConfigError(f"batch_size and epochs must be >= 1, got {self.batch_size}, {self.epochs}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.margin < 1.0:
            raise ConfigError(f"margin must be in [0, 1), got {self.margin}")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (``None`` values are ignored, so unset CLI flags keep the
        field)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["dice_classes"] = list(self.dice_classes)
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text of the config; also written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            write_text_atomic(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from a dict; unknown keys are an error naming ``source``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown config field(s) {', '.join(unknown)}")
        try:
            return cls(**values)
        except TypeError as err:
            raise ConfigError(f"{source}: {err}") from None

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> TrainConfig:
        """Parse JSON text, or read a ``config.json`` file (a path to an existing file)."""
        source = "config"
        text = str(text_or_path)
        path = Path(text) if isinstance(text_or_path, Path) or not text.lstrip().startswith("{") else None
        if path is not None:
            if not path.is_file():
                raise ConfigError(f"{path}: no such config file")
            source, text = str(path), path.read_text()
        try:
            values = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{source}: not valid JSON ({err})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object of config fields")
        return cls.from_dict(values, source)
