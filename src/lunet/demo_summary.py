"""The demo's summary (``summary.md``): each model run's figures, epochs, intervals and disk use, as text.

Split from :mod:`lunet.demo`, which runs the job; this module only reads what the runs wrote
(``training.json``, the evaluation's records, ``calibration.json``) and formats it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lunet.demo import DemoSettings

SYNTHETIC_BANNER = (
    "SYNTHETIC phantom data — not CAMUS; these numbers say nothing about the methods on real images."
)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def epochs_text(run: Path) -> str:
    """``"30/30"`` (epochs run / limit), with the stop reason when it is not the epoch limit; one entry per
    fold for a cross-validation folder."""
    from lunet.training.outcome import read_outcome

    parts = []
    for folder in [run, *sorted(run.glob("fold_*"))]:
        outcome = read_outcome(folder)
        if outcome is not None:
            reason = (
                "" if outcome.stop_reason == "max_epochs" else f" ({outcome.stop_reason.replace('_', ' ')})"
            )
            parts.append(f"{outcome.epochs_run}/{outcome.epochs_max}{reason}")
    return ", ".join(parts) or "?"


def disk_usage(folder: Path) -> dict[str, int]:
    """Bytes under each direct sub-folder of ``folder`` (files directly in it under ``"."``)."""
    usage: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            top = path.relative_to(folder).parts[0] if path.parent != folder else "."
            usage[top] = usage.get(top, 0) + path.stat().st_size
    return usage


def summarise_run(run: Path) -> dict[str, Any]:
    """Demo row of an evaluated run: mean Dice / d_m / d_H over all test images (final output o2), outlier
    images (geometric, anatomical: the papers' count) and EF mean absolute error against the phantom truth
    (or the cfg values), read by exact key from ``evaluation/`` (:mod:`lunet.evaluation.schema`)."""
    from lunet.evaluation.schema import FILES, ImageRecord, check_tables, read_records

    evaluation = run / "evaluation"
    records = read_records(evaluation / FILES[ImageRecord], ImageRecord)
    models = sorted({r.model for r in records})
    final = next((m for m in models if m.endswith("-o2")), models[0])
    mine = [r for r in records if r.model == final]
    out: dict[str, Any] = {"model": final, "images": len(mine), "epochs": epochs_text(run)}
    for key in (
        "lv_endo_dice",
        "lv_epi_dice",
        "lv_endo_mad_mm",
        "lv_endo_hd_mm",
        "lv_epi_mad_mm",
        "lv_epi_hd_mm",
    ):
        out[key] = _mean([getattr(r, key) for r in mine])
    tables = json.loads((evaluation / "tables.json").read_text())
    check_tables(tables, str(evaluation / "tables.json"))
    t4 = next(r for r in tables["table4"]["rows"] if r["model"] == final)
    for kind in ("geometric", "anatomical"):
        count = t4[f"{kind}_images"]
        out[f"{kind}_images"] = f"{count['count']}/{count['total']}"
    by_ref = {r["reference"]: r for r in tables["table3"]["rows"] if r["model"] == final}
    ref = by_ref.get("truth") or by_ref.get("cfg") or next(iter(by_ref.values()), None)
    mae = ref["ef_percent"]["mae"] if ref else None
    out["ef_mae"] = float(mae) if mae is not None else math.nan
    out.update(interval_summary(run, final))
    return out


def interval_summary(run: Path, model: str) -> dict[str, Any]:
    """The run's EF intervals for the summary: ``interval_level`` and ``interval_patients`` (validation
    patients calibrated on; NaN / 0 without ``calibration.json``), ``ef_interval_covers`` (``"k/n"``: test
    patients whose reference EF, phantom truth else cfg, lies in their interval) and ``ef_interval_width``
    (mean width, EF points), from ``evaluation/clinical.csv`` of ``model``."""
    from lunet.evaluation.interval_calibration import read_calibration
    from lunet.evaluation.schema import FILES, ClinicalRecord, read_records

    calibration = read_calibration(run)
    out: dict[str, Any] = {
        "interval_level": calibration.level if calibration else math.nan,
        "interval_patients": calibration.n_patients if calibration else 0,
        "ef_interval_covers": "",
        "ef_interval_width": math.nan,
    }
    path = run / "evaluation" / FILES[ClinicalRecord]
    if calibration is None or not path.is_file():
        return out
    hits, widths = 0, []
    for r in read_records(path, ClinicalRecord):
        ref = r.truth_ef_percent if math.isfinite(r.truth_ef_percent) else r.cfg_ef_percent
        if r.model != model or not all(map(math.isfinite, (r.ef_lo_percent, r.ef_hi_percent, ref))):
            continue
        hits += r.ef_lo_percent <= ref <= r.ef_hi_percent
        widths.append(r.ef_hi_percent - r.ef_lo_percent)
    if widths:
        out["ef_interval_covers"], out["ef_interval_width"] = f"{hits}/{len(widths)}", _mean(widths)
    return out


def interval_lines(rows: list[dict[str, Any]], settings: DemoSettings) -> list[str]:
    """The summary's line on the EF/EDV/ESV intervals (the level, why it is not 90 %, coverage per model)."""
    from lunet.evaluation.intervals import min_calibration_size

    level = 100 * settings.interval_level
    need = min_calibration_size(settings.interval_level)
    why = (
        f" (`lunet train` calibrates at 90 %, which needs {min_calibration_size(0.9)} validation patients)"
        if settings.interval_level < 0.9
        else ""
    )
    calibrated = [r for r in rows if r.get("interval_patients")]
    if not calibrated and settings.cross_validate:
        return [
            "",
            f"EF/EDV/ESV intervals: each fold calibrated at {level:g} % where it has at least {need} "
            "validation patients (`runs/<model>/fold_K/calibration.json`); the gathered cross-validation has "
            "no single calibration, so its evaluation and report show none.",
        ]
    if not calibrated:
        return [
            "",
            f"EF/EDV/ESV intervals: none: {level:g} % intervals need at least {need} validation patients per "
            "fold.",
        ]
    parts = [
        f"{r['model']} {r['ef_interval_covers'] or '?'} (mean width {r['ef_interval_width']:.1f} EF points)"
        for r in calibrated
    ]
    return [
        "",
        f"EF/EDV/ESV intervals at {level:g} %{why}: split-conformal on the "
        f"{calibrated[0]['interval_patients']} validation patients of the fold, 7 test-time augmentation "
        "passes. Test patients whose reference EF lies in their interval: " + ", ".join(parts) + ".",
    ]


