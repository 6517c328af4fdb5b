"""Train one fold and write its run folder (docs/architecture.md, "training"); cross-validation is in
:mod:`lunet.training.cv`.

Run folder ``RUN/``: ``config.json``, ``version.txt``, ``folds/`` (the fold lists), ``metrics.csv`` (one row
per epoch), ``checkpoints/best.ckpt`` (lowest validation loss) and ``checkpoints/last.ckpt`` (both written
atomically), ``model.safetensors`` + ``model.json`` (the best weights, :func:`lunet.bundle.save_bundle`), and
the predictions of the test fold (:mod:`lunet.training.predictions`).

Resume: ``train(config, run, resume=True)`` continues from ``checkpoints/last.ckpt`` (saved at the end of
every epoch). An interrupted epoch is recomputed from its start; since shuffling, augmentation and the global
RNG are seeded per epoch, the result equals an uninterrupted run.

DDP: ``devices``, ``num_nodes`` and ``strategy`` go to the Lightning ``Trainer``; the global batch is split
across processes; only rank 0 writes the bundle and the predictions.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

from lunet import __version__
from lunet.config import TrainConfig
from lunet.io import write_text_atomic

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (the message names it and says what to do)."""


def default_cache_dir(config: TrainConfig, run_dir: Path) -> Path:
    """``<run>/../cache/<data folder name>_<size>`` unless ``config.cache`` is set."""
    if config.cache:
        return Path(config.cache)
    return run_dir.resolve().parent / "cache" / f"{Path(config.data).resolve().name}_{config.size}"


def select_fold(config: TrainConfig, cache: object, run_dir: Path) -> object:
    """The fold ``config.fold`` (1-based) chosen by :func:`lunet.data.folds.choose_folds`; written to
    ``RUN/folds``."""
    from lunet.data.folds import choose_folds, is_phantom_root, write_fold_lists

    patients: dict[str, SimpleNamespace] = {}
    for entry in cache.index:  # type: ignore[attr-defined]
        if entry.get("has_gt", True) and entry["patient_id"] not in patients:
            patients[entry["patient_id"]] = SimpleNamespace(
                patient_id=entry["patient_id"], image_quality=entry["quality"], ef_percent=entry["ef_percent"]
            )
    folds, _source = choose_folds(
        list(patients.values()), folds_dir=config.folds_dir, generated=config.generated_folds,
        synthetic=is_phantom_root(config.data), n_folds=config.n_folds, seed=config.seed,
    )  # fmt: skip
    if config.fold > len(folds):
        raise RunFolderError(
            f"{config.folds_dir or config.data}: fold {config.fold} asked, {len(folds)} folds exist"
        )
    write_fold_lists(folds, run_dir / "folds")
    return folds[config.fold - 1]


def build_model(config: TrainConfig) -> tuple[object, dict]:
    """``create_model(config.model, **overrides)``, passing the run's ``margin`` to models that take one."""
    from lunet.models import create_model
    from lunet.models.registry import get_spec

    overrides = dict(config.model_overrides)
    if "margin" in inspect.signature(get_spec(config.model).builder).parameters:
        overrides.setdefault("margin", config.margin)
    return create_model(config.model, **overrides), overrides


def _trainer(
    config: TrainConfig, run_dir: Path, has_val: bool, extra: Sequence[object]
) -> tuple[object, object]:
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from lunet.training.task import AtomicCheckpointIO, EpochMetricsCSV

    monitor = "val_loss" if has_val else "train_loss"
    # Two checkpoint callbacks: Lightning 2.6's save_last only refreshes last.ckpt when a best one is saved.
    # "last" comes after "best", so last.ckpt holds the updated best-tracking state.
    common = {
        "dirpath": run_dir / CHECKPOINTS,
        "save_top_k": 1,
        "save_on_train_epoch_end": True,
        "auto_insert_metric_name": False,
        "enable_version_counter": False,
    }
    checkpoint = ModelCheckpoint(filename="best", monitor=monitor, mode="min", **common)
    last = ModelCheckpoint(filename="last", monitor=None, every_n_epochs=1, **common)
    callbacks: list = [EpochMetricsCSV(run_dir / "metrics.csv"), checkpoint, last]
    if config.patience > 0 and has_val:
        callbacks.append(
            EarlyStopping(monitor, patience=config.patience, mode="min", check_on_train_epoch_end=True)
        )
    trainer = L.Trainer(
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.precision,
        max_epochs=config.epochs,
        max_steps=config.max_steps,
        deterministic=config.deterministic,
        sync_batchnorm=config.sync_batchnorm,
        callbacks=[*callbacks, *extra],
        plugins=[AtomicCheckpointIO()],
        logger=False,
        default_root_dir=run_dir,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=config.progress_bar,
        use_distributed_sampler=False,
        log_every_n_steps=config.log_every_n_steps,
        limit_val_batches=1.0 if has_val else 0,
        max_time=None if config.max_time_s is None else {"seconds": config.max_time_s},
    )
    return trainer, checkpoint


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


