"""Typed, frozen training configuration, saved as JSON in every run folder (style rule 8).

A :class:`TrainConfig` nests one frozen dataclass per concern (:mod:`lunet.config.sections`), and each
field has exactly one owner:

- ``data`` (:class:`DataConfig`): dataset root, cache, folds, input size, batch size, loader workers;
- ``model`` (:class:`ModelConfig`): registry name and constructor overrides (the box margin is one of them);
- ``loss`` (:class:`LossConfig`): weights and options of ``lunet.training.losses.composite_loss``;
- ``optim`` (:class:`OptimConfig`): Adam's learning rate;
- ``augment`` (:class:`AugmentConfig`): light augmentation of the training frames;
- ``trainer`` (:class:`TrainerConfig`): epochs, early stopping, Lightning's devices / precision / logging;

plus the run's ``seed``. Every field also has a *flag name*, unique over the whole config: the name of its
command-line flag (``--batch-size`` → ``batch_size``) and of its key in the flat ``config.json`` that lunet
wrote before the sections existed (format 1; still read, see :meth:`TrainConfig.from_dict`). The CLI flags of
``lunet train`` / ``lunet cv`` are generated from :func:`flag_fields`.

Paper defaults (Leclerc et al., TUFFC 2020, Sec. IV-C): Adam, lr 1e-3 (or 1e-4), early stopping with patience
20 on the validation loss, best validation checkpoint kept, localization term weighted 10, L1 box loss clipped
at 0.99, multi-class Dice over LV and myocardium (lunet adds the left atrium by default,
``LossConfig.dice_classes``). The batch size is not given in the paper; 16 is our default.
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

from lunet.boxes import DEFAULT_BOX_MARGIN
from lunet.config.recipes import recipe_changes
from lunet.config.sections import (
    BOX_CLIP_MODES,
    BOX_MARGIN,
    RECIPES,
    UL2_MODES,
    AugmentConfig,
    ConfigError,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    TrainerConfig,
    opt,
)
from lunet.io import write_text_atomic

__all__ = [
    "BOX_CLIP_MODES",
    "BOX_MARGIN",
    "CONFIG_FORMAT",
    "SECTIONS",
    "UL2_MODES",
    "AugmentConfig",
    "ConfigError",
    "DataConfig",
    "FlagField",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "TrainConfig",
    "TrainerConfig",
    "flag_fields",
    "flat_view",
    "is_nested",
]

logger = logging.getLogger(__name__)

#: ``config.json`` layout written by this version (1: the flat layout of lunet ≤ 0.1).
CONFIG_FORMAT = 2
#: ``dice_classes`` of a ``config.json`` that names none: written before the left atrium was trained by
#: default (every lunet-written config names it; the rule keeps hand-written and older files as they trained).
LEGACY_DICE_CLASSES = (1, 2)

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
    seed: int = field(default=0, metadata=opt("seed of folds, weights, shuffling (default 0)"))

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
        if "recipe" in changes and changes["recipe"] not in RECIPES:
            raise ConfigError(f"recipe must be one of {RECIPES}, got {changes['recipe']!r}")
        changes = recipe_changes(changes, self.model.name, self.model.overrides)
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
        values.setdefault("loss", {})
        try:
            kwargs: dict[str, Any] = {}
            for name, value in values.items():
                section = SECTIONS.get(name)
                if section is None:
                    kwargs[name] = value
                elif not isinstance(value, dict):
                    raise ConfigError(f"{source}: {name} must be a JSON object, got {value!r}")
                else:
                    if name == "loss":  # written before the LA default: the loss covered LV and MYO
                        value = {"dice_classes": LEGACY_DICE_CLASSES, **value}
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
        values.setdefault("recipe", "paper")  # format 1 predates recipes: the paper's LU-Net
        values.setdefault("dice_classes", LEGACY_DICE_CLASSES)  # ... and the LA default
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
