"""Accuracy on the SYNTHETIC phantom: unet1, lunet, runet and unet1-oracle (m = 5 %), one fold, fixed seed.

Generates ``--patients`` phantom patients (256×256 frames, seed ``--seed``), trains every model with lunet's
training API (``lunet.training.fit.train``: the code of ``lunet train``) for ``--epochs`` epochs at
``--size``×``--size`` on fold ``--fold`` of ``--n-folds`` (stratified folds of ``lunet.data.folds``), predicts
the test patients, and evaluates all models together with ``lunet.evaluation.evaluate.evaluate_models``.

Printed per model (final output o2 for the two-stage models): Dice, d_m, d_H of LV_Endo and LV_Epi (Table II:
good + medium quality test patients), geometric and anatomical outliers (Table IV: all test images), EF MAE
(Table III, against the phantom's true EF) and training time. Same-run baselines: unet1 (the plain U-Net the
papers compare with) and a threshold + largest-dark-component rule (``bench/threshold_baseline.py``'s method,
σ and threshold chosen on this fold's training + validation images), LV_Endo Dice on all test images.

The figures are SYNTHETIC (phantom, not CAMUS) and CPU-sized: few patients and epochs, so they measure the
pipeline, not the papers' accuracy. Default ≈ 10 min on 2 idle cores; ``--quick`` is a smoke check.

``--test-patients N`` adds N held-out phantom patients as the test set (``bench/_heldout.py``: the
``--patients`` are split 80/20 into training/validation, stratified; training never sees the N), and a second
table gives every figure with its 95 % patient-level bootstrap interval (BCa, 2000 resamples, ``--seed``) and
the paired differences against unet1 on the same resampled patients. All figures go to ``figures.json`` in
``--out`` (or the current folder with ``--json``).

Run: ``python bench/bench_accuracy.py [--quick] [--patients 40] [--test-patients 100] [--epochs 20]
[--size 64] [--device cuda] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lunet.config import TrainConfig

from _common import make_phantom, print_header, print_table, quiet_lightning, setup_torch
from _heldout import heldout_folds, interval_rows, model_figures, paired_rows
from lunet.evaluation.schema import ImageRecord, read_records

MODELS = ("unet1", "lunet", "runet", "unet1-oracle")


def parse_variant(label: str) -> tuple[str, dict[str, object]]:
    """``"lunet@recipe=paper,margin=0.15"`` → ``("lunet", {"recipe": "paper", "margin": 0.15})``.

    Keys are TrainConfig flag names (``recipe``, ``margin``, ``train_crop``, ``reference_box_jitter``,
    ``warmup_reference_box_epochs``, ...); any other key is a model override (``box_source=segmentation``).
    Values are read as JSON where they parse, else kept as strings.
    """
    import json

    from lunet.config import flag_fields
    from lunet.models import MODELS

    name, _, spec = label.partition("@")
    if name not in MODELS:
        raise SystemExit(f"--models {label!r}: unknown model {name!r} (known: {', '.join(MODELS)})")
    flags = {leaf.flag for leaf in flag_fields()} | {"margin"}
    changes: dict[str, object] = {}
    overrides: dict[str, object] = {}
    for item in filter(None, spec.split(",")):
        key, sep, text = item.partition("=")
        if not sep:
            raise SystemExit(f"--models {label!r}: expected KEY=VALUE after '@', got {item!r}")
        try:
            value: object = json.loads(text)
        except json.JSONDecodeError:
            value = text
        (changes if key in flags else overrides)[key] = value
    if overrides:
        changes["model_overrides"] = overrides
    return name, changes


def model_config(model: str, root: Path, cache_dir: Path, args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of one model (or ``name@key=value,...`` variant) of the bench (what ``lunet train``
    would be given). The box margin is the model's default (LU-Net's robust recipe: 15 %; the others and
    ``lunet@recipe=paper``: 5 %) unless the variant names another (``@margin=0.05``)."""
    from lunet.config import TrainConfig

    name, changes = parse_variant(model)
    base = TrainConfig.create(
        model=name, data=str(root), cache=str(cache_dir), fold=args.fold, n_folds=args.n_folds,
        seed=args.seed, size=args.size, epochs=args.epochs, batch_size=args.batch,
        lr=args.lr, patience=0, folds_dir=fold_lists(args),
        accelerator="gpu" if args.device.startswith("cuda") else "cpu",
        progress_bar=False,
    )  # fmt: skip
    if getattr(args, "dice_classes", None):
        changes = {"dice_classes": tuple(args.dice_classes), **changes}
    return base.replace(**changes) if changes else base


