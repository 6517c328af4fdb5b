"""Calibration of the SYNTHETIC phantom against the published CAMUS figures for U-Net1.

For each phantom (``new``: this source tree; ``old``: the generator of another source tree, e.g. the commit
before the hard phantom, given by ``--old-src``), the script generates ``--patients`` patients (256×256
frames, seed ``--seed``), trains U-Net1 with lunet's training API (``bench_accuracy.train_all``: the code of
``lunet train``) on one fold for a fixed budget (``--epochs`` at ``--size``×``--size``), evaluates the test
patients with ``lunet.evaluation`` and prints, beside the CAMUS targets of the hard-phantom issue:

- LV_Endo Dice and d_H on Good + Medium test patients (Table II; CAMUS U-Net1: Dice 0.90–0.95, d_H 4–8 mm),
- the share of test patients that are geometric outliers (Table IV; CAMUS: 10–30 %),
- LV_Endo Dice on Poor test patients (should be clearly worse),
- the threshold + largest-dark-component baseline on the same fold (should stay far below).

``--test-patients N`` tests on N held-out phantom patients instead of fold ``--fold`` (``bench/_heldout.py``;
with N = 100 about 19 are Poor), and a second table gives each figure with its 95 % patient-level bootstrap
interval (BCa, 2000 resamples) and the Good + Medium − Poor LV_Endo Dice gap ("Poor clearly worse" when its
interval excludes 0). All figures go to ``figures.json`` in ``--out`` (or ``--json``).

Everything printed is SYNTHETIC (phantom, not CAMUS). Run:
``python bench/bench_calibration.py [--patients 60] [--test-patients 100] [--size 96] [--epochs 20]
[--old-src /tmp/old/src] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import make_phantom, print_header, print_table, quiet_lightning, setup_torch
from _heldout import heldout_folds, model_figures
from bench_accuracy import (
    add_budget_arguments,
    add_heldout_arguments,
    args_config,
    print_intervals,
    threshold_baseline_dice,
    train_all,
    write_json,
)
from lunet.evaluation.schema import ImageRecord, read_records

TARGETS = "CAMUS U-Net1 range: Dice 0.90–0.95 (G+M), d_H 4–8 mm, outlier patients 10–30 %, Poor clearly worse"


def old_phantom(out: Path, src: Path, patients: int, seed: int) -> Path:
    """Generate the phantom of another source tree (``src`` holds its ``lunet`` package) via its CLI."""
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, "-m", "lunet", "synth", "--out", str(out), "--patients", str(patients),
           "--size", "256", "--seed", str(seed), "--no-progress"]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return out


def scores(tables: dict, per_image: Path) -> dict[str, object]:
    """Calibration figures of the ``unet1`` row from the evaluation tables and ``per_image.csv``."""
    t2 = next(r for r in tables["table2"]["rows"] if r["model"] == "unet1")
    t4 = next(r for r in tables["table4"]["rows"] if r["model"] == "unet1")
    rows = [r for r in read_records(per_image, ImageRecord) if r.model == "unet1"]
    poor = [r.lv_endo_dice for r in rows if r.quality.lower() == "poor" and math.isfinite(r.lv_endo_dice)]
    good_medium = {r.patient for r in rows if r.quality.lower() != "poor"}

    def share(key: str) -> str:
        c = t4[key]
        return f"{c['count']}/{c['total']} ({100.0 * c['count'] / max(c['total'], 1):.0f} %)"

    return {
        "Dice endo G+M": float(t2["lv_endo_dice"]["mean"]),
        "d_H endo G+M": float(t2["lv_endo_hd_mm"]["mean"]),
        "d_m endo G+M": float(t2["lv_endo_mad_mm"]["mean"]),
        "Dice epi G+M": float(t2["lv_epi_dice"]["mean"]),
        "geo out pat": share("geometric_patients"),
        "geo out pat (endo)": share("geometric_lv_endo_patients"),
        "Dice endo Poor": float(np.mean(poor)) if poor else math.nan,
        "G+M / Poor pat": f"{len(good_medium)}/{len({r.patient for r in rows}) - len(good_medium)}",
    }


def calibrate(name: str, root: Path, work: Path, args: argparse.Namespace) -> tuple[dict[str, object], dict]:
    """Train and evaluate U-Net1 on the phantom at ``root``; returns one table row and the bootstrap figures
    (:func:`_heldout.model_figures`)."""
    from lunet.data.cache import CachedImages, build_cache
    from lunet.evaluation.evaluate import evaluate_models
    from lunet.training.fit import select_fold

    args.folds_dir = None
    if args.test_patients:
        args.folds_dir = heldout_folds(root, args.patients, args.test_patients, work / "folds", args.seed)
    cache_dir = build_cache(root, work / "cache", size=args.size)
    seconds = train_all(root, cache_dir, work / "runs", args)
    preds = work / "runs" / "unet1" / "predictions"
    tables = evaluate_models({"unet1": preds}, root, work / "evaluation")
    row: dict[str, object] = {"phantom": name, **scores(tables, work / "evaluation" / "per_image.csv")}
    fold = select_fold(args_config(args, root, cache_dir), CachedImages(cache_dir), work / "fold_probe")
    row["threshold Dice"], _ = threshold_baseline_dice(root, fold)
    row["train s"] = seconds["unet1"]
    row["split"] = f"{len(fold.train)}/{len(fold.val)}/{len(fold.test)}"
    figures = model_figures(work / "evaluation", ["unet1"], seed=args.seed, method=args.bootstrap)
    return row, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantoms", nargs="+", default=["new", "old"], choices=["new", "old"])
    parser.add_argument("--old-src", type=Path, default=None, help="src/ folder of the old phantom's tree")
    add_budget_arguments(parser, patients=60, size=96)
    parser.add_argument(
        "--data", type=Path, default=None, help="use this new-phantom dataset (no generation)"
    )
    parser.add_argument("--old-data", type=Path, default=None, help="use this old-phantom dataset")
    parser.add_argument("--out", type=Path, default=None, help="keep datasets, runs and evaluations here")
    add_heldout_arguments(parser)
    args = parser.parse_args(argv)
    args.models = ["unet1"]
    if "old" in args.phantoms and args.old_src is None and args.old_data is None:
        parser.error("--old-src is needed for the old phantom (e.g. `git archive <commit> src | tar -x`)")
    setup_torch(args.device, args.threads)
    quiet_lightning()
    print_header("bench_calibration: SYNTHETIC phantom vs the CAMUS U-Net1 range", args.device)
    rows, figures = [], {}
    total = args.patients + args.test_patients
    with tempfile.TemporaryDirectory(prefix="bench_calibration_") as name:
        out = args.out or Path(name)
        for phantom in args.phantoms:
            start = time.perf_counter()
            root = out / f"{phantom}_phantom"
            if phantom == "new":
                root = args.data or make_phantom(
                    root, total, size="256", seed=args.seed, annotation_sd_mm=args.annotation_sd
                )
            else:
                root = args.old_data or old_phantom(root, args.old_src, total, args.seed)
            print(f"{phantom} phantom: {total} patients in {time.perf_counter() - start:.0f} s")
            row, figures[phantom] = calibrate(phantom, root, out / f"{phantom}_work", args)
            rows.append(row)
    split = f"fold {args.fold}/{args.n_folds}"
    if args.test_patients:
        split = f"+ {args.test_patients} held-out test patients"
    print(f"\nSYNTHETIC phantom (not CAMUS): U-Net1, {args.patients} patients, "
          f"{split} (train/val/test patients in 'split'), seed {args.seed}, input {args.size}×{args.size}, "
          f"{args.epochs} epochs, batch {args.batch}, Adam lr {args.lr}, device {args.device}, "
          f"new phantom annotation sd {args.annotation_sd} mm")  # fmt: skip
    print(TARGETS)
    columns = ["phantom", "Dice endo G+M", "d_m endo G+M", "d_H endo G+M", "Dice epi G+M", "geo out pat",
               "geo out pat (endo)", "Dice endo Poor", "G+M / Poor pat", "threshold Dice",
               "split", "train s"]  # fmt: skip
    print_table(rows, columns, digits=3)
    for phantom, values in figures.items():
        print(f"\n{phantom} phantom:", end="")
        print_intervals(values)
    payload = {"synthetic": True, "bench": "bench_calibration", "settings": vars(args), "targets": TARGETS,
               "rows": rows, "bootstrap": figures}  # fmt: skip
    write_json(args.json or (args.out or Path.cwd()) / "figures.json", payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
