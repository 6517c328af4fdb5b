"""Cross-validation: train ``RUN/fold_K`` for each fold, then gather the out-of-fold predictions into ``RUN``.

On a cluster (SLURM array, one fold per job, then gather)::

    #SBATCH --array=1-10
    lunet cv --data CAMUS --model lunet --folds $SLURM_ARRAY_TASK_ID --out runs/lunet-cv --resume
    # after the array has finished:
    lunet cv --data CAMUS --model lunet --out runs/lunet-cv --gather

``RUN/predictions`` then holds every patient once (predicted by the fold that tested it), with ``boxes.csv``
concatenated, so ``lunet evaluate RUN`` scores the whole cross-validation.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from lunet.config import TrainConfig
from lunet.io import write_text_atomic
from lunet.ranges import parse_int_ranges
from lunet.training.fit import CHECKPOINTS, RunFolderError, check_config, train, write_run_files

if TYPE_CHECKING:
    import numpy as np

    from lunet.boxes import BoxKey

logger = logging.getLogger(__name__)


def parse_folds(text: str | Iterable[int], n_folds: int) -> list[int]:
    """``"1-10"``, ``"3"``, ``"1,4,7"`` or ints → sorted fold numbers in 1..n_folds."""
    folds = sorted(set(parse_int_ranges(text) if isinstance(text, str) else (int(k) for k in text)))
    if not folds or folds[0] < 1 or folds[-1] > n_folds:
        raise RunFolderError(f"folds {text!r}: expected numbers in 1..{n_folds} (e.g. 1-10 or 2,5)")
    return folds


def cross_validate(
    config: TrainConfig,
    run_dir: str | Path,
    folds: str | Iterable[int] | None = None,
    *,
    resume: bool = False,
    gather: bool = True,
    after_fold: Callable[[Path], object] | None = None,
) -> Path:
    """Train ``RUN/fold_K`` for every fold K in turn, then gather the out-of-fold predictions in ``RUN``.

    A fold whose ``model.safetensors`` exists is skipped (so a re-run after a crash, or with ``resume=True``
    after a kill, only finishes what is missing).

    Args:
        config: the configuration of every fold (its ``fold`` replaced by K).
        run_dir: the folder ``RUN``.
        folds: the folds to train (``"1-10"``, ``"3"``, ``"2,5"`` or ints; None: all).
        resume: continue each unfinished fold from its last checkpoint.
        gather: gather the out-of-fold predictions afterwards.
        after_fold: called with ``RUN/fold_K`` once the fold is trained and has predicted, and for a fold done
            already that has no ``calibration.json``: ``lunet cv`` calibrates the fold's EF intervals there
            (:func:`lunet.inference.calibrate.calibrate_after_training`; training does not import inference).

    Returns:
        the folder ``RUN``; ``RUN/predictions`` holds every test patient of the gathered folds.
    """
    from lunet.evaluation.interval_calibration import CALIBRATION_FILE

    check_config(config)
    run_dir = Path(run_dir)
    n_folds = config.data.n_folds
    numbers = parse_folds(folds if folds is not None else f"1-{n_folds}", n_folds)
    for k in numbers:
        fold_dir = run_dir / f"fold_{k}"
        if (fold_dir / "model.safetensors").is_file() and (fold_dir / "predictions").is_dir():
            logger.info("%s: done already, skipped", fold_dir)
            if after_fold is not None and not (fold_dir / CALIBRATION_FILE).is_file():
                after_fold(fold_dir)
            continue
        logger.info("cross-validation: fold %d of %s", k, numbers)
        train(
            config.replace(fold=k), fold_dir, resume=resume or (fold_dir / CHECKPOINTS / "last.ckpt").exists()
        )
        if after_fold is not None:
            after_fold(fold_dir)
    if gather:
        gather_predictions(config, run_dir, range(1, n_folds + 1))
    return run_dir


def gather_predictions(config: TrainConfig, run_dir: str | Path, folds: Iterable[int]) -> Path:
    """Copy ``fold_K/predictions*`` of the finished folds into ``RUN/predictions*`` (boxes.csv joined)."""
    from lunet.boxes import read_boxes_csv, write_boxes_csv

    run_dir = Path(run_dir)
    done = [k for k in folds if (run_dir / f"fold_{k}" / "predictions").is_dir()]
    if not done:
        raise RunFolderError(f"{run_dir}: no finished fold (fold_K/predictions) to gather")
    write_run_files(config.replace(data=str(Path(config.data.root).resolve())), run_dir)
    for sub in ("predictions", "predictions_o1"):
        boxes: dict[BoxKey, np.ndarray] = {}
        for k in done:
            src = run_dir / f"fold_{k}" / sub
            if not src.is_dir():
                continue
            for patient in sorted(p for p in src.iterdir() if p.is_dir()):
                shutil.copytree(patient, run_dir / sub / patient.name, dirs_exist_ok=True)
            if (src / "boxes.csv").is_file():
                boxes.update(read_boxes_csv(src / "boxes.csv"))
        if boxes:
            write_boxes_csv(run_dir / sub / "boxes.csv", boxes)
    write_text_atomic(run_dir / "folds_gathered.txt", "".join(f"fold_{k}\n" for k in done))
    missing = sorted(set(range(1, config.data.n_folds + 1)) - set(done))
    if missing:
        logger.warning("%s: folds %s not finished yet; their patients have no prediction", run_dir, missing)
    logger.info("%s: gathered out-of-fold predictions of folds %s", run_dir, done)
    return run_dir
