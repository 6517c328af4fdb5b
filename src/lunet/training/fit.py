"""Train one fold and write its run folder (docs/architecture.md, "training"); cross-validation is in
:mod:`lunet.training.cv`.

Run folder ``RUN/``: ``config.json``, ``version.txt``, ``folds/`` (the fold lists), ``metrics.csv`` (one row
per epoch), ``checkpoints/last.ckpt`` (the whole training state with the optimiser, written atomically
after every epoch), ``model.safetensors`` + ``model.json`` (the weights of the epoch with the lowest
validation loss, :func:`lunet.bundle.save_bundle`; no optimiser state), ``training.json`` (epochs run, stop
reason, best epoch: :mod:`lunet.training.outcome`) and the predictions of the test fold
(:mod:`lunet.training.predictions`).

Everything a run needs is checked by :func:`check_config` before anything is written.

Resume: ``train(config, run, resume=True)`` continues from ``checkpoints/last.ckpt`` (saved at the end of
every epoch). An interrupted epoch is recomputed from its start; since shuffling, augmentation and the global
RNG are seeded per epoch, the result equals an uninterrupted run.

DDP: ``devices``, ``num_nodes`` and ``strategy`` go to the Lightning ``Trainer``; the global batch is split
across processes; only rank 0 writes the bundle and the predictions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lunet import __version__
from lunet.config import TrainConfig
from lunet.io import write_text_atomic

if TYPE_CHECKING:
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping
    from torch import nn

    from lunet.data.cache import CachedImages
    from lunet.data.folds import Fold
    from lunet.training.datamodule import CacheDataModule
    from lunet.training.outcome import BestBundle
    from lunet.training.task import SegmentationTask

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (the message names it and says what to do)."""


def check_config(config: TrainConfig, *, data_exists: bool = True) -> None:
    """Check what a run needs before any work: the model name and its options, the folders named.

    Args:
        config: the run's configuration.
        data_exists: the dataset folder must exist already (the demo checks before generating it).

    Raises:
        lunet.models.registry.UnknownModelError: unknown model or model option.
        RunFolderError: a missing dataset or fold-list folder, or a cache path that is a file.
    """
    from lunet.models.registry import model_options

    model_options(config.model.name, config.model.overrides, config.model.box_margin)
    data = config.data
    if data_exists and (not data.root or not Path(data.root).is_dir()):
        raise RunFolderError(f"{data.root or '(no --data)'}: dataset folder not found")
    if data.folds_dir and not Path(data.folds_dir).is_dir():
        raise RunFolderError(f"{data.folds_dir}: fold-list folder not found")
    if data.cache and Path(data.cache).is_file():
        raise RunFolderError(f"{data.cache}: is a file; --cache must be a folder")


def default_cache_dir(config: TrainConfig, run_dir: Path) -> Path:
    """``<run>/../cache/<data folder name>_<size>`` (``_all`` appended with ``frames="all"``) unless
    ``config.data.cache`` is set."""
    from lunet.data.cache import cache_name

    data = config.data
    if data.cache:
        return Path(data.cache)
    return run_dir.resolve().parent / "cache" / cache_name(data.root, data.size, data.frames)


def select_fold(config: TrainConfig, cache: CachedImages, run_dir: Path) -> Fold:
    """The fold ``config.data.fold`` (1-based) chosen by :func:`lunet.data.folds.choose_folds`; written to
    ``RUN/folds``."""
    from lunet.data.folds import FoldPatient, choose_folds, is_phantom_root, write_fold_lists

    data = config.data
    patients: dict[str, FoldPatient] = {}
    for entry in cache.index:
        if entry.get("has_gt", True) and entry["patient_id"] not in patients:
            patients[entry["patient_id"]] = FoldPatient(
                entry["patient_id"], entry["quality"], entry["ef_percent"]
            )
    folds, _source = choose_folds(
        list(patients.values()), folds_dir=data.folds_dir, generated=data.generated_folds,
        synthetic=is_phantom_root(data.root), n_folds=data.n_folds, seed=config.seed,
    )  # fmt: skip
    if data.fold > len(folds):
        raise RunFolderError(
            f"{data.folds_dir or data.root}: fold {data.fold} asked, {len(folds)} folds exist"
        )
    write_fold_lists(folds, run_dir / "folds")
    return folds[data.fold - 1]


def build_model(config: TrainConfig) -> tuple[nn.Module, dict[str, Any]]:
    """``create_model(name, **options)`` and the options (:func:`lunet.models.registry.model_options`: the
    overrides, the box margin for the models that take one)."""
    from lunet.models import create_model
    from lunet.models.registry import model_options

    model = config.model
    options = model_options(model.name, model.overrides, model.box_margin)
    return create_model(model.name, **options), options