def format_summary(rows: list[dict[str, Any]], settings: DemoSettings, seconds: float) -> str:
    """Markdown table of the demo rows, with the synthetic-data banner."""
    head = (
        "model",
        "epochs",
        "LV_Endo Dice",
        "LV_Epi Dice",
        "Endo d_m mm",
        "Endo d_H mm",
        "Epi d_m mm",
        "Epi d_H mm",
        "geo. outlier images",
        "anat. outlier images",
        "EF MAE %",
    )
    lines = [
        f"**{SYNTHETIC_BANNER}**",
        "",
        f"{settings.patients} synthetic patients, fold {settings.fold} of {settings.n_folds} held out, "
        f"{settings.size}×{settings.size} inputs, the same budget of {settings.epochs} "
        f"epoch{'s' if settings.epochs != 1 else ''} per model"
        + (f" (early stopping, patience {settings.patience})" if settings.patience else "")
        + f", total {seconds / 60:.1f} min.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [
            r["model"],
            r.get("epochs", "?"),
            f"{r['lv_endo_dice']:.3f}",
            f"{r['lv_epi_dice']:.3f}",
            f"{r['lv_endo_mad_mm']:.2f}",
            f"{r['lv_endo_hd_mm']:.2f}",
            f"{r['lv_epi_mad_mm']:.2f}",
            f"{r['lv_epi_hd_mm']:.2f}",
            r["geometric_images"],
            r["anatomical_images"],
            f"{r['ef_mae']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if any("interval_patients" in r for r in rows):
        lines += interval_lines(rows, settings)
    return "\n".join(lines) + "\n"
