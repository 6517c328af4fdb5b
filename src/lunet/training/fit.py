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

import inspect
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from lunet import __version__
from lunet.config import BOX_MARGIN, TrainConfig
from lunet.io import write_text_atomic

if TYPE_CHECKING:
    import lightning as L
    from torch import nn

    from lunet.data.cache import CachedImages
    from lunet.data.folds import Fold

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
    from lunet.models.registry import get_spec

    accepted = inspect.signature(get_spec(config.model.name).builder).parameters
    model_options(config, accepted)
    data = config.data
    if data_exists and (not data.root or not Path(data.root).is_dir()):
        raise RunFolderError(f"{data.root or '(no --data)'}: dataset folder not found")
    if data.folds_dir and not Path(data.folds_dir).is_dir():
        raise RunFolderError(f"{data.folds_dir}: fold-list folder not found")
    if data.cache and Path(data.cache).is_file():
        raise RunFolderError(f"{data.cache}: is a file; --cache must be a folder")


def model_options(config: TrainConfig, accepted: Sequence[str]) -> dict[str, Any]:
    """The ``create_model`` keyword arguments of ``config``: its overrides, with the box margin passed only to
    the models whose constructor takes ``box_margin``.

    Raises:
        lunet.models.registry.UnknownModelError: an override the model does not accept.
    """
    from lunet.models.registry import UnknownModelError

    options = {k: v for k, v in config.model.overrides.items() if k != BOX_MARGIN}
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UnknownModelError(
            f"model {config.model.name!r} has no option {', '.join(unknown)}; options: {', '.join(accepted)}"
        )
    if BOX_MARGIN in accepted:
        options[BOX_MARGIN] = config.model.box_margin
    return options


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
    from lunet.data.folds import choose_folds, is_phantom_root, write_fold_lists

    data = config.data
    patients: dict[str, SimpleNamespace] = {}
    for entry in cache.index:
        if entry.get("has_gt", True) and entry["patient_id"] not in patients:
            patients[entry["patient_id"]] = SimpleNamespace(
                patient_id=entry["patient_id"], image_quality=entry["quality"], ef_percent=entry["ef_percent"]
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
    """``create_model(name, **options)`` and the options (see :func:`model_options`)."""
    from lunet.models import create_model
    from lunet.models.registry import get_spec

    options = model_options(config, list(inspect.signature(get_spec(config.model.name).builder).parameters))
    return create_model(config.model.name, **options), options


def _trainer(config: TrainConfig, run_dir: Path, monitor: str, callbacks: Sequence[L.Callback]) -> L.Trainer:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from lunet.training.task import AtomicCheckpointIO

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


class _LightningNoise(logging.Filter):
    """Drop Lightning's advertising tips and its "`Trainer.fit` stopped" line (``training.json`` and the
    outcome line of :func:`train` say it, with the reason); pass each hardware line ("GPU available: ...")
    once per process."""

    HARDWARE = ("GPU available", "TPU available", "HPU available")
    DROPPED = ("💡 Tip:", "`Trainer.fit` stopped:")

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.DROPPED):
            return False
        if message.startswith(self.HARDWARE):
            if message in self.seen:
                return False
            self.seen.add(message)
        return True


_NOISE = _LightningNoise()


def route_lightning_logs() -> None:
    """Print each Lightning log line once, in the application's format, without tips or repeats.

    ``import lightning`` gives its top logger a console handler of its own while letting records propagate,
    so where the application has configured the root logger (``lunet``'s CLI does) every Lightning line is
    printed twice. Then Lightning's handler is removed and the root handler prints it. Every ``Trainer``
    announces the hardware and may advertise a product: those lines are filtered (see ``_LightningNoise``).
    """
    import lightning

    console = getattr(lightning, "_console", None)
    top = logging.getLogger("lightning")
    if logging.getLogger().handlers and console in top.handlers and top.propagate:
        top.removeHandler(console)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if _NOISE not in rank_zero.filters:
        rank_zero.addFilter(_NOISE)


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
    import torch
    from lightning.pytorch.callbacks import EarlyStopping

    from lunet.bundle import load_bundle, save_bundle
    from lunet.data.cache import CachedImages, build_cache
    from lunet.models.registry import get_spec
    from lunet.models.roi import uses_crop_source
    from lunet.training.datamodule import CacheDataModule
    from lunet.training.outcome import BestBundle, TrainingOutcome, stop_reason, write_outcome
    from lunet.training.predictions import predict_rows
    from lunet.training.task import EpochMetricsCSV, SegmentationTask

    route_lightning_logs()
    run_dir = Path(run_dir)
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
    cache_dir = build_cache(
        config.data.root, default_cache_dir(config, run_dir), size=config.data.size, frames=config.data.frames
    )
    cache = CachedImages(cache_dir)
    fold = select_fold(config, cache, run_dir)

    L.seed_everything(config.seed, workers=True, verbose=False)
    model, options = build_model(config)
    spec = get_spec(config.model.name)
    task = SegmentationTask(
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
    data = CacheDataModule(
        str(cache_dir),
        fold,
        config.data.batch_size,
        config.model.box_margin,
        config.seed,
        config.data.num_workers,
        config.augment,
        with_source=uses_crop_source(model),
        frames=config.data.frames,
    )
    monitor = "val_loss" if len(data.rows("val")) > 0 else "train_loss"
    meta = {
        "model": config.model.name,
        "overrides": options,
        "size": config.data.size,
        "config": config.to_dict(),
    }
    best = BestBundle(run_dir, monitor, meta)
    extra: list[L.Callback] = [EpochMetricsCSV(run_dir / "metrics.csv"), best]
    early = None
    if config.trainer.patience > 0 and monitor == "val_loss":
        early = EarlyStopping(
            monitor, patience=config.trainer.patience, mode="min", check_on_train_epoch_end=True
        )
        extra.append(early)
    trainer = _trainer(config, run_dir, monitor, [*extra, *callbacks])
    with warnings.catch_warnings():
        # Lightning 2.6 calls a torch pytree API that torch deprecated; nothing a user can act on
        warnings.filterwarnings("ignore", message=r".*LeafSpec.* is deprecated")
        if resume:  # the folder holds last.ckpt: that is what resuming means
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        trainer.fit(
            task,
            datamodule=data,
            ckpt_path=str(last) if resume and last.exists() else None,
            weights_only=True,
        )
    if not trainer.is_global_zero:
        return run_dir

    outcome = TrainingOutcome(
        epochs_run=trainer.current_epoch,
        epochs_max=config.trainer.epochs,
        stop_reason=stop_reason(
            trainer, early is not None and early.stopped_epoch > 0, config.trainer.max_time_s
        ),
        best_epoch=best.best_epoch,
        monitor=monitor,
        steps=trainer.global_step,
    )
    if best.best_epoch:
        model = load_bundle(run_dir, map_location="cpu")[0]
    else:  # no epoch had a finite loss: keep the last weights, say so
        logger.warning("%s: %s was never finite; the bundle holds the last weights", run_dir, monitor)
        save_bundle(run_dir, model, {**meta, "epoch": outcome.epochs_run})
    write_outcome(run_dir, outcome)
    if predict:
        device = "cuda" if torch.cuda.is_available() and config.trainer.accelerator != "cpu" else "cpu"
        predict_rows(
            model,
            cache,
            data.rows("test"),
            run_dir,
            needs_reference_box=spec.needs_reference_box,
            batch_size=max(1, config.data.batch_size),
            device=device,
            atrium=3 in config.loss.dice_classes,
        )
    return run_dir