def _train_one(config_json: str, run_dir: str, threads: int | None) -> float:
    """Train one model in a worker process (``--jobs``); returns its wall seconds."""
    import torch

    from _common import quiet_lightning
    from lunet.config import TrainConfig
    from lunet.training.fit import train

    if threads:
        torch.set_num_threads(threads)
    quiet_lightning()
    start = time.perf_counter()
    train(TrainConfig.from_json(config_json), Path(run_dir))
    return time.perf_counter() - start


def train_all(root: Path, cache_dir: Path, out: Path, args: argparse.Namespace) -> dict[str, float]:
    """Train each model of ``args.models`` (run in ``out/<model>``); returns training seconds by model.

    Models with a finished run in ``--from-runs`` are linked, not trained again (:func:`reused_runs`).
    With ``--jobs N`` > 1 the models train side by side in N processes (``spawn``), each with ``--threads``
    torch threads (default 1); each model is seeded on its own, so its figures do not depend on ``--jobs``.
    """
    from lunet.training.fit import train

    seconds = reused_runs(root, cache_dir, out, args)
    todo = [m for m in args.models if m not in seconds]
    for model in args.models:
        if model in seconds:
            print(
                f"  {model}: finished run reused from --from-runs ({seconds[model]:.0f} s of training epochs)"
            )
    if getattr(args, "jobs", 1) > 1 and len(todo) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            futures = {
                model: pool.submit(
                    _train_one,
                    model_config(model, root, cache_dir, args).to_json(),
                    str(out / model),
                    args.threads or 1,
                )
                for model in todo
            }
            for model, future in futures.items():
                seconds[model] = future.result()
                print(f"  trained {model}: {seconds[model]:.0f} s (side by side, {args.jobs} jobs)")
    else:
        for model in todo:
            start = time.perf_counter()
            train(model_config(model, root, cache_dir, args), out / model)
            seconds[model] = time.perf_counter() - start
            print(f"  trained {model}: {seconds[model]:.0f} s")
    return {model: seconds[model] for model in args.models}


def reused_runs(root: Path, cache_dir: Path, out: Path, args: argparse.Namespace) -> dict[str, float]:
    """Finished runs of ``--from-runs`` to evaluate instead of training again; returns training seconds.

    A run ``DIR/runs/<model>`` (``training.json`` written) of another ``bench_accuracy --out DIR`` is linked
    to ``out/<model>`` when its ``config.json`` equals this run's config of that model up to data paths and
    its fold lists have the same contents as this run's (the same seed, ``--patients`` and
    ``--test-patients`` generate the same phantom). Anything else is an error. Training seconds: the sum of
    its epochs' ``seconds`` in ``metrics.csv``.
    """
    import csv
    import json

    def comparable(config: dict) -> dict:
        """Data paths dropped; model options completed with the constructor's defaults and limited to those it
        takes (a run written when a default was spelled out, e.g. ``box_margin: 0.05``, or given to a model
        without a box, compares equal to one that leaves it implicit)."""
        import inspect

        from lunet.models import MODELS

        config["data"] = {k: v for k, v in config["data"].items() if k not in ("root", "cache", "folds_dir")}
        model = config["model"]
        params = inspect.signature(MODELS[model["name"]].builder).parameters
        defaults = {n: p.default for n, p in params.items() if p.default is not inspect.Parameter.empty}
        given = {k: v for k, v in model["overrides"].items() if k in params}  # box_margin of a boxless model
        model["overrides"] = {**defaults, **given}
        return config

    def lists(folder: Path) -> dict[str, str]:
        return {f.name: f.read_text() for f in sorted(folder.glob("subGroup*.txt"))}

    found: dict[str, float] = {}
    for base in getattr(args, "from_runs", None) or []:
        for done in sorted((Path(base) / "runs").glob("*/training.json")):
            run, model = done.parent, done.parent.name
            if model not in args.models or model in found:
                continue
            mine = comparable(model_config(model, root, cache_dir, args).to_dict())
            theirs = comparable(json.loads((run / "config.json").read_text()))
            folds_dir = fold_lists(args)
            if mine != theirs or (folds_dir and lists(run / "folds") != lists(Path(folds_dir))):
                raise SystemExit(f"--from-runs: {run} was trained with other settings or folds than this run")
            out.mkdir(parents=True, exist_ok=True)
            if not (out / model).exists():
                (out / model).symlink_to(run.resolve(), target_is_directory=True)
            with open(run / "metrics.csv", newline="") as f:
                found[model] = sum(float(r["seconds"] or 0) for r in csv.DictReader(f))
    return found