def route_lightning_logs() -> None:
    """Print each Lightning log line once, in the application's format.

    ``import lightning`` gives its top logger a console handler of its own while letting records propagate,
    so where the application has configured the root logger (``lunet``'s CLI does) every Lightning line is
    printed twice. Then Lightning's handler is removed and the root handler prints it.
    """
    import lightning

    console = getattr(lightning, "_console", None)
    top = logging.getLogger("lightning")
    if logging.getLogger().handlers and console in top.handlers and top.propagate:
        top.removeHandler(console)


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    predict: bool = True,
    callbacks: Sequence[object] = (),
) -> Path:
    """Train ``config.model`` on fold ``config.fold`` and predict its test patients.

    Args:
        config: the run's configuration (``data`` must be set).
        run_dir: run folder (created).
        resume: continue from ``run_dir/checkpoints/last.ckpt``.
        predict: write the test fold's predictions after training.
        callbacks: extra Lightning callbacks (tests).

    Returns:
        the run folder.
    """
    import lightning as L
    import torch

    from lunet.bundle import save_bundle
    from lunet.data.preprocess import CachedImages, build_cache
    from lunet.models.registry import get_spec
    from lunet.training.datamodule import AugmentConfig, CacheDataModule
    from lunet.training.losses import LossConfig
    from lunet.training.predictions import predict_rows
    from lunet.training.task import OptimConfig, SegmentationTask

    route_lightning_logs()
    run_dir = Path(run_dir)
    if not config.data or not Path(config.data).is_dir():
        raise RunFolderError(f"{config.data or '(no --data)'}: dataset folder not found")
    config = config.replace(data=str(Path(config.data).resolve()))
    last = run_dir / CHECKPOINTS / "last.ckpt"
    if last.exists() and not resume:
        raise RunFolderError(
            f"{run_dir}: holds a training run already; pass --resume to continue it or another --out"
        )
    if resume and not last.exists():
        logger.warning("%s: no last.ckpt to resume from; starting from scratch", run_dir)
    write_run_files(config, run_dir)
    cache_dir = build_cache(config.data, default_cache_dir(config, run_dir), size=config.size)
    cache = CachedImages(cache_dir)
    fold = select_fold(config, cache, run_dir)

    L.seed_everything(config.seed, workers=True, verbose=False)
    model, overrides = build_model(config)
    spec = get_spec(config.model)
    task = SegmentationTask(
        model,
        LossConfig.from_train(config),
        OptimConfig(config.lr),
        spec.needs_reference_box,
        config.warmup_reference_box_epochs,
        config.seed,
        hparams={"config": config.to_dict()},
    )
    augment = AugmentConfig(config.augment, config.augment_shift, config.augment_scale, config.augment_gamma)
    data = CacheDataModule(
        str(cache_dir), fold, config.batch_size, config.margin, config.seed, config.num_workers, augment
    )
    has_val = len(data.rows("val")) > 0
    trainer, checkpoint = _trainer(config, run_dir, has_val, callbacks)
    trainer.fit(
        task, datamodule=data, ckpt_path=str(last) if resume and last.exists() else None, weights_only=True
    )
    if not trainer.is_global_zero:
        return run_dir

    best = checkpoint.best_model_path or str(last)
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    meta = {
        "model": config.model,
        "overrides": overrides,
        "size": config.size,
        "margin": config.margin,
        "config": config.to_dict(),
        "checkpoint": Path(best).name,
    }
    save_bundle(run_dir, model, meta)
    logger.info("%s: best checkpoint %s (epoch metrics in metrics.csv)", run_dir, Path(best).name)
    if predict:
        device = "cuda" if torch.cuda.is_available() and config.accelerator != "cpu" else "cpu"
        predict_rows(
            model,
            cache,
            data.rows("test"),
            run_dir,
            needs_reference_box=spec.needs_reference_box,
            margin=config.margin,
            batch_size=max(1, config.batch_size),
            device=device,
        )
    return run_dir
