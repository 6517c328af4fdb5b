"""``lunet train``, ``lunet cv`` and ``lunet demo`` (argument parsing only)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# CLI flags named as their TrainConfig field (flags left unset keep the config's value)
_FIELDS = (
    "data", "model", "fold", "n_folds", "folds_dir", "generated_folds", "cache", "epochs", "lr", "batch_size",
    "size", "margin", "patience", "seed", "accelerator", "devices", "num_nodes", "strategy", "precision",
    "num_workers", "max_steps", "ul2_mode", "warmup_reference_box_epochs", "loc_weight",
)  # fmt: skip


def _devices(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _add_train_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--data", help="dataset root (CAMUS layout: either release, or `lunet synth` output)")
    add("--model", help="network name (see `lunet models`; default unet1)")
    add("--out", required=True, type=Path, help="run folder to write")
    add("--config", type=Path, help="a config.json to start from (flags override its fields)")
    add("--n-folds", type=int, help="number of cross-validation folds (default 10)")
    add("--folds-dir", help="folder of published fold lists subGroup<k>_{training,validation,testing}.txt")
    add(
        "--generated",
        dest="generated_folds",
        action="store_true",
        default=None,
        help="stratified folds from --seed even on the CAMUS training set (default there: official folds)",
    )
    add("--cache", help="cache folder of the resized images (default <out>/../cache/<data>_<size>)")
    add("--epochs", type=int, help="maximum epochs (default 500; early stopping usually stops before)")
    add("--lr", type=float, help="Adam learning rate (default 1e-3; the paper also uses 1e-4)")
    add("--batch-size", type=int, help="global batch size (default 16)")
    add("--size", type=int, help="input side in pixels, a multiple of 32 (default 256)")
    add("--margin", type=float, help="box margin (default 0.05; 0.15 for -m15)")
    add("--patience", type=int, help="early-stopping patience in epochs (default 20; 0 = off)")
    add("--seed", type=int, help="seed of folds, weights, shuffling (default 0)")
    add("--ul2-mode", choices=("mu", "mo"), help="U-L1/U-L2 loss: box+segmentation (mu) or box only (mo)")
    add("--loc-weight", type=float, help="weight of the box loss in multi-task training (default 10)")
    add("--warmup-reference-box-epochs", type=int, help="LU-Net: crop with the reference box for N epochs")
    add("--override", action="append", default=[], metavar="KEY=JSON", help="model option, e.g. dil=30")
    add(
        "--augment",
        action="store_true",
        default=None,
        help="light augmentation (off by default, as the paper)",
    )
    add("--deterministic", action="store_true", default=None, help="deterministic algorithms")
    add("--accelerator", help="cpu, gpu or auto (default)")
    add("--devices", type=_devices, help="devices per node (int or auto; default 1)")
    add("--num-nodes", type=int, help="nodes for DDP (default 1)")
    add("--strategy", help="Lightning strategy, e.g. ddp (default auto)")
    add("--precision", help="32-true (default), 16-mixed, bf16-mixed")
    add("--num-workers", type=int, help="data-loader workers (default 0)")
    add("--max-steps", type=int, help="stop after this many optimiser steps (default: no limit)")
    add("--sync-batchnorm", action="store_true", default=None, help="DDP: synchronise BatchNorm statistics")
    add("--no-progress", action="store_true", help="no progress bar")
    add("--resume", action="store_true", help="continue the run in --out from its last checkpoint")


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train one model on one fold and predict its test patients")
    _add_train_flags(train)
    train.add_argument("--fold", type=int, help="test fold, 1-based (default 1)")
    train.set_defaults(func=run_train)

    cv = subparsers.add_parser(
        "cv", help="cross-validation: train every fold, gather out-of-fold predictions"
    )
    _add_train_flags(cv)
    cv.add_argument("--folds", default=None, help="folds to train, e.g. 1-10, 3 or 2,5 (default: all)")
    cv.add_argument("--gather", action="store_true", help="only gather the finished folds' predictions")
    cv.set_defaults(func=run_cv)

    demo = subparsers.add_parser(
        "demo", help="synthetic end-to-end demo: U-Net1 vs LU-Net on phantom data (CPU, ≤ 10 min)"
    )
    demo.add_argument(
        "--out", type=Path, default=Path("lunet-demo"), help="output folder (default ./lunet-demo)"
    )
    demo.add_argument(
        "--full", action="store_true", help="paper protocol (256 px, 500 patients, 10 folds; GPU)"
    )
    demo.add_argument("--patients", type=int, help="number of synthetic patients")
    demo.add_argument("--epochs", type=int, help="epochs per model")
    demo.add_argument("--size", type=int, help="image side")
    demo.add_argument("--models", help="comma-separated models (default unet1,lunet)")
    demo.set_defaults(func=run_demo)


def build_config(args: argparse.Namespace) -> object:
    """TrainConfig from (in order) defaults, ``--config`` or the run's config.json on --resume, then the
    flags."""
    from lunet.config import TrainConfig

    base = TrainConfig(data=args.data or "")
    saved = args.out / "config.json"
    if args.config is not None:
        base = TrainConfig.from_json(args.config)
    elif args.resume and saved.is_file():
        base = TrainConfig.from_json(saved)
    changes = {name: getattr(args, name, None) for name in _FIELDS}
    if args.augment:
        changes["augment"] = True
    if args.deterministic:
        changes["deterministic"] = True
    if args.sync_batchnorm:
        changes["sync_batchnorm"] = True
    if args.no_progress:
        changes["progress_bar"] = False
    if args.override:
        overrides = dict(base.model_overrides)
        for item in args.override:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--override {item!r}: expected KEY=VALUE (VALUE in JSON, e.g. dil=30)")
            try:
                overrides[key] = json.loads(value)
            except json.JSONDecodeError:
                overrides[key] = value
        changes["model_overrides"] = overrides
    config = base.replace(**changes)
    if not config.data:
        raise ValueError("--data is required (a CAMUS folder or the output of `lunet synth`)")
    return config


def run_train(args: argparse.Namespace) -> int:
    from lunet.training.fit import train

    try:
        run = train(build_config(args), args.out, resume=args.resume)
    except SystemExit as err:  # Lightning's SIGTERMException: stopped by a scheduler or `kill`
        if type(err).__name__ != "SIGTERMException":
            raise
        print(
            f"lunet train: stopped by SIGTERM; continue with: lunet train --out {args.out} --resume",
            file=sys.stderr,
        )
        return 143
    print(run)
    return 0


def run_cv(args: argparse.Namespace) -> int:
    from lunet.training.cv import cross_validate, gather_predictions, parse_folds

    config = build_config(args)
    n_folds = config.n_folds  # type: ignore[attr-defined]
    if args.gather:
        run = gather_predictions(config, args.out, range(1, n_folds + 1))
    else:
        # one fold per job (SLURM array) does not gather; `lunet cv --gather` does, once all have finished
        every = args.folds is None or len(parse_folds(args.folds, n_folds)) == n_folds
        run = cross_validate(config, args.out, args.folds, resume=args.resume, gather=every)
    print(run)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from lunet.training.demo import DemoSettings
    from lunet.training.demo import run_demo as demo

    settings = DemoSettings.full() if args.full else DemoSettings()
    settings = settings.replace(
        patients=args.patients, epochs=args.epochs, size=args.size, models=args.models
    )
    print(demo(args.out, settings))
    return 0
