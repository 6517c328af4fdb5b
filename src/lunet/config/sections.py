"""The six sections of a :class:`lunet.config.TrainConfig`: one frozen dataclass per concern.

Each field carries its command-line help (and, where it differs from the field name, its flag name) as
dataclass metadata, from which :func:`lunet.config.flag_fields` and the CLI are generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lunet.boxes import DEFAULT_BOX_MARGIN
from lunet.data.cache import FRAME_MODES

UL2_MODES = ("mu", "mo")
RECIPES = ("paper", "robust")
TRAIN_CROPS = ("predicted", "reference")
BOX_CLIP_MODES = ("value", "sum")
BOX_MARGIN = "box_margin"


class ConfigError(ValueError):
    """An invalid configuration value or file (the message names the field or the file)."""


def opt(help_text: str, flag: str | None = None, **extra: Any) -> dict[str, Any]:
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
        frames: training frames: ``"ed-es"`` (the annotated ED/ES frames, as in the papers) or ``"all"``
            (every frame of the half sequences with a ground truth); validation and test use the ED/ES
            frames either way.
    """

    root: str = field(default="", metadata=opt("dataset root (CAMUS layout or `lunet synth` output)", "data"))
    cache: str | None = field(default=None, metadata=opt("resized-image cache (default <out>/../cache/...)"))
    fold: int = field(default=1, metadata=opt("test fold, 1-based (default 1)"))
    n_folds: int = field(default=10, metadata=opt("number of cross-validation folds (default 10)"))
    folds_dir: str | None = field(default=None, metadata=opt("folder of subGroup<k>_*.txt fold lists"))
    generated_folds: bool = field(
        default=False,
        metadata=opt(
            "stratified folds from --seed even on the CAMUS training set (default there: official folds)",
            cli="generated",
        ),
    )
    size: int = field(default=256, metadata=opt("input side in pixels, a multiple of 32 (default 256)"))
    batch_size: int = field(default=16, metadata=opt("global batch size (default 16)"))
    num_workers: int = field(default=0, metadata=opt("data-loader workers (default 0)"))
    frames: str = field(
        default="ed-es",
        metadata=opt(
            "training frames: ED/ES (default) or all annotated half-sequence frames; val/test stay ED/ES",
            choices=FRAME_MODES,
        ),
    )

    def __post_init__(self) -> None:
        if self.size <= 0 or self.size % 32:
            raise ConfigError(f"size must be a positive multiple of 32, got {self.size}")
        if self.n_folds < 2 or not 1 <= self.fold <= self.n_folds:
            raise ConfigError(
                f"fold must be in 1..n_folds with n_folds >= 2, got {self.fold} of {self.n_folds}"
            )
        if self.frames not in FRAME_MODES:
            raise ConfigError(f"frames must be one of {FRAME_MODES}, got {self.frames!r}")
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
        recipe: LU-Net's training recipe, ``"paper"`` or ``"robust"`` (:mod:`lunet.config.recipes`: the
            settings it stands for are written into the other fields when the config is made, so a config
            file says exactly what ran). Configs written before recipes existed are ``"paper"``.
    """

    name: str = field(
        default="unet1", metadata=opt("network name (see `lunet models`; default unet1)", "model")
    )
    overrides: dict[str, Any] = field(default_factory=dict, metadata=opt("model options", "model_overrides"))
    recipe: str = field(
        default="paper",
        metadata=opt(
            "LU-Net training recipe: robust (lunet's default for lunet: box from the coarse segmentation, "
            "segmenter trained on jittered reference boxes) or paper (TUFFC 2020)",
            choices=RECIPES,
        ),
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", dict(self.overrides))
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")
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
        dice_classes: classes in the multi-class Dice loss. Default LV=1, MYO=2 and LA=3: the CAMUS label
            set, so every model segments the left atrium (the papers trained LV=1, MYO=2 only; their Tables
            I–IV score the LV alone either way). A ``config.json`` that names no ``dice_classes`` predates the
            LA default and is read as ``(1, 2)`` (:meth:`lunet.config.TrainConfig.from_dict`).
        ul2_mode: U-L1/U-L2 loss, ``"mu"`` (box + segmentation) or ``"mo"`` (box only).
        lunet_o2_loss: add a Dice term on LU-Net's pasted full-image output o2 (not in the paper; off).
    """

    seg_weight: float = field(default=1.0, metadata=opt("weight of every Dice term (default 1)"))
    loc_weight: float = field(default=10.0, metadata=opt("weight of the box loss (default 10)"))
    box_clip: float = field(default=0.99, metadata=opt("clip of the L1 box loss (default 0.99)"))
    box_clip_mode: str = field(
        default="value",
        metadata=opt("clip each box error (value) or their sum", choices=BOX_CLIP_MODES),
    )
    dice_classes: tuple[int, ...] = field(
        default=(1, 2, 3), metadata=opt("classes of the Dice loss (default 1,2,3: LV, myocardium, LA)")
    )
    ul2_mode: str = field(
        default="mu",
        metadata=opt("U-L1/U-L2 loss: box+segmentation (mu) or box only (mo)", choices=UL2_MODES),
    )
    lunet_o2_loss: bool = field(default=False, metadata=opt("LU-Net: Dice on the pasted output o2 too"))

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
        default=1e-3, metadata=opt("Adam learning rate (default 1e-3; the paper also uses 1e-4)")
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

    enabled: bool = field(default=False, metadata=opt("light augmentation (off by default)", "augment"))
    shift: float = field(default=0.05, metadata=opt("largest shift, fraction of the side", "augment_shift"))
    scale: float = field(default=0.1, metadata=opt("largest zoom change, fraction", "augment_scale"))
    gamma: float = field(default=0.2, metadata=opt("largest gamma change, fraction", "augment_gamma"))


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
        train_crop: LU-Net: the box its segmenter is trained on, ``"predicted"`` (the paper: the loss follows
            the evolving ROI) or ``"reference"`` (the reference box, jittered by ``reference_box_jitter``,
            every epoch; validation and inference always use the predicted box).
        reference_box_jitter: SD of the random move of each side of a reference box used for a training crop
            (warm-up epochs, ``train_crop="reference"``), as a fraction of the box's extent along that side's
            axis; the jittered box always contains the structure (:func:`lunet.training.jitter.jitter_boxes`).
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
        default=500, metadata=opt("maximum epochs (default 500; early stopping stops before)")
    )
    patience: int = field(default=20, metadata=opt("early-stopping patience in epochs (default 20; 0 = off)"))
    max_steps: int = field(
        default=-1, metadata=opt("stop after this many optimiser steps (default: no limit)")
    )
    max_time_s: float | None = field(
        default=None, metadata=opt("stop after this many seconds (default: none)")
    )
    warmup_reference_box_epochs: int = field(
        default=0, metadata=opt("LU-Net: crop with the reference box for the first N epochs")
    )
    train_crop: str = field(
        default="predicted",
        metadata=opt(
            "LU-Net: train the segmenter on the predicted or the (jittered) reference box",
            choices=TRAIN_CROPS,
        ),
    )
    reference_box_jitter: float = field(
        default=0.0,
        metadata=opt("LU-Net: SD of the jitter of training reference boxes, fraction of the box side"),
    )
    accelerator: str = field(default="auto", metadata=opt("cpu, gpu or auto (default)"))
    devices: int | str = field(default=1, metadata=opt("devices per node (int or auto; default 1)"))
    num_nodes: int = field(default=1, metadata=opt("nodes for DDP (default 1)"))
    strategy: str = field(default="auto", metadata=opt("Lightning strategy, e.g. ddp (default auto)"))
    precision: str = field(default="32-true", metadata=opt("32-true (default), 16-mixed, bf16-mixed"))
    sync_batchnorm: bool = field(default=False, metadata=opt("DDP: synchronise BatchNorm statistics"))
    deterministic: bool = field(default=False, metadata=opt("deterministic algorithms"))
    log_every_n_steps: int = field(default=10, metadata=opt("Lightning logging interval in steps"))
    progress_bar: bool = field(default=True, metadata=opt("Lightning's progress bar (default on)"))

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.patience < 0 or self.warmup_reference_box_epochs < 0:
            raise ConfigError(
                f"epochs must be >= 1, patience and warmup_reference_box_epochs >= 0, got {self.epochs}, "
                f"{self.patience}, {self.warmup_reference_box_epochs}"
            )
        if self.train_crop not in TRAIN_CROPS:
            raise ConfigError(f"train_crop must be one of {TRAIN_CROPS}, got {self.train_crop!r}")
        if not 0.0 <= self.reference_box_jitter < 1.0:
            raise ConfigError(f"reference_box_jitter must be in [0, 1), got {self.reference_box_jitter}")
        if self.max_time_s is not None and not self.max_time_s > 0:
            raise ConfigError(f"max_time_s must be > 0 or unset, got {self.max_time_s}")
