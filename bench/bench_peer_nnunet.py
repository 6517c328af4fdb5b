"""Peer comparison on the SYNTHETIC phantom: nnU-Net v2 (2D configuration) against lunet's U-Net1, same run.

Both tools get the same data and the same budget, and both are scored by the same evaluator:

- data: ``--patients`` phantom patients (256×256 frames, seed ``--seed``), fold ``--fold`` of ``--n-folds``
  (``lunet.data.folds``, as ``bench/bench_accuracy.py``); both networks see the frames of lunet's cache at
  ``--size``×``--size`` (nnU-Net gets them as 2-D NIfTI with the resized spacing, and plans and normalises
  them its own way: z-score, its own patch and batch size, its 2-D U-Net with deep supervision);
- budget: the same number of training images seen. lunet trains ``--epochs`` epochs over the training frames;
  nnU-Net runs ``--epochs`` epochs of ceil(training frames / its batch size) iterations (its poly learning
  rate schedule over that length) instead of its default 1000 × 250. Validation: lunet's and nnU-Net's
  val patients are the same; nnU-Net's final validation pass is skipped;
- prediction: nnU-Net's own predictor (Gaussian sliding window, mirroring TTA, its defaults) returns
  probabilities on the resized grid; both tools' outputs go back to the original 256×256 grid by
  ``lunet.models.postprocess.labels_on_grid`` and are scored by
  ``lunet.evaluation.evaluate.evaluate_models``.

Run it with an interpreter that has nnunetv2 as well as lunet (nnunetv2's requirements pull a CUDA torch and
torchvision, so keep it out of lunet's environment)::

    python -m venv --system-site-packages /tmp/nnvenv && /tmp/nnvenv/bin/pip install nnunetv2
    /tmp/nnvenv/bin/python bench/bench_peer_nnunet.py [--quick]

SYNTHETIC, CPU-sized (the default budget is that of ``bench_accuracy``): the figure compares the two tools at
a small equal budget, not nnU-Net's accuracy at its full schedule.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lunet.data.cache import CachedImages, CacheEntry

from _common import make_phantom, print_header, print_table, quiet_lightning, setup_torch
from _heldout import heldout_folds, model_figures
from bench_accuracy import (
    add_heldout_arguments,
    args_config,
    print_intervals,
    summary_rows,
    train_all,
    write_json,
)

DATASET_ID = 950
DATASET_NAME = f"Dataset{DATASET_ID}_LunetPhantom"
LABELS = {"background": 0, "LV": 1, "MYO": 2, "LA": 3}


def case_id(entry: CacheEntry) -> str:
    """nnU-Net case identifier of a cache entry."""
    return f"{entry['patient_id']}_{entry['view']}_{entry['instant']}"


def spacing_mm(values: np.ndarray) -> tuple[float, float]:
    """``(row_mm, col_mm)`` of a cache spacing row."""
    row_mm, col_mm = (float(v) for v in values)
    return row_mm, col_mm


def export_raw(cache: CachedImages, rows: np.ndarray, raw: Path) -> list[str]:
    """Write cache ``rows`` as an nnU-Net raw dataset (imagesTr, labelsTr, dataset.json); returns case ids."""
    from lunet.data.camus_io import write_image

    folder = raw / DATASET_NAME
    cases = []
    for row in rows:
        entry = cache.index[row]
        spacing = spacing_mm(cache.spacing[row])
        case = case_id(entry)
        write_image(folder / "imagesTr" / f"{case}_0000.nii.gz", np.asarray(cache.images[row]), spacing)
        write_image(folder / "labelsTr" / f"{case}.nii.gz", np.asarray(cache.labels[row]), spacing)
        cases.append(case)
    dataset = {
        "channel_names": {"0": "US"},
        "labels": LABELS,
        "numTraining": len(cases),
        "file_ending": ".nii.gz",
        "name": "lunet synthetic phantom (not CAMUS)",
    }
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=2))
    return cases


def plan_and_preprocess(workers: int) -> dict:
    """nnU-Net's fingerprint, plans and preprocessing for the 2-D configuration; returns the plans."""
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprints,
        plan_experiments,
        preprocess,
    )
    from nnunetv2.paths import nnUNet_preprocessed

    extract_fingerprints([DATASET_ID], num_processes=workers, check_dataset_integrity=True, verbose=False)
    plan_experiments([DATASET_ID])
    preprocess([DATASET_ID], configurations=("2d",), num_processes=(workers,), verbose=False)
    return json.loads((Path(nnUNet_preprocessed) / DATASET_NAME / "nnUNetPlans.json").read_text())


