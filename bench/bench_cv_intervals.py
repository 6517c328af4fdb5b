"""EF / EDV / ESV intervals of a cross-validation's ensemble (CV+): measured coverage on held-out patients.

Input: a finished ``lunet cv`` folder whose data holds patients that no fold lists (held out: e.g. the
phantom of ``bench_accuracy.py --test-patients 100`` with fold lists over its first patients only). Steps:

1. Every fold's test patients through its own model's test-time augmentation passes (7; stored passes of the
   folds' own calibrations reused): the out-of-fold scores of CV+ (``lunet.evaluation.cv_plus``), at 80 / 90 /
   95 % nominal, ``absolute`` and ``normalised`` scores and the ``auto`` choice.
2. Every held-out patient through every fold model's passes: each fold model's estimate and spread, so
   (a) the CV+ interval of the ensemble, and, in the same run, the baselines
   (b) each fold model alone with its own split-conformal calibration (its 20 validation patients), pooled
   over folds, and (c) the gathered cross-validation's intervals on its own out-of-fold patients (each
   patient's fold's split-conformal interval: what ``lunet evaluate CV_RUN`` writes to ``clinical.csv``).
3. With ``--predict``, the shipped path: ``lunet predict --model CV_RUN`` on the held-out patients at the
   run's 90 % CV+ calibration: its intervals (around the voted masks' EF, widened to contain it) against the
   truth, and its time per patient.

Coverage against the phantom's analytic truth with its Clopper–Pearson 95 % interval, mean width, the Poor
stratum. SYNTHETIC (phantom), not CAMUS. Usage::

    OMP_NUM_THREADS=1 python bench/bench_cv_intervals.py --cv /tmp/cvp/unet1 --predict
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_header, print_table

LEVELS = (0.80, 0.90, 0.95)
INDEX_NAMES = {"ef_percent": "EF %", "edv_ml": "EDV ml", "esv_ml": "ESV ml"}


def _heldout(cv: Path, refs: object) -> list[str]:
    """Patients of the data that no fold of the cross-validation lists (never trained, validated, tested)."""
    from lunet.data.folds import read_fold_lists
    from lunet.run_files import cv_members

    listed: set[str] = set()
    for fold_dir in cv_members(cv):
        for fold in read_fold_lists(fold_dir / "folds"):
            listed |= {p.lower() for p in (*fold.train, *fold.val, *fold.test)}
    return sorted(p for p in refs.records if p not in listed)  # type: ignore[attr-defined]


def _member_passes(cv: Path, patients: list[str], refs: object, threads: int, cache: Path | None) -> dict:
    """``{patient: [PatientPasses per fold model]}`` of the held-out patients (cached as JSON)."""
    from lunet.evaluation.interval_calibration import PatientPasses
    from lunet.inference.backends import load_predictor
    from lunet.inference.calibrate import patient_passes
    from lunet.run_files import cv_members

    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        return {
            pid: [PatientPasses(pid, np.asarray(v, dtype=np.float64), n, s) for v, n, s in entries]
            for pid, entries in data.items()
        }
    predictors = [load_predictor(m, "torch", threads=threads) for m in cv_members(cv)]
    out = {}
    for pid in patients:
        record = refs.records[pid]  # type: ignore[attr-defined]
        out[pid] = [patient_passes([p], record, simpson=refs.simpson) for p in predictors]  # type: ignore[attr-defined]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({
            pid: [[p.values.tolist(), p.names, p.seconds] for p in entries] for pid, entries in out.items()
        }))  # fmt: skip
    return out


def _row(
    name: str, level: float, score: str, stratum: str, index: str, lo: list, hi: list, truth: list
) -> dict:
    from lunet.evaluation.intervals import coverage_ci

    lo_a, hi_a, y = (np.asarray(v, dtype=np.float64) for v in (lo, hi, truth))
    ok = np.isfinite(lo_a) & np.isfinite(hi_a) & np.isfinite(y)
    hits, n = int(((lo_a <= y) & (y <= hi_a))[ok].sum()), int(ok.sum())
    ci = coverage_ci(hits, n) if n else (math.nan, math.nan)
    cover = 100.0 * hits / n if n else math.nan
    return {
        "intervals": name, "score": score, "level %": 100 * level, "set": stratum,
        "index": INDEX_NAMES[index],
        "n": n, "coverage %": cover, "CI low": 100 * ci[0], "CI high": 100 * ci[1],
        "within ±5": "yes" if abs(cover - 100 * level) <= 5 else "NO",
        "mean width": float(np.mean((hi_a - lo_a)[ok])) if n else math.nan,
    }  # fmt: skip


def _fold_validation(cv: Path, refs: object) -> list[tuple[list, list]]:
    """Each fold's validation patients' stored passes and their reference values (read once)."""
    from lunet.evaluation.interval_calibration import PASSES_FILE, read_passes
    from lunet.inference.calibrate import reference_values
    from lunet.run_files import cv_members

    out = []
    for fold_dir in cv_members(cv):
        val = read_passes(fold_dir / PASSES_FILE, "validation")
        out.append((list(val.values()), [reference_values(refs, pid.lower()) for pid in val]))
    return out


def _fold_splits(validation: list[tuple[list, list]], level: float, score: str) -> list:
    """Each fold's split-conformal calibration at ``level`` from its validation passes."""
    from lunet.evaluation.interval_calibration import calibrate_passes

    return [calibrate_passes(passes, truths, level, score) for passes, truths in validation]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cv", type=Path, required=True, help="finished `lunet cv` folder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument(
        "--cache", type=Path, default=None, help="JSON keeping the held-out passes for reruns"
    )
    parser.add_argument("--predict", action="store_true", help="also run `lunet predict --model CV` (90 %%)")
    parser.add_argument("--predict-out", type=Path, default=None, help="keep predict's outputs there")
    args = parser.parse_args(argv)

    import torch

    from lunet.evaluation.cv_plus import calibrate_cv_plus
    from lunet.inference.calibrate import reference_values
    from lunet.inference.calibrate_cv import out_of_fold_passes
    from lunet.inference.tta import DEFAULT_PASSES

    torch.set_num_threads(args.threads)
    print_header(
        "EF / EDV / ESV intervals of a cross-validation's ensemble, CV+ (SYNTHETIC phantom, not CAMUS)"
    )
    start = time.perf_counter()
    oof = out_of_fold_passes(args.cv, DEFAULT_PASSES, "torch", args.threads)
    refs = oof.references
    members = [m.name for m in oof.members]
    print(f"{args.cv}: {len(members)} folds, {len(oof.passes)} out-of-fold patients "
          f"({time.perf_counter() - start:.0f} s); {len(DEFAULT_PASSES)} passes per model, torch, "
          f"{args.threads} thread(s)")  # fmt: skip
    heldout = _heldout(args.cv, refs)
    if not heldout:
        raise SystemExit(f"{args.cv}: its data has no held-out patient (every patient is in a fold list)")
    start = time.perf_counter()
    passes = _member_passes(args.cv, heldout, refs, args.threads, args.cache)
    seconds = [sum(p.seconds for p in entries) for entries in passes.values()]
    print(f"held out: {len(heldout)} patients ({sum(refs.quality(p) == 'Poor' for p in heldout)} Poor), "
          f"{len(members)} models x {len(DEFAULT_PASSES)} passes in {time.perf_counter() - start:.0f} s; "
          f"per patient median {np.median(seconds):.2f} s")  # fmt: skip
    truths = {p: reference_values(refs, p) for p in heldout}
    validation = _fold_validation(args.cv, refs)
    quality = {p: refs.quality(p) for p in heldout}
    rows = []
    for score in ("absolute", "normalised", "auto"):
        for level in LEVELS:
            cal = calibrate_cv_plus(oof.passes, oof.truths, members, level, score)
            label = score if score != "auto" else f"auto={cal.score}"
            spread = cal.needs_spread
            cv_plus = {
                pid: cal.intervals(
                    [e.point() for e in entries], [e.spread() for e in entries] if spread else None
                )
                for pid, entries in passes.items()
            }  # fmt: skip
            splits = _fold_splits(validation, level, score)
            alone = [
                (pid, split.intervals(entries[k].point(), entries[k].spread()))
                for pid, entries in passes.items() for k, split in enumerate(splits)
            ]  # fmt: skip
            gathered = _gathered(oof, splits)
            for stratum in ("all", "Poor"):
                keep = [p for p in heldout if stratum == "all" or quality[p] == "Poor"]
                for index in INDEX_NAMES:
                    lo_n, hi_n = _names(index)
                    rows.append(_row("CV+ ensemble", level, label, f"held-out {stratum}", index,
                                     [cv_plus[p][lo_n] for p in keep], [cv_plus[p][hi_n] for p in keep],
                                     [truths[p][index] for p in keep]))  # fmt: skip
                    one = [(p, i) for p, i in alone if p in keep]
                    rows.append(_row("one fold, split", level, label, f"held-out {stratum}", index,
                                     [i[lo_n] for _, i in one], [i[hi_n] for _, i in one],
                                     [truths[p][index] for p, _ in one]))  # fmt: skip
                if stratum == "all":
                    for index in INDEX_NAMES:
                        lo_n, hi_n = _names(index)
                        rows.append(_row("gathered, fold split", level, label, "out-of-fold", index,
                                         [g[0][lo_n] for g in gathered], [g[0][hi_n] for g in gathered],
                                         [g[1][index] for g in gathered]))  # fmt: skip
    cols = [
        "intervals",
        "score",
        "level %",
        "set",
        "n",
        "coverage %",
        "CI low",
        "CI high",
        "within ±5",
        "mean width",
    ]
    print("\nEF (points):")
    print_table([r for r in rows if r["index"] == "EF %"], cols, digits=1)
    print("\nEDV, ESV (ml):")
    print_table(
        [r for r in rows if r["index"] != "EF %" and r["set"] == "held-out all"],
        [*cols[:3], "index", *cols[4:]],
        digits=1,
    )
    if args.predict:
        _shipped(args.cv, heldout, refs, truths, quality, args.predict_out)
    return 0