def _trainer(config: TrainConfig, run_dir: Path, monitor: str, callbacks: Sequence[L.Callback]) -> L.Trainer:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from lunet.training.checkpoint_io import AtomicCheckpointIO

    # the whole training state (optimiser included) only in last.ckpt; the best weights are the bundle
    last = ModelCheckpoint(
        dirpath=run_dir / CHECKPOINTS,
        filename="last",
        monitor=None,
        every_n_epochs=1,
        save_top_k=1,
        save_on_train_epoch_end=True,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    trainer = config.trainer
    return L.Trainer(
        accelerator=trainer.accelerator,
        devices=trainer.devices,
        num_nodes=trainer.num_nodes,
        strategy=trainer.strategy,
        precision=trainer.precision,
        max_epochs=trainer.epochs,
        max_steps=trainer.max_steps,
        deterministic=trainer.deterministic,
        sync_batchnorm=trainer.sync_batchnorm,
        callbacks=[*callbacks, last],
        plugins=[AtomicCheckpointIO()],
        logger=False,
        default_root_dir=run_dir,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=trainer.progress_bar,
        use_distributed_sampler=False,
        log_every_n_steps=trainer.log_every_n_steps,
        limit_val_batches=None if monitor == "val_loss" else 0,
        max_time=None if trainer.max_time_s is None else {"seconds": trainer.max_time_s},
    )


def write_run_files(config: TrainConfig, run_dir: Path) -> None:
    """``config.json`` (absolute data path) and ``version.txt``."""
    import lightning
    import torch

    run_dir.mkdir(parents=True, exist_ok=True)
    config.to_json(run_dir / "config.json")
    write_text_atomic(
        run_dir / "version.txt",
        f"lunet {__version__}\ntorch {torch.__version__}\nlightning {lightning.__version__}\n",
    )


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    predict: bool = True,
    callbacks: Sequence[L.Callback] = (),
) -> Path:
    """Train ``config.model`` on fold ``config.data.fold`` and predict its test patients.

    Args:
        config: the run's configuration (``data.root`` must be set).
        run_dir: run folder (created).
        resume: continue from ``run_dir/checkpoints/last.ckpt``.
        predict: write the test fold's predictions after training.
        callbacks: extra Lightning callbacks (tests).

    Returns:
        the run folder.
    """
    import lightning as L

    from lunet.data.cache import CachedImages
    from lunet.models.registry import get_spec
    from lunet.training.lightning_logs import quiet_fit_warnings, route_lightning_logs
    from lunet.training.metrics_csv import EpochMetricsCSV
    from lunet.training.outcome import BestBundle

    route_lightning_logs()
    run_dir = Path(run_dir)
    config, last = _start_run(config, run_dir, resume)
    cache_dir = _cache_for(config, run_dir)
    cache = CachedImages(cache_dir)
    fold = select_fold(config, cache, run_dir)

    L.seed_everything(config.seed, workers=True, verbose=False)
    model, options = build_model(config)
    spec = get_spec(config.model.name)
    task = _task(config, model)
    data = _data_module(config, cache_dir, fold, model)
    monitor = "val_loss" if len(data.rows("val")) > 0 else "train_loss"
    meta = {
        "model": config.model.name,
        "overrides": options,
        "size": config.data.size,
        "config": config.to_dict(),
    }
    best = BestBundle(run_dir, monitor, meta)
    early = _early_stopping(config, monitor)
    extra: list[L.Callback] = [EpochMetricsCSV(run_dir / "metrics.csv"), best, *([early] if early else [])]
    trainer = _trainer(config, run_dir, monitor, [*extra, *callbacks])
    with quiet_fit_warnings(resume):
        ckpt = str(last) if resume and last.exists() else None
        trainer.fit(task, datamodule=data, ckpt_path=ckpt, weights_only=True)
    if not trainer.is_global_zero:
        return run_dir
    model = _finish(config, run_dir, trainer, model, meta, best, early)
    if predict:
        _predict_test(config, run_dir, model, cache, data.rows("test"), spec.needs_reference_box)
    return run_dir


def _start_run(config: TrainConfig, run_dir: Path, resume: bool) -> tuple[TrainConfig, Path]:
    """Check the config and the folder, write ``config.json`` (absolute data path) and ``version.txt``;
    return that config and the path of ``last.ckpt``."""
    check_config(config)
    config = config.replace(data=str(Path(config.data.root).resolve()))
    last = run_dir / CHECKPOINTS / "last.ckpt"
    if last.exists() and not resume:
        raise RunFolderError(
            f"{run_dir}: holds a training run already; pass --resume to continue it or another --out"
        )
    if resume and not last.exists():
        logger.warning("%s: no last.ckpt to resume from; starting from scratch", run_dir)
    write_run_files(config, run_dir)
    return config, last