def train_nnunet(
    train_cases: list[str], val_cases: list[str], epochs: int, results: Path
) -> tuple[float, dict]:
    """Train nnU-Net 2-D fold 0 on ``train_cases`` (validated on ``val_cases``) for ``epochs`` epochs of
    ceil(training cases / batch) iterations, its results in ``results`` (one folder per schedule).

    Returns (seconds, facts about the run: batch size, patch size, iterations per epoch).
    """
    import torch
    from nnunetv2.paths import nnUNet_preprocessed
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    os.environ["nnUNet_results"] = str(results)  # nnunetv2 >= 2.6 reads its paths from the env when used

    pre = Path(nnUNet_preprocessed) / DATASET_NAME
    (pre / "splits_final.json").write_text(json.dumps([{"train": train_cases, "val": val_cases}]))
    plans = json.loads((pre / "nnUNetPlans.json").read_text())
    plans["continue_training"] = False  # what nnUNetv2_train adds for a fresh run
    dataset_json = json.loads((pre / "dataset.json").read_text())
    trainer = nnUNetTrainer(plans, "2d", 0, dataset_json, device=torch.device("cpu"))
    batch = int(trainer.configuration_manager.batch_size)
    trainer.num_epochs = epochs
    trainer.num_iterations_per_epoch = math.ceil(len(train_cases) / batch)
    trainer.num_val_iterations_per_epoch = max(1, math.ceil(len(val_cases) / batch))
    start = time.perf_counter()
    trainer.run_training()
    seconds = time.perf_counter() - start
    facts = {
        "batch": batch,
        "patch": list(trainer.configuration_manager.patch_size),
        "iterations/epoch": trainer.num_iterations_per_epoch,
        "output": trainer.output_folder_base,
    }
    return seconds, facts


def predict_nnunet(model_dir: str, cache: CachedImages, rows: np.ndarray, out: Path) -> float:
    """nnU-Net's predictor on cache ``rows``: labels on the original grid written to ``out``; s/image."""
    import torch
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    from lunet.data.camus_io import write_image
    from lunet.models.postprocess import labels_on_grid
    from lunet.training.predictions import frame_name

    predictor = nnUNetPredictor(
        perform_everything_on_device=False, device=torch.device("cpu"), allow_tqdm=False
    )
    predictor.initialize_from_trained_model_folder(
        model_dir, use_folds=(0,), checkpoint_name="checkpoint_final.pth"
    )
    start = time.perf_counter()
    images = [np.asarray(cache.images[row], dtype=np.float32)[None, None] for row in rows]  # (c, z, y, x)
    properties = [{"spacing": [999.0, *(float(v) for v in cache.spacing[row])]} for row in rows]
    # One call for all images: nnU-Net's batched path (predict_single_npy_array sets up its preprocessing
    # pipeline anew for every image, ~10 s each on this machine).
    results = predictor.predict_from_list_of_npy_arrays(
        images, None, properties, None, num_processes=1, save_probabilities=True,
        num_processes_segmentation_export=1,
    )  # fmt: skip
    for row, (_, probabilities) in zip(rows, results, strict=True):
        shape = tuple(int(v) for v in cache.original_shape[row])
        original_spacing = spacing_mm(cache.original_spacing[row])
        folder, name = frame_name(cache.index[row])
        labels = labels_on_grid(torch.from_numpy(np.asarray(probabilities)[:, 0]), shape)
        write_image(out / folder / name, labels, original_spacing)
    return (time.perf_counter() - start) / len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8, help="lunet's batch size (nnU-Net picks its own)")
    parser.add_argument("--lr", type=float, default=1e-3, help="lunet's Adam lr (nnU-Net: SGD, its own)")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--n-folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="keep runs and evaluation here")
    parser.add_argument("--quick", action="store_true", help="smoke check: 10 patients, 1 epoch")
    parser.add_argument("--models", nargs="+", default=["unet1"], metavar="MODEL[@KEY=VALUE,...]",
                        help="lunet models trained (or reused, --from-runs) beside nnU-Net; the first is "
                             "the baseline of the paired differences")  # fmt: skip
    parser.add_argument("--nnunet-epochs", type=int, nargs="+", default=None, metavar="E",
                        help="nnU-Net schedules, in epochs of ceil(training frames / its batch) iterations "
                             "(default: --epochs: as many training images seen as lunet)")  # fmt: skip
    parser.add_argument("--from-runs", type=Path, nargs="+", default=[], metavar="DIR",
                        help="bench_accuracy --out folders with the same settings: their finished lunet "
                             "runs are reused")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, help="lunet models trained side by side")
    add_heldout_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.patients, args.epochs = 10, 1
    args.nnunet_epochs = args.nnunet_epochs or [args.epochs]
    with tempfile.TemporaryDirectory(prefix="bench_peer_") as name:
        out = args.out or Path(name)
        for var, sub in (
            ("nnUNet_raw", "nn_raw"),
            ("nnUNet_preprocessed", "nn_pre"),
            ("nnUNet_results", "nn_res"),
        ):
            os.environ[var] = str(out / sub)
        device = setup_torch("cpu", args.threads)
        os.environ.setdefault("nnUNet_n_proc_DA", str(len(os.sched_getaffinity(0))))
        os.environ.setdefault("nnUNet_compile", "false")
        quiet_lightning()
        print_header("bench_peer_nnunet: SYNTHETIC phantom, lunet unet1 vs nnU-Net v2 2d", device)
        return run(args, out)


