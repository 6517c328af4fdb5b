"""``lunet demo``: the whole pipeline on synthetic phantom data, U-Net1 against LU-Net, in minutes on a CPU.

It sits above every area (data, training, evaluation, report), which it calls in turn; nothing imports it
but the CLI.

Steps: generate a synthetic CAMUS-layout dataset (:func:`lunet.data.synthetic.generate_dataset`), build the
resized cache, train ``unet1`` and ``lunet`` (its default recipe: the box of o1, margin 15 %) on one fold,
predict its held-out test patients on the original image grid, calibrate its EF/EDV/ESV intervals on the
fold's validation patients (:func:`lunet.inference.calibrate.calibrate_after_training`), evaluate
(:func:`lunet.evaluation.evaluate.evaluate_run`), write the HTML report (:func:`lunet.report.write_report`)
and a side-by-side summary (``summary.md``).

Default settings (``DemoSettings``): 40 patients, 5 folds (24 training, 8 validation, 8 test patients = 32
test images), 64×64 inputs and the same budget for every model: 30 epochs, no early stopping and no wall-clock
cap, so the comparison does not depend on the machine's load (only the time does; each model's CPU time is
logged). ``RUN/training.json`` of each model records the epochs run and why training stopped; the summary and
the report show it. ``--full`` is the paper protocol for a GPU: 500 patients, 256×256, 10-fold
cross-validation, early stopping with patience 20.

Intervals: ``lunet train`` calibrates at 90 %, which split-conformal allows from 9 validation patients
(:func:`lunet.evaluation.intervals.min_calibration_size`); the demo's fold has 8, so the demo calibrates at
``interval_level`` = 80 % (4 patients needed) and says so in ``summary.md``, with how many test patients' EF
each interval contains (the report draws them as bars on its clinical plots). ``--full`` (50 validation
patients per fold) calibrates each fold at 90 %; its report reads the gathered cross-validation folder, whose
``clinical.csv`` gives each patient its own fold's interval, and the folds' ensemble is calibrated by CV+
(:func:`lunet.inference.calibrate_cv.calibrate_cv_after_gathering`) for ``lunet predict --model`` on it.

Every number the demo prints is on SYNTHETIC data: it shows that the pipeline works, not how the methods do on
CAMUS.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lunet.demo_summary import SYNTHETIC_BANNER, disk_usage, format_summary, summarise_run
from lunet.io import write_text_atomic

if TYPE_CHECKING:
    from lunet.config import TrainConfig

logger = logging.getLogger(__name__)


#: Demo settings that are TrainConfig fields of the same flag name, passed on unchanged.
TRAIN_FLAGS = ("fold", "n_folds", "seed", "size", "epochs", "lr", "batch_size", "patience", "frames")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class DemoSettings:
    """What the demo generates and trains (defaults: the ≤ 10-minute CPU demo). Every model gets the same
    budget: ``epochs`` epochs (early stopping only when ``patience`` > 0), no wall-clock cap."""

    patients: int = field(default=40, metadata=_help("number of synthetic patients (default 40)"))
    n_folds: int = field(default=5, metadata=_help("number of folds (default 5)"))
    fold: int = field(default=1, metadata=_help("test fold (default 1)"))
    size: int = field(default=64, metadata=_help("input side in pixels, a multiple of 32 (default 64)"))
    models: tuple[str, ...] = field(
        default=("unet1", "lunet"), metadata=_help("comma-separated models (default unet1,lunet)")
    )
    epochs: int = field(default=30, metadata=_help("epochs per model, the same for every model (default 30)"))
    batch_size: int = field(default=8, metadata=_help("batch size (default 8)"))
    lr: float = field(default=1e-3, metadata=_help("Adam learning rate (default 1e-3)"))
    patience: int = field(default=0, metadata=_help("early-stopping patience, 0 = off (default 0)"))
    cross_validate: bool = field(default=False, metadata=_help("train every fold (default: one fold)"))
    seed: int = field(default=0, metadata=_help("seed of the phantom, the folds and the weights (default 0)"))
    interval_level: float = field(
        default=0.80,
        metadata=_help(
            "level of the EF/EDV/ESV intervals calibrated on the fold's validation patients; 90 %% needs 9, "
            "the default fold has 8 (default 0.80)"
        ),
    )
    frames: str = field(
        default="ed-es",
        metadata={
            "help": "training frames: ED/ES (default) or all half-sequence frames; test stays ED/ES",
            "choices": ("ed-es", "all"),
        },
    )

    @property
    def cache_folder(self) -> str:
        """Name of the demo's cache folder under ``<out>/cache``."""
        from lunet.data.cache import cache_name

        return cache_name("data", self.size, self.frames)

    @classmethod
    def full(cls) -> DemoSettings:
        """The paper protocol (for a GPU): 500 patients, 256×256, 10-fold CV, early stopping (patience 20)."""
        return cls(
            patients=500,
            n_folds=10,
            size=256,
            epochs=500,
            batch_size=16,
            patience=20,
            cross_validate=True,
            interval_level=0.90,
        )

    def replace(self, **changes: Any) -> DemoSettings:
        """A copy with the non-``None`` ``changes`` (``models`` may be a comma-separated string)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if isinstance(changes.get("models"), str):
            changes["models"] = tuple(m.strip() for m in changes["models"].split(",") if m.strip())
        return dataclasses.replace(self, **changes)

    def train_config(self, model: str, data: Path, cache: Path) -> TrainConfig:
        """The training configuration of ``model`` (the same for every model but its name)."""
        from lunet.config import TrainConfig

        shared = {name: getattr(self, name) for name in TRAIN_FLAGS}
        return TrainConfig.create(model=model, data=str(data), cache=str(cache), progress_bar=False, **shared)


def check_settings(out: Path, settings: DemoSettings) -> None:
    """Check the settings and the output folder before any work (a wrong model name fails at once).

    Raises:
        ValueError: an unknown model or option, a number out of range, or ``out`` a file.
    """
    from lunet.training.fit import check_config

    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder; choose another --out")
    if not settings.models:
        raise ValueError("--models: give at least one model (e.g. unet1,lunet)")
    if not 0.0 < settings.interval_level < 1.0:
        raise ValueError(f"--interval-level {settings.interval_level}: expected a level in (0, 1), e.g. 0.8")
    if settings.n_folds < 3 or settings.patients < settings.n_folds:
        raise ValueError(
            f"--patients {settings.patients}, --n-folds {settings.n_folds}: need at least 3 folds and one "
            "patient per fold (train, validation and test sets)"
        )
    for model in settings.models:
        check_config(settings.train_config(model, out / "data", out / "cache"), data_exists=False)


def _train_model(name: str, data: Path, out: Path, settings: DemoSettings) -> Path:
    from lunet.evaluation.interval_calibration import CALIBRATION_FILE
    from lunet.inference.calibrate import calibrate_after_training
    from lunet.training.cv import cross_validate
    from lunet.training.fit import train

    run = out / "runs" / name
    config = settings.train_config(name, data, out / "cache" / settings.cache_folder)

    def calibrate(folder: Path) -> None:
        calibrate_after_training(folder, settings.interval_level)

    if (run / "model.safetensors").is_file() and (run / "predictions").is_dir():
        logger.info("%s: trained already, reused (delete the folder to train again)", run)
        if not (run / CALIBRATION_FILE).is_file():
            calibrate(run)
        return run
    start, cpu = time.monotonic(), time.process_time()
    if settings.cross_validate:
        cross_validate(config, run, resume=True, after_fold=calibrate)
        from lunet.inference.calibrate_cv import calibrate_cv_after_gathering

        calibrate_cv_after_gathering(run, settings.interval_level)
    else:
        train(config, run, resume=(run / "checkpoints" / "last.ckpt").exists())
        calibrate(run)
    logger.info(
        "%s: trained, predicted and calibrated in %.0f s (%.0f s of CPU time: compare the two on a shared "
        "machine)",
        name,
        time.monotonic() - start,
        time.process_time() - cpu,
    )
    return run


def run_demo(out: str | Path = "lunet-demo", settings: DemoSettings | None = None) -> str:
    """Run the demo into ``out``; returns the printable summary (table, disk use, output folder), also in
    ``summary.md``.

    Raises:
        ValueError: invalid settings (checked before anything is generated or written).
    """
    settings = settings or DemoSettings()
    out = Path(out)
    check_settings(out, settings)

    from lunet.data.cache import build_cache
    from lunet.data.synthetic import generate_dataset
    from lunet.evaluation.evaluate import evaluate_run
    from lunet.report import write_report

    start = time.monotonic()
    logger.info("lunet demo: %s", SYNTHETIC_BANNER)
    data = out / "data"
    if not (data / "PHANTOM.txt").is_file():
        generate_dataset(
            data, settings.patients, fmt="nifti", size="native", seed=settings.seed, progress=False
        )
    build_cache(data, out / "cache" / settings.cache_folder, size=settings.size, frames=settings.frames)
    logger.info("data ready in %.0f s", time.monotonic() - start)
    runs = [_train_model(name, data, out, settings) for name in settings.models]
    rows = []
    for run in runs:
        evaluate_run(run)
        rows.append(summarise_run(run))
    write_report(runs, out / "report.html")
    text = format_summary(rows, settings, time.monotonic() - start)
    usage = disk_usage(out)
    parts = ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in sorted(usage.items()) if name != ".")
    text += f"\nDisk: {sum(usage.values()) / 1e6:.0f} MB in {out.resolve()} ({parts})\n"
    text += f"Report: {(out / 'report.html').resolve()}\n"
    write_text_atomic(out / "summary.md", text)
    logger.info("demo finished in %.1f min", (time.monotonic() - start) / 60)
    return text