def _names(index: str) -> tuple[str, str]:
    from lunet.evaluation.interval_calibration import INTERVAL_COLUMNS

    return INTERVAL_COLUMNS[index]


def _gathered(oof: object, splits: list) -> list[tuple[dict, dict]]:
    """Each out-of-fold patient's interval from its own fold's split-conformal calibration, with its truth."""
    return [
        (splits[k].intervals(p.point(), p.spread()), t)
        for (k, p), t in zip(oof.passes, oof.truths)  # type: ignore[attr-defined]
    ]


def _shipped(
    cv: Path, heldout: list[str], refs: object, truths: dict, quality: dict, keep: Path | None
) -> None:
    """``lunet predict --model CV`` (torch) on the held-out patients at 90 %: coverage of what it writes."""
    import tempfile

    from lunet.inference.calibrate_cv import calibrate_cv_run
    from lunet.inference.predict import PredictOptions, predict_paths

    cal = calibrate_cv_run(cv, 0.90)
    folders = [refs.records[p].directory for p in heldout]  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as scratch:
        tmp = keep if keep is not None else Path(scratch)
        start = time.perf_counter()
        options = PredictOptions(backend="torch", progress=False, overlay=False, threads=1)
        predict_paths(cv, folders, tmp, options)
        elapsed = time.perf_counter() - start
        found = {p.stem.lower(): json.loads(p.read_text()) for p in (Path(tmp) / "patients").glob("*.json")}
    print(f"\nlunet predict --model {cv} (CV+ {cal.score}, 90 %, {cal.models} folds, torch, 1 thread): "
          f"{len(found)} patients in {elapsed:.0f} s ({elapsed / max(len(found), 1):.2f} s per patient)",
          )  # fmt: skip
    rows = []
    for stratum in ("all", "Poor"):
        keep = [p for p in heldout if p in found and (stratum == "all" or quality[p] == "Poor")]
        lo = [found[p]["ef_interval_percent"][0] for p in keep]
        hi = [found[p]["ef_interval_percent"][1] for p in keep]
        lo = [math.nan if v is None else v for v in lo]
        hi = [math.nan if v is None else v for v in hi]
        rows.append(_row("predict, ensemble", 0.90, cal.score, f"held-out {stratum}", "ef_percent", lo, hi,
                         [truths[p]["ef_percent"] for p in keep]))  # fmt: skip
    print_table(rows, ["intervals", "score", "level %", "set", "n", "coverage %", "CI low", "CI high",
                       "within ±5",
                       "mean width"], digits=1)  # fmt: skip
    err = [abs(found[p]["ef_percent"] - truths[p]["ef_percent"]) for p in heldout if p in found
           and found[p]["ef_percent"] is not None]  # fmt: skip
    member = [
        np.nanmean([abs((math.nan if m is None else m) - truths[p]["ef_percent"])
                    for m in found[p]["member_ef_percent"]])
        for p in heldout if p in found
    ]  # fmt: skip
    print(f"EF |error| of the voted masks: mean {np.nanmean(err):.2f} points; of one fold model, mean over "
          f"folds: {np.nanmean(member):.2f}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