def threshold_baseline_dice(root: Path, fold: object) -> tuple[float, int]:
    """LV_Endo Dice (mean over the fold's test images) of the threshold rule tuned on its train + val."""
    import threshold_baseline as tb
    from lunet.data.camus import scan_camus
    from lunet.data.labels import INSTANTS, VIEWS, Label

    records = {r.patient_id: r for r in scan_camus(root).patients}

    def pairs(ids: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for pid in ids:
            for view in VIEWS:
                for instant in INSTANTS:
                    echo = records[pid].load(view, instant)
                    out.append((echo.image, echo.label == int(Label.LV)))
        return out

    train = pairs(list(fold.train) + list(fold.val))  # type: ignore[attr-defined]
    test = pairs(list(fold.test))  # type: ignore[attr-defined]
    valid = [tb.sector_mask(img) for img, _ in train]
    best = (-1.0, 0.0, 0.0)
    for sigma in tb.SIGMAS:
        for t in tb.THRESHOLDS:
            score = float(
                np.mean([tb.dice(tb.predict(img, v, sigma, t), ref) for (img, ref), v in zip(train, valid)])
            )
            best = max(best, (score, sigma, float(t)))
    _, sigma, t = best
    return float(
        np.mean([tb.dice(tb.predict(img, tb.sector_mask(img), sigma, t), ref) for img, ref in test])
    ), len(test)


def localization_rows(per_image: Path, margins: dict[str, float]) -> list[dict[str, object]]:
    """Box IoU (mean, median) and BB-out share of every model with boxes, over its test images, from the
    evaluation's ``per_image.csv`` (``box_iou`` against the reference box at the model's margin,
    ``bb_out``)."""
    images = read_records(per_image, ImageRecord)
    rows: list[dict[str, object]] = []
    for model, margin in margins.items():
        boxed = [r for r in images if r.model == model and math.isfinite(r.box_iou)]
        if not boxed:
            continue
        ious = np.array([r.box_iou for r in boxed])
        rows.append({
            "model": model, "box IoU mean": float(ious.mean()), "box IoU median": float(np.median(ious)),
            "IoU < 0.8 %": 100.0 * float(np.mean(ious < 0.8)),
            "BB-out %": 100.0 * float(np.mean([r.bb_out for r in boxed])),
            "images": len(boxed), "margin": margin,
        })  # fmt: skip
    return rows


def summary_rows(tables: dict, per_image: Path, seconds: dict[str, float]) -> list[dict[str, object]]:
    """One row per model from the evaluation tables (see the module docstring for the subsets)."""
    t2 = {r["model"]: r for r in tables["table2"]["rows"]}
    t4 = {r["model"]: r for r in tables["table4"]["rows"]}
    t3: dict[str, dict] = {}
    for r in tables["table3"]["rows"]:  # prefer the phantom truth, then Simpson on the reference masks
        if r["model"] not in t3 or r["reference"] == "truth":
            t3[r["model"]] = r
    images = read_records(per_image, ImageRecord)
    rows = []
    for model in seconds:
        r2, r4, r3 = t2.get(model, {}), t4.get(model, {}), t3.get(model, {})
        endo_all = [r.lv_endo_dice for r in images if r.model == model and math.isfinite(r.lv_endo_dice)]

        def m(row: dict, key: str) -> float:
            return float(row.get(key, {}).get("mean", math.nan))

        def count(row: dict, key: str) -> str:
            c = row.get(key, {})
            return f"{c['count']}/{c['total']}" if c else "-"

        rows.append({
            "model": model, "Dice endo": m(r2, "lv_endo_dice"), "Dice epi": m(r2, "lv_epi_dice"),
            "d_m endo": m(r2, "lv_endo_mad_mm"), "d_m epi": m(r2, "lv_epi_mad_mm"),
            "d_H endo": m(r2, "lv_endo_hd_mm"), "d_H epi": m(r2, "lv_epi_hd_mm"),
            "geo out (img)": count(r4, "geometric_images"),
            "anat out (img)": count(r4, "anatomical_images"),
            "EF MAE %": float(r3.get("ef_percent", {}).get("mae", math.nan)) if r3 else math.nan,
            "EF ref": r3.get("reference", "-"),
            "Dice endo (all)": float(np.mean(endo_all)) if endo_all else math.nan,
            "train s": seconds[model],
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), metavar="MODEL[@KEY=VALUE,...]",
                        help="models, or variants such as lunet@recipe=paper or lunet@margin=0.15 "
                             f"(default {' '.join(MODELS)})")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1,
                        help="train the models side by side in this many processes "
                             "(--threads each, default 1)")  # fmt: skip
    add_budget_arguments(parser, patients=40, size=64)
    parser.add_argument("--out", type=Path, default=None, help="keep the runs and evaluation here")
    parser.add_argument("--quick", action="store_true", help="smoke check: 10 patients, 1 epoch")
    parser.add_argument("--from-runs", type=Path, nargs="+", default=[], metavar="DIR",
                        help="--out folders of other runs with the same settings: their finished model runs "
                             "are evaluated with this run's instead of being trained again")  # fmt: skip
    add_heldout_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.patients, args.epochs, args.batch = 10, 1, 4
    setup_torch(args.device, args.threads)
    quiet_lightning()
    print_header("bench_accuracy: SYNTHETIC phantom, one fold", args.device)
    from lunet.data.cache import CachedImages, build_cache
    from lunet.evaluation.evaluate import evaluate_models
    from lunet.training.fit import select_fold

    with tempfile.TemporaryDirectory(prefix="bench_accuracy_") as name:
        out = args.out or Path(name)
        start = time.perf_counter()
        total = args.patients + args.test_patients
        root = make_phantom(
            out / "phantom", total, size="256", seed=args.seed, annotation_sd_mm=args.annotation_sd
        )
        if args.test_patients:
            args.folds_dir = heldout_folds(root, args.patients, args.test_patients, out / "folds", args.seed)
        cache_dir = build_cache(root, out / "cache", size=args.size)
        print(f"phantom + cache: {total} patients in {time.perf_counter() - start:.0f} s")
        seconds = train_all(root, cache_dir, out / "runs", args)
        preds = {m: out / "runs" / m / "predictions" for m in seconds}
        boxes = {m: p / "boxes.csv" for m, p in preds.items()}
        start = time.perf_counter()
        margins = {m: model_config(m, root, cache_dir, args).model.box_margin for m in seconds}
        tables = evaluate_models(preds, root, out / "evaluation", boxes, box_margin=margins)
        print(f"  evaluation: {time.perf_counter() - start:.0f} s")
        rows = summary_rows(tables, out / "evaluation" / "per_image.csv", seconds)
        localization = localization_rows(out / "evaluation" / "per_image.csv", margins)
        fold = select_fold(args_config(args, root, cache_dir), CachedImages(cache_dir), out / "fold_probe")
        baseline, n_test = threshold_baseline_dice(root, fold)
        figures = model_figures(out / "evaluation", list(seconds), seed=args.seed, method=args.bootstrap)
    split = f"fold {args.fold}/{args.n_folds}"
    if args.test_patients:
        split = f"+ {args.test_patients} held-out test patients"
    print(f"\nSYNTHETIC phantom (not CAMUS): {args.patients} patients, {split} "
          f"({len(fold.train)} train / {len(fold.val)} val / {len(fold.test)} test patients, "
          f"seed {args.seed}), "
          f"input {args.size}×{args.size}, {args.epochs} epochs, batch {args.batch}, Adam lr {args.lr}, "
          f"device {args.device}, annotation sd {args.annotation_sd} mm")  # fmt: skip
    print("Dice / d_m / d_H (mm): Table II, good + medium test patients; outliers: Table IV, "
          "all test images; EF MAE: Table III (reference in 'EF ref')")  # fmt: skip
    columns = [
        "model",
        "Dice endo",
        "Dice epi",
        "d_m endo",
        "d_m epi",
        "d_H endo",
        "d_H epi",
        "geo out (img)",
        "anat out (img)",
        "EF MAE %",
        "EF ref",
        "Dice endo (all)",
        "train s",
    ]
    print_table(rows, columns, digits=3)
    unet = next((r for r in rows if r["model"] == "unet1"), None)
    unet_text = f"; unet1 {unet['Dice endo (all)']:.3f}" if unet else ""
    print(f"Same-run baseline, threshold + largest dark component: LV_Endo Dice {baseline:.3f} on the "
          f"{n_test} test images (all qualities){unet_text}")  # fmt: skip
    if localization:
        print("Localization (all test images; IoU against the reference box at the model's own margin; "
              "BB-out = the box does not contain the whole LV ∪ myocardium):")  # fmt: skip
        print_table(localization, list(localization[0]), digits=3)
    print_intervals(figures)
    sizes = {"train": len(fold.train), "val": len(fold.val), "test": len(fold.test)}
    payload = {
        "synthetic": True, "bench": "bench_accuracy", "settings": vars(args) | {"fold_sizes": sizes},
        "rows": rows, "localization": localization, "threshold_dice": baseline, "threshold_images": n_test,
        "bootstrap": figures,
    }  # fmt: skip
    write_json(args.json or (args.out or Path.cwd()) / "figures.json", payload)
    return 0


