"""``lunet demo``: the whole pipeline on synthetic phantom data, U-Net1 against LU-Net, in minutes on a CPU.

Steps: generate a synthetic CAMUS-layout dataset (:func:`lunet.data.synthetic.generate_dataset`), build the
resized cache, train ``unet1`` and ``lunet`` (margin 5 %) on one fold, predict its held-out test patients on
the original image grid, evaluate (:func:`lunet.evaluation.evaluate.evaluate_run`), write the HTML report
(:func:`lunet.report.write_report`) and a side-by-side summary (``summary.md``).

Default settings (measured on a 2-core CPU, see ``DemoSettings``): 40 patients, 5 folds (24 training, 8
validation, 8 test patients = 32 test images), 64×64 inputs, at most 30 epochs per model with a wall-clock cap
so that the demo ends within 10 minutes on a slower machine. ``--full`` is the paper protocol for a GPU: 500
patients, 256×256, 10-fold cross-validation, early stopping with patience 20.

Every number the demo prints is on SYNTHETIC data: it shows that the pipeline works, not how the methods do on
CAMUS.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lunet.io import write_text_atomic

logger = logging.getLogger(__name__)

SYNTHETIC_BANNER = (
    "SYNTHETIC phantom data — not CAMUS; these numbers say nothing about the methods on real images."
)


@dataclass(frozen=True)
class DemoSettings:
    """What the demo generates and trains (defaults: the ≤ 10-minute CPU demo)."""

    patients: int = 40
    n_folds: int = 5
    fold: int = 1
    size: int = 64
    models: tuple[str, ...] = ("unet1", "lunet")
    margin: float = 0.05
    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    patience: int = 0
    #: wall-clock cap per model in seconds (None: none); keeps the demo within 10 minutes on slow machines
    max_time_s: dict[str, float] | None = dataclasses.field(
        default_factory=lambda: {"unet1": 150.0, "lunet": 300.0}
    )
    cross_validate: bool = False
    seed: int = 0

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
            max_time_s=None,
            cross_validate=True,
        )

    def replace(self, **changes: Any) -> DemoSettings:
        """A copy with the non-``None`` ``changes`` (``models`` may be a comma-separated string)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if isinstance(changes.get("models"), str):
            changes["models"] = tuple(m.strip() for m in changes["models"].split(",") if m.strip())
        return dataclasses.replace(self, **changes)


