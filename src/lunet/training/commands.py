"""``lunet train`` and ``lunet cv`` (argument parsing only; ``lunet demo`` is in :mod:`lunet.commands`).

The flags of ``train`` and ``cv`` are generated from the fields of :class:`lunet.config.TrainConfig` (one flag
per field, named by its flag name: ``batch_size`` → ``--batch-size``; :func:`add_field_flag` also makes those
of ``demo`` from :class:`lunet.demo.DemoSettings`). A flag left unset keeps the value of the config it starts
from.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lunet.config import TrainConfig


def _devices(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _str_tuple(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _parser_of(annotation: Any) -> Any:
    """The argparse ``type`` of a field annotation; ``None`` for a field that has no flag of its own."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if set(args) == {int, str}:
            return _devices
        annotation = args[0]
    if annotation in (int, float, str):
        return annotation
    if typing.get_origin(annotation) is tuple:
        return _int_tuple if typing.get_args(annotation)[0] is int else _str_tuple
    return None


def add_field_flag(
    parser: argparse.ArgumentParser,
    flag: str,
    annotation: Any,
    help_text: str,
    option: str | None = None,
    **extra: Any,
) -> None:
    """One option (default ``--<flag with dashes>``; dest ``flag``, default ``None``) for a dataclass field.

    Booleans get ``--name`` / ``--no-name``; numbers and strings their type; tuples comma-separated values.
    """
    name = option or "--" + flag.replace("_", "-")
    if annotation is bool:
        parser.add_argument(
            name, dest=flag, action=argparse.BooleanOptionalAction, default=None, help=help_text
        )
        return
    kind = _parser_of(annotation)
    if kind is None:
        raise TypeError(f"{flag}: no command-line form for type {annotation}")
    parser.add_argument(name, dest=flag, type=kind, default=None, help=help_text, **extra)


def _add_train_flags(parser: argparse.ArgumentParser) -> None:
    from lunet.config import flag_fields

    parser.add_argument("--out", required=True, type=Path, help="run folder to write")
    parser.add_argument("--config", type=Path, help="a config.json to start from (flags override its fields)")
    for leaf in flag_fields():
        if leaf.flag == "model_overrides":
            continue  # --override and --margin below
        extra = {"choices": leaf.choices} if leaf.choices else {}
        add_field_flag(parser, leaf.flag, leaf.type, leaf.help, leaf.option, **extra)
    parser.add_argument("--no-progress", dest="progress_bar", action="store_false", help="no progress bar")
    parser.add_argument(
        "--margin",
        type=float,
        help="box margin, the model option box_margin (default: 0.15 for LU-Net's robust recipe, else 0.05)",
    )
    parser.add_argument(
        "--override", action="append", default=[], metavar="KEY=JSON", help="model option, e.g. dil=30"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    parser.add_argument(
        "--no-calibrate", dest="calibrate", action="store_false",
        help="no EF/EDV/ESV interval calibration after training (default: `lunet calibrate` on the fold's "
        "validation patients when they are enough for --calibration-level)",
    )  # fmt: skip
    parser.add_argument(
        "--calibration-level", type=float, default=0.90, metavar="LEVEL",
        help="nominal coverage of the intervals calibrated after training (default 0.90: needs 9 "
        "validation patients; 0.80 needs 4)",
    )  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``cv``."""
    train = subparsers.add_parser("train", help="train one model on one fold and predict its test patients")
    _add_train_flags(train)
    train.set_defaults(func=run_train)

    cv = subparsers.add_parser(
        "cv", help="cross-validation: train every fold, gather out-of-fold predictions"
    )
    _add_train_flags(cv)
    cv.add_argument("--folds", default=None, help="folds to train, e.g. 1-10, 3 or 2,5 (default: all)")
    cv.add_argument("--gather", action="store_true", help="only gather the finished folds' predictions")
    cv.set_defaults(func=run_cv)


def _overrides(items: list[str], base: dict[str, Any]) -> dict[str, Any]:
    overrides = dict(base)
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--override {item!r}: expected KEY=VALUE (VALUE in JSON, e.g. dil=30)")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def build_config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from (in order) defaults, ``--config`` or the run's config.json on ``--resume``, then the
    flags; validated against the model registry and the file system before anything is written."""
    from lunet.config import TrainConfig, flag_fields
    from lunet.training.fit import check_config

    base = TrainConfig()
    saved = args.out / "config.json"
    if args.config is not None:
        base = TrainConfig.from_json(args.config)
    elif args.resume and saved.is_file():
        base = TrainConfig.from_json(saved)
    changes = {leaf.flag: getattr(args, leaf.flag, None) for leaf in flag_fields()}
    changes["margin"] = args.margin
    if args.override:
        changes["model_overrides"] = _overrides(args.override, base.model.overrides)
    config = base.replace(**changes)
    if not config.data.root:
        raise ValueError("--data is required (a CAMUS folder or the output of `lunet synth`)")
    check_config(config)
    return config


def _calibrator(args: argparse.Namespace) -> Any:
    """The step after training (``RUN`` → calibration.json or None), or None with ``--no-calibrate``.

    The CLI layer above the areas provides it (``args.after_training``, set by :mod:`lunet.commands`: the
    EF interval calibration of ``lunet calibrate``, an inference job that training never imports).
    """
    factory = getattr(args, "after_training", None)
    if not args.calibrate or factory is None:
        return None
    return factory(args)


def run_train(args: argparse.Namespace) -> int:
    from lunet.training.fit import train

    config = build_config(args)
    calibrate = _calibrator(args)
    try:
        run = train(config, args.out, resume=args.resume)
    except SystemExit as err:  # Lightning's SIGTERMException: stopped by a scheduler or `kill`
        if type(err).__name__ != "SIGTERMException":
            raise
        print(
            f"lunet train: stopped by SIGTERM; continue with: lunet train --out {args.out} --resume",
            file=sys.stderr,
        )
        return 143
    if calibrate is not None:
        calibrate(run)
    print(run)
    return 0


def run_cv(args: argparse.Namespace) -> int:
    from lunet.training.cv import cross_validate, gather_predictions, parse_folds

    config = build_config(args)
    n_folds = config.data.n_folds
    if args.gather:
        run = gather_predictions(config, args.out, range(1, n_folds + 1))
        gathered = True
    else:
        # one fold per job (SLURM array) does not gather; `lunet cv --gather` does, once all have finished
        gathered = args.folds is None or len(parse_folds(args.folds, n_folds)) == n_folds
        run = cross_validate(
            config, args.out, args.folds, resume=args.resume, gather=gathered, after_fold=_calibrator(args)
        )
    factory = getattr(args, "after_gathering", None)
    if gathered and args.calibrate and factory is not None:
        # the ensemble's CV+ intervals (lunet/commands.py: training never imports inference)
        factory(args)(run)
    print(run)
    return 0