def _cache_for(config: TrainConfig, run_dir: Path) -> Path:
    """Build (or reuse) the run's cache; the 2S crop source only for the models that crop."""
    from lunet.data.cache import build_cache
    from lunet.models.registry import get_spec

    data = config.data
    return build_cache(
        data.root, default_cache_dir(config, run_dir), size=data.size, frames=data.frames,
        crop_source=get_spec(config.model.name).crops_roi,
    )  # fmt: skip


def _task(config: TrainConfig, model: nn.Module) -> SegmentationTask:
    """The Lightning module of the run: the model, its loss and optimiser, its crop options."""
    from lunet.models.registry import get_spec
    from lunet.training.task import SegmentationTask

    spec = get_spec(config.model.name)
    return SegmentationTask(
        model,
        config.loss,
        config.optim,
        spec.needs_reference_box,
        config.trainer.warmup_reference_box_epochs,
        config.seed,
        hparams={"config": config.to_dict()},
        crops_roi=spec.crops_roi,
        train_crop=config.trainer.train_crop if spec.name == "lunet" else "predicted",
        reference_box_jitter=config.trainer.reference_box_jitter,
    )


def _data_module(config: TrainConfig, cache_dir: Path, fold: Fold, model: nn.Module) -> CacheDataModule:
    """The fold's data; reference boxes at the model's own margin (``box_margin_of``: its one home)."""
    from lunet.models.registry import box_margin_of
    from lunet.models.roi import uses_crop_source
    from lunet.training.datamodule import CacheDataModule

    return CacheDataModule(
        str(cache_dir),
        fold,
        config.data.batch_size,
        box_margin_of(model),
        config.seed,
        config.data.num_workers,
        config.augment,
        with_source=uses_crop_source(model),
        frames=config.data.frames,
    )


def _early_stopping(config: TrainConfig, monitor: str) -> EarlyStopping | None:
    """Early stopping on the validation loss with ``trainer.patience`` > 0 (None without a validation set)."""
    from lightning.pytorch.callbacks import EarlyStopping

    if config.trainer.patience > 0 and monitor == "val_loss":
        return EarlyStopping(
            monitor, patience=config.trainer.patience, mode="min", check_on_train_epoch_end=True
        )
    return None


def _finish(
    config: TrainConfig,
    run_dir: Path,
    trainer: L.Trainer,
    model: nn.Module,
    meta: dict[str, Any],
    best: BestBundle,
    early: EarlyStopping | None,
) -> nn.Module:
    """Write ``training.json``; return the model of the bundle (the best epoch's weights, or the last ones
    when no epoch had a finite loss, then written as the bundle)."""
    from lunet.bundle import load_bundle, save_bundle
    from lunet.training.outcome import TrainingOutcome, stop_reason, write_outcome

    stopped_early = early is not None and early.stopped_epoch > 0
    outcome = TrainingOutcome(
        epochs_run=trainer.current_epoch,
        epochs_max=config.trainer.epochs,
        stop_reason=stop_reason(trainer, stopped_early, config.trainer.max_time_s),
        best_epoch=best.best_epoch,
        monitor=best.monitor,
        steps=trainer.global_step,
    )
    if best.best_epoch:
        model = load_bundle(run_dir, map_location="cpu")[0]
    else:  # no epoch had a finite loss: keep the last weights, say so
        logger.warning("%s: %s was never finite; the bundle holds the last weights", run_dir, best.monitor)
        save_bundle(run_dir, model, {**meta, "epoch": outcome.epochs_run})
    write_outcome(run_dir, outcome)
    return model


def _predict_test(
    config: TrainConfig,
    run_dir: Path,
    model: nn.Module,
    cache: CachedImages,
    rows: Sequence[int],
    needs_reference_box: bool,
) -> None:
    """The test fold's predictions (:func:`lunet.training.predictions.predict_rows`)."""
    import torch

    from lunet.training.predictions import predict_rows

    device = "cuda" if torch.cuda.is_available() and config.trainer.accelerator != "cpu" else "cpu"
    predict_rows(
        model,
        cache,
        rows,
        run_dir,
        needs_reference_box=needs_reference_box,
        batch_size=max(1, config.data.batch_size),
        device=device,
        atrium=3 in config.loss.dice_classes,
    )