def _train_model(name: str, data: Path, out: Path, settings: DemoSettings) -> Path:
    from lunet.config import TrainConfig
    from lunet.training.cv import cross_validate
    from lunet.training.fit import train

    run = out / "runs" / name
    budget = (settings.max_time_s or {}).get(name)
    config = TrainConfig(
        model=name,
        data=str(data),
        cache=str(out / "cache" / f"data_{settings.size}"),
        fold=settings.fold,
        n_folds=settings.n_folds,
        seed=settings.seed,
        size=settings.size,
        margin=settings.margin,
        epochs=settings.epochs,
        lr=settings.lr,
        batch_size=settings.batch_size,
        patience=settings.patience,
        max_time_s=budget,
        progress_bar=False,
    )
    if (run / "model.safetensors").is_file() and (run / "predictions").is_dir():
        logger.info("%s: trained already, reused (delete the folder to train again)", run)
        return run
    start = time.monotonic()
    if settings.cross_validate:
        cross_validate(config, run, resume=True)
    else:
        train(config, run, resume=(run / "checkpoints" / "last.ckpt").exists())
    logger.info("%s: trained and predicted in %.0f s", name, time.monotonic() - start)
    return run


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def summarise_run(run: Path) -> dict[str, Any]:
    """Demo row of an evaluated run: mean Dice / d_m / d_H over all test images (final output o2), outlier
    patients (geometric) and EF mean absolute error against the phantom truth (or the cfg values)."""
    import csv

    evaluation = run / "evaluation"
    with open(evaluation / "per_image.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    models = sorted({r["model"] for r in rows})
    final = next((m for m in models if m.endswith("-o2")), models[0])
    mine = [r for r in rows if r["model"] == final]

    def col(name: str) -> float:
        return _mean([float(r[name]) if r.get(name) not in (None, "") else math.nan for r in mine])

    out: dict[str, Any] = {"model": final, "images": len(mine)}
    for key in (
        "lv_endo_dice",
        "lv_epi_dice",
        "lv_endo_mad_mm",
        "lv_endo_hd_mm",
        "lv_epi_mad_mm",
        "lv_epi_hd_mm",
    ):
        out[key] = col(key)
    tables = json.loads((evaluation / "tables.json").read_text())
    t4 = next((r for r in tables.get("table4", {}).get("rows", []) if r.get("model") == final), {})
    geo = t4.get("geometric_outliers_patients", {})
    out["outlier_patients"] = f"{geo.get('count', '?')}/{geo.get('total', '?')}"
    clinical = [r for r in tables.get("table3", {}).get("rows", []) if r.get("model") == final]
    by_ref = {r.get("reference"): r for r in clinical}
    ref = by_ref.get("truth") or by_ref.get("cfg") or (clinical[0] if clinical else {})
    mae = (ref.get("ef_percent") or {}).get("mae") if ref else None
    out["ef_mae"] = float(mae) if mae is not None else math.nan
    return out


def format_summary(rows: list[dict[str, Any]], settings: DemoSettings, seconds: float) -> str:
    """Markdown table of the demo rows, with the synthetic-data banner."""
    head = (
        "model",
        "LV_Endo Dice",
        "LV_Epi Dice",
        "Endo d_m mm",
        "Endo d_H mm",
        "Epi d_m mm",
        "Epi d_H mm",
        "geo. outlier patients",
        "EF MAE %",
    )
    lines = [
        f"**{SYNTHETIC_BANNER}**",
        "",
        f"{settings.patients} synthetic patients, fold {settings.fold} of {settings.n_folds} held out, "
        f"{settings.size}×{settings.size} inputs, total {seconds / 60:.1f} min.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [
            r["model"],
            f"{r['lv_endo_dice']:.3f}",
            f"{r['lv_epi_dice']:.3f}",
            f"{r['lv_endo_mad_mm']:.2f}",
            f"{r['lv_endo_hd_mm']:.2f}",
            f"{r['lv_epi_mad_mm']:.2f}",
            f"{r['lv_epi_hd_mm']:.2f}",
            r["outlier_patients"],
            f"{r['ef_mae']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_demo(out: str | Path = "lunet-demo", settings: DemoSettings | None = None) -> str:
    """Run the demo into ``out``; returns the printable summary (table + output folder), also in
    ``summary.md``."""
    from lunet.data.preprocess import build_cache
    from lunet.data.synthetic import generate_dataset
    from lunet.evaluation.evaluate import evaluate_run
    from lunet.report import write_report

    settings = settings or DemoSettings()
    out = Path(out)
    start = time.monotonic()
    logger.info("lunet demo: %s", SYNTHETIC_BANNER)
    data = out / "data"
    if not (data / "PHANTOM.txt").is_file():
        generate_dataset(
            data, settings.patients, fmt="nifti", size="native", seed=settings.seed, progress=False
        )
    build_cache(data, out / "cache" / f"data_{settings.size}", size=settings.size)
    logger.info("data ready in %.0f s", time.monotonic() - start)
    runs = [_train_model(name, data, out, settings) for name in settings.models]
    rows = []
    for run in runs:
        evaluate_run(run)
        rows.append(summarise_run(run))
    write_report(runs, out / "report.html")
    text = format_summary(rows, settings, time.monotonic() - start)
    text += f"\nOutput folder: {out.resolve()}\nReport: {(out / 'report.html').resolve()}\n"
    write_text_atomic(out / "summary.md", text)
    logger.info("demo finished in %.1f min", (time.monotonic() - start) / 60)
    return text