def print_intervals(figures: dict) -> None:
    """The bootstrap tables of :func:`_heldout.model_figures`' output."""
    print(f"\nSYNTHETIC, 95 % CIs: {figures['method']} ({figures['n_resamples']} resamples, seed "
          f"{figures['seed']}, {figures['patients']} test patients); shares in %")  # fmt: skip
    rows = interval_rows(figures)
    print_table(rows, list(rows[0]))
    print("Paired differences (same resampled patients) and the Good+Medium − Poor LV_Endo Dice gap:")
    rows = paired_rows(figures)
    print_table(rows, list(rows[0]))


def args_config(args: argparse.Namespace, root: Path, cache_dir: Path) -> TrainConfig:
    """The TrainConfig fields that decide the fold (to rebuild it for the threshold baseline)."""
    from lunet.config import TrainConfig

    return TrainConfig.create(
        data=str(root),
        cache=str(cache_dir),
        fold=args.fold,
        n_folds=args.n_folds,
        seed=args.seed,
        folds_dir=fold_lists(args),
    )


def fold_lists(args: argparse.Namespace) -> str | None:
    """The held-out fold-list folder of ``--test-patients`` (None: the stratified folds of the dataset)."""
    folds_dir = getattr(args, "folds_dir", None)
    return str(folds_dir) if folds_dir else None