def run(args: argparse.Namespace, out: Path) -> int:
    """The comparison in ``out`` (environment already set)."""
    from importlib.metadata import version

    import torch

    from lunet.data.cache import CachedImages, build_cache
    from lunet.evaluation.evaluate import evaluate_models
    from lunet.training.fit import select_fold

    total = args.patients + args.test_patients
    root = make_phantom(
        out / "phantom", total, size="256", seed=args.seed, annotation_sd_mm=args.annotation_sd
    )
    if args.test_patients:
        args.folds_dir = heldout_folds(root, args.patients, args.test_patients, out / "folds", args.seed)
    cache_dir = build_cache(root, out / "cache", size=args.size)
    cache = CachedImages(cache_dir)
    fold = select_fold(args_config(args, root, cache_dir), cache, out / "fold_probe")
    train_rows = cache.indices_for(list(fold.train))
    val_rows = cache.indices_for(list(fold.val))
    test_rows = cache.indices_for(list(fold.test))

    args.device = "cpu"
    seconds = train_all(root, cache_dir, out / "runs", args)  # lunet's training API, as bench_accuracy

    cases = export_raw(cache, np.concatenate([train_rows, val_rows]), Path(os.environ["nnUNet_raw"]))
    train_cases, val_cases = cases[: len(train_rows)], cases[len(train_rows) :]
    start = time.perf_counter()
    plans = plan_and_preprocess(workers=len(os.sched_getaffinity(0)))
    print(f"  nnU-Net plan + preprocess: {time.perf_counter() - start:.0f} s")
    for epochs in args.nnunet_epochs:
        name = f"nnunet-2d-e{epochs}"
        seconds[name], facts = train_nnunet(train_cases, val_cases, epochs, out / f"nn_res_e{epochs}")
        print(f"  trained nnU-Net 2d, {epochs} epochs: {seconds[name]:.0f} s; {facts}")
        per_image = predict_nnunet(facts["output"], cache, test_rows, out / "runs" / name / "predictions")
        print(f"  nnU-Net prediction: {1000 * per_image:.0f} ms/image (sliding window + mirroring, CPU)")

    preds = {m: out / "runs" / m / "predictions" for m in seconds}
    tables = evaluate_models(preds, root, out / "evaluation")
    rows = summary_rows(tables, out / "evaluation" / "per_image.csv", seconds)
    figures = model_figures(
        out / "evaluation", list(seconds), baseline=args.models[0], seed=args.seed, method=args.bootstrap
    )
    config = plans["configurations"]["2d"]
    print(
        f"\nSYNTHETIC phantom (not CAMUS): {args.patients} patients, fold {args.fold}/{args.n_folds} "
        f"({len(fold.train)} train / {len(fold.val)} val / {len(fold.test)} test patients, "
        f"seed {args.seed}), "
        f"input {args.size}×{args.size}, annotation sd {args.annotation_sd} mm.\n"
        f"lunet {', '.join(args.models)}: {args.epochs} epochs of {len(train_rows)} training frames, "
        f"batch {args.batch}, Adam lr {args.lr}, torch {torch.__version__}.\n"
        f"nnU-Net v2 {version('nnunetv2')} 2d: {', '.join(map(str, args.nnunet_epochs))} epochs of "
        f"{facts['iterations/epoch']} iterations × batch {facts['batch']} (patch {config['patch_size']}), "
        f"SGD + poly lr, deep supervision, its augmentation; prediction with mirroring.\n"
        f"Table II columns: good + medium test patients; outliers: all test images; paired differences "
        f"against {args.models[0]} on the same resampled test patients."
    )
    columns = ["model", "Dice endo", "Dice epi", "d_m endo", "d_m epi", "d_H endo", "d_H epi",
               "geo out (img)", "EF MAE %", "EF ref", "Dice endo (all)", "train s"]  # fmt: skip
    print_table(rows, columns, digits=3)
    print_intervals(figures)
    payload = {"synthetic": True, "bench": "bench_peer_nnunet", "settings": vars(args), "rows": rows,
               "bootstrap": figures}  # fmt: skip
    write_json(args.json or out / "figures.json", payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
