"""Typed, frozen training configuration, saved as JSON in every run folder (style rule 8).

A :class:`TrainConfig` nests one frozen dataclass per concern, and each field has exactly one owner:

========== ==================== ==========================================================================
section    class                fields
========== ==================== ==========================================================================
``data``   :class:`DataConfig`  dataset root, cache, folds, input size, batch size, loader workers
``model``  :class:`ModelConfig` registry name and constructor overrides (the box margin is one of them)
``loss``   :class:`LossConfig`  weights and options of ``lunet.training.losses.composite_loss``
``optim``  :class:`OptimConfig` Adam's learning rate
``augment`` :class:`AugmentConfig` light augmentation of the training frames
``trainer`` :class:`TrainerConfig` epochs, early stopping, Lightning's devices / precision / logging
========== ==================== ==========================================================================

plus the run's ``seed``. Every field also has a *flag name*, unique over the whole config: the name of its
command-line flag (``--batch-size`` → ``batch_size``) and of its key in the flat ``config.json`` that lunet
wrote before the sections existed (format 1; still read, see :meth:`TrainConfig.from_dict`). The CLI flags of
``lunet train`` / ``lunet cv`` are generated from :func:`flag_fields`.

Paper defaults (Leclerc et al., TUFFC 2020, Sec. IV-C): Adam, lr 1e-3 (or 1e-4), early stopping with patience
20 on the validation loss, best validation checkpoint kept, localization term weighted 10, L1 box loss clipped
at 0.99, multi-class Dice over LV and myocardium. The batch size is not given in the paper; 16 is our default.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lunet.io import write_text_atomic

logger = logging.getLogger(__name__)

UL2_MODES = ("mu", "mo")
BOX_CLIP_MODES = ("value", "sum")
#: ``config.json`` layout written by this version (1: the flat layout of lunet ≤ 0.1).
CONFIG_FORMAT = 2
#: Box margin of models whose overrides do not set ``box_margin`` (LU-Net-m5).
DEFAULT_BOX_MARGIN = 0.05
BOX_MARGIN = "box_margin"


class ConfigError(ValueError):
    """An invalid configuration value or file (the message names the field or the file)."""


def _opt(help_text: str, flag: str | None = None, **extra: Any) -> dict[str, Any]:
    """Field metadata: the CLI help, the flag name when it differs from the field name, and ``choices`` or
    ``cli`` (the command-line spelling when it differs from the flag name)."""
    return {"help": help_text, "flag": flag, **extra}


@dataclass(frozen=True)
class DataConfig:
    """Where the frames come from and how they are batched.

    Attributes:
        root: dataset folder (CAMUS layout, either release, or a synthetic one).
        cache: folder of the resized-image cache; ``None`` → ``<run>/../cache/<data name>_<size>``.
        fold: test fold, 1-based (1..n_folds).
        n_folds: number of cross-validation folds (10 in the papers).
        folds_dir: folder of published fold lists (``subGroup{k}_{training,validation,testing}.txt``);
            ``None`` → the official CAMUS folds on the CAMUS training set, else stratified folds built from
            the run's seed (:func:`lunet.data.folds.choose_folds`).
        generated_folds: stratified folds built from the seed even on the CAMUS training set.
        size: network input side in pixels (256 in the papers; a multiple of 32).
        batch_size: global batch size (split across the processes in DDP).
        num_workers: data-loader worker processes.
    """

    root: str = field(
        default="", metadata=_opt("dataset root (CAMUS layout or `lunet synth` output)", "data")
    )
    cache: str | None = field(default=None, metadata=_opt("resized-image cache (default <out>/../cache/...)"))
    fold: int = field(default=1, metadata=_opt("test fold, 1-based (default 1)"))
    n_folds: int = field(default=10, metadata=_opt("number of cross-validation folds (default 10)"))
    folds_dir: str | None = field(default=None, metadata=_opt("folder of subGroup<k>_*.txt fold lists"))
    generated_folds: bool = field(
        default=False,
        metadata=_opt(
            "stratified folds from --seed even on the CAMUS training set (default there: official folds)",
            cli="generated",
        ),
    )
    size: int = field(default=256, metadata=_opt("input side in pixels, a multiple of 32 (default 256)"))
    batch_size: int = field(default=16, metadata=_opt("global batch size (default 16)"))
    num_workers: int = field(default=0, metadata=_opt("data-loader workers (default 0)"))

    def __post_init__(self) -> None:
        if self.size <= 0 or self.size % 32:
            raise ConfigError(f"size must be a positive multiple of 32, got {self.size}")
        if self.n_folds < 2 or not 1 <= self.fold <= self.n_folds:
            raise ConfigError(
                f"fold must be in 1..n_folds with n_folds >= 2, got {self.fold} of {self.n_folds}"
            )
        if self.batch_size < 1 or self.num_workers < 0:
            raise ConfigError(
                f"batch_size must be >= 1 and num_workers >= 0, got {self.batch_size}, {self.num_workers}"
            )


@dataclass(frozen=True)
class ModelConfig:
    """The network: a registry name and keyword overrides of its constructor.

    The box margin (fraction of the box side added on each side; 0.05 for LU-Net-m5, 0.15 for -m15) is the
    override ``box_margin``: it defines the box targets and the oracle's crop, and it is passed to the
    constructor of the models that take it.

    Attributes:
        name: registry name (``lunet models`` lists them).
        overrides: keyword overrides for ``create_model`` (e.g. ``{"dil": 30, "shift": 0.7}``).
    """

    name: str = field(
        default="unet1", metadata=_opt("network name (see `lunet models`; default unet1)", "model")
    )
    overrides: dict[str, Any] = field(default_factory=dict, metadata=_opt("model options", "model_overrides"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", dict(self.overrides))
        margin = self.overrides.get(BOX_MARGIN, DEFAULT_BOX_MARGIN)
        if not isinstance(margin, int | float) or not 0.0 <= margin < 1.0:
            raise ConfigError(f"box margin must be a number in [0, 1), got {margin!r}")

    @property
    def box_margin(self) -> float:
        """Box margin, a fraction of the box side (``overrides["box_margin"]``, else 0.05)."""
        return float(self.overrides.get(BOX_MARGIN, DEFAULT_BOX_MARGIN))


@dataclass(frozen=True)
class LossConfig:
    """Weights and options of ``lunet.training.losses.composite_loss``.

    Attributes:
        seg_weight: weight of every Dice term.
        loc_weight: weight of the box L1 term in multi-task losses (10 in the paper).
        box_clip: clip of the L1 box loss (0.99 in the paper).
        box_clip_mode: ``"value"`` clips each of the 4 absolute errors, ``"sum"`` clips their sum (see
            :mod:`lunet.training.losses` for why ``"value"`` is the default).
        dice_classes: classes in the multi-class Dice loss (LV=1, MYO=2 in the paper).
        ul2_mode: U-L1/U-L2 loss, ``"mu"`` (box + segmentation) or ``"mo"`` (box only).
        lunet_o2_loss: add a Dice term on LU-Net's pasted full-image output o2 (not in the paper; off).
    """

    seg_weight: float = field(default=1.0, metadata=_opt("weight of every Dice term (default 1)"))
    loc_weight: float = field(default=10.0, metadata=_opt("weight of the box loss (default 10)"))
    box_clip: float = field(default=0.99, metadata=_opt("clip of the L1 box loss (default 0.99)"))
    box_clip_mode: str = field(
        default="value", metadata=_opt("clip each box error (value) or their sum", choices=BOX_CLIP_MODES)
    )
    dice_classes: tuple[int, ...] = field(default=(1, 2), metadata=_opt("classes of the Dice loss, e.g. 1,2"))
    ul2_mode: str = field(
        default="mu",
        metadata=_opt("U-L1/U-L2 loss: box+segmentation (mu) or box only (mo)", choices=UL2_MODES),
    )
    lunet_o2_loss: bool = field(default=False, metadata=_opt("LU-Net: Dice on the pasted output o2 too"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "dice_classes", tuple(int(c) for c in self.dice_classes))
        if self.ul2_mode not in UL2_MODES:
            raise ConfigError(f"ul2_mode must be one of {UL2_MODES}, got {self.ul2_mode!r}")
        if self.box_clip_mode not in BOX_CLIP_MODES:
            raise ConfigError(f"box_clip_mode must be one of {BOX_CLIP_MODES}, got {self.box_clip_mode!r}")


@dataclass(frozen=True)
class OptimConfig:
    """Adam optimiser settings (the paper: Adam, lr 1e-3 or 1e-4)."""

    lr: float = field(
        default=1e-3, metadata=_opt("Adam learning rate (default 1e-3; the paper also uses 1e-4)")
    )

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


@dataclass(frozen=True)
class AugmentConfig:
    """Light augmentation of the training frames (off by default: the paper mentions none).

    Attributes:
        enabled: augment the training frames.
        shift: largest random translation, fraction of the image side.
        scale: largest random zoom change, fraction (0.1 → 0.9..1.1).
        gamma: largest random gamma change, fraction (0.2 → gamma 0.8..1.2).
    """

    enabled: bool = field(default=False, metadata=_opt("light augmentation (off by default)", "augment"))
    shift: float = field(default=0.05, metadata=_opt("largest shift, fraction of the side", "augment_shift"))
    scale: float = field(default=0.1, metadata=_opt("largest zoom change, fraction", "augment_scale"))
    gamma: float = field(default=0.2, metadata=_opt("largest gamma change, fraction", "augment_gamma"))


@dataclass(frozen=True)
class TrainerConfig:
    """How long and where to train (Lightning ``Trainer`` settings and the training-loop options).

    Attributes:
        epochs: maximum number of epochs (early stopping usually ends training before).
        patience: early-stopping patience in epochs on the validation loss; 0 disables early stopping.
        max_steps: stop after this many optimiser steps (-1 = no limit).
        max_time_s: stop after this many seconds (``None`` = no limit; results then depend on the machine).
        warmup_reference_box_epochs: LU-Net option (not in the paper; 0 = paper): during the first N epochs
            the segmentation U-Net is fed the crop of the *reference* box instead of the predicted one.
        accelerator: Lightning accelerator (``"auto"``, ``"cpu"``, ``"gpu"``).
        devices: Lightning devices (an int, or ``"auto"``).
        num_nodes: number of nodes (DDP across machines).
        strategy: Lightning strategy (``"auto"``, ``"ddp"``, ...).
        precision: Lightning precision (``"32-true"``, ``"16-mixed"``, ``"bf16-mixed"``).
        sync_batchnorm: synchronise BatchNorm statistics across DDP processes.
        deterministic: ask PyTorch/Lightning for deterministic algorithms.
        log_every_n_steps: Lightning logging interval.
        progress_bar: show Lightning's progress bar.
    """

    epochs: int = field(
        default=500, metadata=_opt("maximum epochs (default 500; early stopping stops before)")
    )
    patience: int = field(
        default=20, metadata=_opt("early-stopping patience in epochs (default 20; 0 = off)")
    )
    max_steps: int = field(
        default=-1, metadata=_opt("stop after this many optimiser steps (default: no limit)")
    )
    max_time_s: float | None = field(
        default=None, metadata=_opt("stop after this many seconds (default: none)")
    )
    warmup_reference_box_epochs: int = field(
        default=0, metadata=_opt("LU-Net: crop with the reference box for the first N epochs")
    )
    accelerator: str = field(default="auto", metadata=_opt("cpu, gpu or auto (default)"))
    devices: int | str = field(default=1, metadata=_opt("devices per node (int or auto; default 1)"))
    num_nodes: int = field(default=1, metadata=_opt("nodes for DDP (default 1)"))
    strategy: str = field(default="auto", metadata=_opt("Lightning strategy, e.g. ddp (default auto)"))
    precision: str = field(default="32-true", metadata=_opt("32-true (default), 16-mixed, bf16-mixed"))
    sync_batchnorm: bool = field(default=False, metadata=_opt("DDP: synchronise BatchNorm statistics"))
    deterministic: bool = field(default=False, metadata=_opt("deterministic algorithms"))
    log_every_n_steps: int = field(default=10, metadata=_opt("Lightning logging interval in steps"))
    progress_bar: bool = field(default=True, metadata=_opt("Lightning's progress bar (default on)"))

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.patience < 0 or self.warmup_reference_box_epochs < 0:
            raise ConfigError(
                f"epochs must be >= 1, patience and warmup_reference_box_epochs >= 0, got {self.epochs}, "
                f"{self.patience}, {self.warmup_reference_box_epochs}"
            )
        if self.max_time_s is not None and not self.max_time_s > 0:
            raise ConfigError(f"max_time_s must be > 0 or unset, got {self.max_time_s}")


#: The sections of a TrainConfig, in JSON order.
SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "optim": OptimConfig,
    "augment": AugmentConfig,
    "trainer": TrainerConfig,
}


@dataclass(frozen=True)
class FlagField:
    """One leaf field of a TrainConfig: section (``""`` at the top level), name, flag name, type, help."""

    section: str
    name: str
    flag: str
    type: Any
    help: str
    choices: tuple[str, ...] | None = None
    cli: str | None = None

    @property
    def option(self) -> str:
        """The command-line option, ``--batch-size`` for ``batch_size``."""
        return "--" + (self.cli or self.flag).replace("_", "-")


def _leaves(cls: type, section: str) -> Iterator[FlagField]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in SECTIONS and not section:
            continue
        meta = f.metadata
        yield FlagField(
            section,
            f.name,
            meta.get("flag") or f.name,
            hints[f.name],
            meta["help"],
            meta.get("choices"),
            meta.get("cli"),
        )


def flag_fields() -> tuple[FlagField, ...]:
    """Every leaf field of :class:`TrainConfig`, sections first, then the top-level ``seed``."""
    fields = [leaf for name, cls in SECTIONS.items() for leaf in _leaves(cls, name)]
    return (*fields, *_leaves(TrainConfig, ""))


def _by_flag() -> dict[str, FlagField]:
    return {leaf.flag: leaf for leaf in flag_fields()}


def is_nested(values: Mapping[str, Any]) -> bool:
    """True for a ``config.json`` in sections (format 2), False for the flat format 1."""
    return any(isinstance(values.get(name), dict) for name in SECTIONS)


def flat_view(values: Mapping[str, Any]) -> dict[str, Any]:
    """A ``config.json`` dict, either format, keyed by flag names (``model``, ``epochs``, ``margin``...).

    For display (the report's run table): nothing is validated, unknown keys are kept as they are. ``margin``
    is the model's box margin.
    """
    if not is_nested(values):
        return dict(values)
    out: dict[str, Any] = {k: v for k, v in values.items() if k not in SECTIONS}
    for leaf in flag_fields():
        section = values.get(leaf.section) if leaf.section else values
        if isinstance(section, dict) and leaf.name in section:
            out[leaf.flag] = section[leaf.name]
    overrides = out.get("model_overrides")
    out["margin"] = overrides.get(BOX_MARGIN, DEFAULT_BOX_MARGIN) if isinstance(overrides, dict) else None
    return out


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run: six sections and the seed.

    Attributes:
        data: frames, folds, size and batching.
        model: network name and constructor overrides (with the box margin).
        loss: loss weights and options.
        optim: optimiser settings.
        augment: augmentation of the training frames.
        trainer: epochs, early stopping and Lightning settings.
        seed: seed of the folds, the initial weights, the shuffling and the augmentation.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    seed: int = field(default=0, metadata=_opt("seed of folds, weights, shuffling (default 0)"))

    def __post_init__(self) -> None:
        for name, cls in SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(
                    f"{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}"
                )

    @classmethod
    def create(cls, **values: Any) -> TrainConfig:
        """A config from defaults and flag-named values (``TrainConfig.create(model="lunet", epochs=30)``)."""
        return cls().replace(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with flag-named ``changes`` applied to their sections.

        ``None`` values are ignored, so unset CLI flags keep the field. ``margin`` sets the model override
        ``box_margin``. Unknown names raise :class:`ConfigError`.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        by_flag = _by_flag()
        unknown = sorted(set(changes) - set(by_flag) - {"margin"})
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        if "margin" in changes:
            overrides = changes.get("model_overrides", self.model.overrides)
            changes["model_overrides"] = {**overrides, BOX_MARGIN: changes.pop("margin")}
        sections: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for flag, value in changes.items():
            leaf = by_flag[flag]
            (sections.setdefault(leaf.section, {}) if leaf.section else top)[leaf.name] = value
        try:
            for name, values in sections.items():
                top[name] = dataclasses.replace(getattr(self, name), **values)
            return dataclasses.replace(self, **top)
        except TypeError as err:
            raise ConfigError(str(err)) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible nested dict (tuples become lists), with ``"format": CONFIG_FORMAT``."""
        out: dict[str, Any] = {"format": CONFIG_FORMAT, **dataclasses.asdict(self)}
        out["loss"]["dice_classes"] = list(self.loss.dice_classes)
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text of the config; also written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            write_text_atomic(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> TrainConfig:
        """Build from a nested dict (format 2) or a flat one (format 1); unknown keys are an error naming
        ``source``."""
        values = dict(values)
        if not is_nested(values):
            return cls._from_flat(values, source)
        version = values.pop("format", CONFIG_FORMAT)
        if version != CONFIG_FORMAT:
            raise ConfigError(f"{source}: config format {version!r}, this lunet reads 1 and {CONFIG_FORMAT}")
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"{source}: unknown config field(s) {', '.join(unknown)}")
        try:
            kwargs: dict[str, Any] = {}
            for name, value in values.items():
                section = SECTIONS.get(name)
                if section is None:
                    kwargs[name] = value
                elif not isinstance(value, dict):
                    raise ConfigError(f"{source}: {name} must be a JSON object, got {value!r}")
                else:
                    kwargs[name] = section(**value)
            return cls(**kwargs)
        except (TypeError, ConfigError) as err:
            raise ConfigError(f"{source}: {err}") from None

    @classmethod
    def _from_flat(cls, values: dict[str, Any], source: str) -> TrainConfig:
        """The flat layout of format 1: the flag names, ``margin`` and a ``model_overrides["margin"]`` that
        lunet ≤ 0.1 set to the same value (the model never used it)."""
        values.pop("format", None)
        overrides = dict(values.get("model_overrides") or {})
        stale = overrides.pop("margin", None)
        if stale is not None and "margin" in values and stale != values["margin"]:
            logger.warning(
                "%s: model_overrides margin %s ignored; the run trained with margin %s",
                source,
                stale,
                values["margin"],
            )
        values["model_overrides"] = overrides
        try:
            return cls.create(**values)
        except (TypeError, ConfigError) as err:
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