def add_budget_arguments(parser: argparse.ArgumentParser, patients: int, size: int) -> None:
    """Data and training budget flags, shared with bench_calibration (which has its own defaults)."""
    parser.add_argument(
        "--patients", type=int, default=patients, help="phantom patients (4 annotated frames each)"
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--size", type=int, default=size, help="network input side (multiple of 32)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--n-folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None)


def add_heldout_arguments(parser: argparse.ArgumentParser) -> None:
    """``--test-patients``, ``--bootstrap``, ``--json``, ``--annotation-sd`` and ``--dice-classes``
    (shared with bench_calibration and bench_peer_nnunet)."""
    parser.add_argument("--dice-classes", type=lambda text: [int(c) for c in text.split(",")], default=None,
                        metavar="1,2[,3]", help="classes of lunet's Dice loss (default: lunet's, LV, MYO, "
                        "LA; 1,2 = the papers' loss and the runs written before 2026-12-04)")  # fmt: skip
    parser.add_argument("--test-patients", type=int, default=0,
                        help="held-out test patients added to the phantom (0: fold --fold)")  # fmt: skip
    parser.add_argument("--bootstrap", default="BCa", choices=["BCa", "percentile"],
                        help="interval of the patient-level bootstrap (2000 resamples)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="figures JSON (default: OUT/figures.json)")
    parser.add_argument("--annotation-sd", type=float, default=0.0, metavar="MM",
                        help="phantom references displaced like one observer's tracing (lunet synth "
                             "--annotation-sd; the analytic volumes stay the truth)")  # fmt: skip


def write_json(path: Path, payload: dict) -> None:
    """Write the figures of a run atomically (NaN as null)."""
    import json

    from lunet.evaluation.evaluate import json_safe
    from lunet.io import write_text_atomic

    write_text_atomic(path, json.dumps(json_safe(payload), indent=1, default=str) + "\n")
    print(f"figures: {path}")


if __name__ == "__main__":
    raise SystemExit(main())
