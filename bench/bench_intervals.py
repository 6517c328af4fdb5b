"""EF / EDV / ESV intervals: measured coverage of split-conformal intervals on held-out phantom patients.

For each run (a finished ``lunet train`` run whose fold has validation and test patients, e.g. those of
``bench_accuracy.py --test-patients 100``): every validation and test patient's four ED/ES frames go through
the test-time augmentation passes (``lunet.inference.tta.DEFAULT_PASSES``, 7) of the run (and, with
``--ensemble``, of every run together); EDV/ESV/EF per pass by Simpson (geometric, the phantom default).
Calibration on the validation patients only (``lunet.inference.calibrate.calibrate_passes``), coverage on
the test patients against the phantom's analytic truth (``phantom_truth.json``), with its Clopper–Pearson
95 % interval (``coverage_ci``), at 80 / 90 / 95 % nominal, for the ``absolute`` and ``normalised`` scores
and the ``auto`` choice; the same on the Poor image-quality stratum; the share of EF intervals wider than the
QC width (``lunet.inference.qc.EF_INTERVAL_WIDE_POINTS``). Time per patient: the passes' wall time (4 frames
× passes, inverse maps, Simpson; torch), one pass estimated as 1/passes of it; with
``--int8-patients N``, the first run in INT8: its coverage (INT8- vs torch-calibrated) and ``lunet predict
--backend int8`` timed end to end with and without the passes.
A sensitivity analysis pools validation and test patients and redraws the calibration patients at random,
to show how far one 20-patient calibration moves the coverage (it is not the held-out protocol).

SYNTHETIC (phantom), not CAMUS. Usage::

    OMP_NUM_THREADS=1 nice -n 10 python bench/bench_intervals.py \\
        --runs /tmp/final/F1/runs/unet1 /tmp/final/F1/runs/lunet@recipe=paper --threads 1
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


def _passes_for_run(run: Path, threads: int, cache: Path | None) -> dict:
    """Validation and test patients' passes of a run (read from ``cache`` when it holds them)."""
    from lunet.data.folds import read_fold_lists
    from lunet.evaluation.evaluate import run_settings
    from lunet.evaluation.interval_calibration import PatientPasses
    from lunet.evaluation.references import References
    from lunet.inference.backends import load_predictor
    from lunet.inference.calibrate import patient_passes, reference_values

    settings = run_settings(run)
    fold = read_fold_lists(run / "folds")[settings.fold - 1]
    refs = References(settings.data)
    name = f"{run.parent.parent.name}/{run.name}"
    path = cache / f"{name.replace('/', '_')}.json" if cache else None
    if path is not None and path.is_file():
        data = json.loads(path.read_text())
    else:
        predictors = [load_predictor(run, "torch", threads=threads)]
        data = {"patients": {}}
        for split, patients in (("validation", fold.val), ("test", fold.test)):
            for pid in patients:
                result = patient_passes(predictors, refs.records[pid.lower()], simpson=refs.simpson)
                data["patients"][pid] = {
                    "split": split, "names": result.names, "values": result.values.tolist(),
                    "seconds": result.seconds, "quality": refs.quality(pid.lower()),
                    "truth": reference_values(refs, pid.lower()),
                }  # fmt: skip
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data))
    out = {"name": name, "validation": [], "test": []}
    for pid, entry in data["patients"].items():
        passes = PatientPasses(pid, np.asarray(entry["values"], dtype=np.float64), entry["names"],
                               entry["seconds"])  # fmt: skip
        out[entry["split"]].append((passes, entry["truth"], entry["quality"]))
    return out


def _ensemble(datasets: list[dict]) -> dict:
    """All runs' passes together (same patients): the first run's identity pass is the point estimate, the
    spread the SD over every run's passes; time per patient is the sum."""
    from lunet.evaluation.interval_calibration import PatientPasses

    out = {"name": "ensemble(" + " + ".join(d["name"] for d in datasets) + ")"}
    for split in ("validation", "test"):
        members = [{p.patient: (p, t, q) for p, t, q in d[split]} for d in datasets]
        out[split] = []
        for pid, (_, truth, quality) in members[0].items():
            parts = [m[pid][0] for m in members]
            values = np.concatenate([p.values for p in parts])
            names = [f"model{k}:{n.split(':', 1)[1]}" for k, p in enumerate(parts) for n in p.names]
            seconds = sum(p.seconds for p in parts)
            out[split].append((PatientPasses(pid, values, names, seconds), truth, quality))
    return out


def _measure(data: dict, level: float, score: str) -> list[dict]:
    """Rows (one per index, all test patients and Poor) of one level and score."""
    from lunet.evaluation.interval_calibration import INTERVAL_COLUMNS, calibrate_passes
    from lunet.evaluation.intervals import coverage_ci
    from lunet.inference.qc import EF_INTERVAL_WIDE_POINTS

    val = data["validation"]
    cal = calibrate_passes([v[0] for v in val], [v[1] for v in val], level, score)
    rows = []
    for stratum in ("all", "Poor"):
        test = [t for t in data["test"] if stratum == "all" or t[2] == "Poor"]
        intervals = [cal.intervals(p.point(), p.spread()) for p, _, _ in test]
        for index, (lo_name, hi_name) in INTERVAL_COLUMNS.items():
            lo = np.array([i[lo_name] for i in intervals])
            hi = np.array([i[hi_name] for i in intervals])
            truth = np.array([t[1][index] for t in test])
            ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(truth)
            hits = int(((lo <= truth) & (truth <= hi))[ok].sum())
            n = int(ok.sum())
            ci = coverage_ci(hits, n) if n else (math.nan, math.nan)
            cover = 100.0 * hits / n if n else math.nan
            rows.append({
                "model": data["name"], "score": cal.score if score != "auto" else f"auto={cal.score}",
                "level %": 100 * level, "set": f"test {stratum}", "index": INDEX_NAMES[index], "n": n,
                "coverage %": cover, "CI low": 100 * ci[0], "CI high": 100 * ci[1],
                "within ±5": "yes" if abs(cover - 100 * level) <= 5 else "NO",
                "mean width": float(np.mean((hi - lo)[ok])) if n else math.nan,
                "wide %": 100.0 * float(np.mean((hi - lo)[ok] > EF_INTERVAL_WIDE_POINTS)) if n else math.nan,
                "q": cal.indices[index].quantile,
            })  # fmt: skip
    return rows


def _resampled(data: dict, level: float, score: str, repeats: int = 1000) -> dict[str, tuple[float, ...]]:
    """Sensitivity analysis (not the held-out protocol): the validation and test patients pooled, ``repeats``
    random splits into as many calibration patients as the run has and the rest: per index, the coverage mean
    and its 5th/95th percentiles over the splits (how much one 20-patient calibration moves the coverage)."""
    from lunet.evaluation.interval_calibration import INTERVAL_COLUMNS, calibrate_passes

    pool = data["validation"] + data["test"]
    n_cal = len(data["validation"])
    rng = np.random.default_rng(0)
    rates: dict[str, list[float]] = {k: [] for k in INTERVAL_COLUMNS}
    for _ in range(repeats):
        order = rng.permutation(len(pool))
        cal = calibrate_passes([pool[i][0] for i in order[:n_cal]], [pool[i][1] for i in order[:n_cal]],
                               level, score)  # fmt: skip
        hits: dict[str, list[bool]] = {k: [] for k in INTERVAL_COLUMNS}
        for i in order[n_cal:]:
            passes, truth, _ = pool[i]
            interval = cal.intervals(passes.point(), passes.spread())
            for index, (lo, hi) in INTERVAL_COLUMNS.items():
                if math.isfinite(interval[lo]) and math.isfinite(truth[index]):
                    hits[index].append(interval[lo] <= truth[index] <= interval[hi])
        for index in INTERVAL_COLUMNS:
            rates[index].append(100.0 * float(np.mean(hits[index])))
    return {
        k: (float(np.mean(v)), float(np.percentile(v, 5)), float(np.percentile(v, 95)))
        for k, v in rates.items()
    }


def _int8(run: Path, data: dict, patients: int, threads: int) -> None:
    """INT8 (``lunet export --int8``, a copy of the run's bundle): (1) every validation and test patient's
    passes through the INT8 model; EF coverage at 90 % (normalised) when calibrated on the INT8 passes of the
    validation patients and when the torch calibration is applied to INT8 predictions (what happens if the
    bundle is calibrated with torch and predicts in INT8); (2) ``lunet predict --backend int8`` on
    ``patients`` test patients with the INT8 calibration (7 passes) and with ``--no-intervals`` (1 pass):
    wall time per patient (4 frames, masks, JSON; no overlays)."""
    import shutil
    import tempfile

    from lunet.evaluation.evaluate import run_settings
    from lunet.evaluation.interval_calibration import calibrate_passes, write_calibration
    from lunet.evaluation.references import References
    from lunet.inference.backends import load_predictor
    from lunet.inference.calibrate import patient_passes
    from lunet.inference.predict import PredictOptions, predict_paths
    from lunet.inference.quantize import export_int8

    refs = References(run_settings(run).data)
    names = [n.split(":", 1)[1] for n in data["validation"][0][0].names]
    val = data["validation"]
    torch_cal = calibrate_passes([v[0] for v in val], [v[1] for v in val], 0.90, "normalised", names)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        bundle.mkdir()
        for name in ("model.json", "model.safetensors", "config.json"):
            shutil.copy(run / name, bundle / name)
        start = time.perf_counter()
        export_int8(bundle)
        print(f"\nINT8 export of {run}: {time.perf_counter() - start:.0f} s")
        predictor = load_predictor(bundle, "int8", threads=threads)
        int8 = {split: [(patient_passes([predictor], refs.records[p.patient], simpson=refs.simpson), t, q)
                        for p, t, q in data[split]] for split in ("validation", "test")}  # fmt: skip
        int8_cal = calibrate_passes([v[0] for v in int8["validation"]], [v[1] for v in int8["validation"]],
                                    0.90, "normalised", names)  # fmt: skip
        for label, cal in (("INT8-calibrated", int8_cal), ("torch-calibrated", torch_cal)):
            hits, widths = [], []
            for passes, truth, _ in int8["test"]:
                interval = cal.intervals(passes.point(), passes.spread())
                lo, hi = interval["ef_lo_percent"], interval["ef_hi_percent"]
                if math.isfinite(lo) and math.isfinite(truth["ef_percent"]):
                    hits.append(lo <= truth["ef_percent"] <= hi)
                    widths.append(hi - lo)
            print(f"INT8 passes, {label} (q = {cal.indices['ef_percent'].quantile:.2f}): EF coverage at 90 % "
                  f"{100 * np.mean(hits):.0f} % of {len(hits)} test patients, "
                  f"mean width {np.mean(widths):.1f} points")  # fmt: skip
        sd_torch = np.nanmedian([p.spread()["ef_percent"] for p, _, _ in data["test"]])
        sd_int8 = np.nanmedian([p.spread()["ef_percent"] for p, _, _ in int8["test"]])
        seconds = np.median([p.seconds for p, _, _ in int8["validation"] + int8["test"]])
        print(f"median EF SD over the passes: torch {sd_torch:.2f}, INT8 {sd_int8:.2f} points; INT8 passes "
              f"{seconds:.2f} s per patient (7 passes x 4 frames, library call)")  # fmt: skip
        write_calibration(bundle, int8_cal)
        inputs = [str(refs.records[p.patient].directory) for p, _, _ in data["test"][:patients]]
        for intervals in (False, True):
            options = PredictOptions(backend="int8", threads=threads, overlay=False, progress=False,
                                     intervals=intervals)  # fmt: skip
            start = time.perf_counter()
            result = predict_paths(bundle, inputs, Path(tmp) / f"out{int(intervals)}", options)
            per_patient = (time.perf_counter() - start) / len(inputs)
            sample = json.loads(result.patients[0].read_text())
            mode = "7 passes (normalised calibration)" if intervals else "1 pass (--no-intervals)"
            print(f"lunet predict --backend int8, {len(inputs)} test patients, {mode}: "
                  f"{per_patient:.2f} s per patient; {sample['patient_id']}: "
                  f"EF {sample['ef_percent']:.1f} %, interval {sample['ef_interval_percent']}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", nargs="+", type=Path, required=True, help="finished run folders")
    parser.add_argument("--ensemble", action="store_true", help="also all --runs together as one ensemble")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping the passes for reruns")
    parser.add_argument(
        "--int8-patients",
        type=int,
        default=0,
        help="time INT8 predict (with and without intervals) of the first run on N test patients",
    )
    parser.add_argument("--resamples", type=int, default=1000, help="random calibration splits (sensitivity)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    print_header("EF / EDV / ESV split-conformal intervals (SYNTHETIC phantom, not CAMUS)")
    from lunet.inference.tta import DEFAULT_PASSES

    print(f"passes per model: {len(DEFAULT_PASSES)} ({', '.join(p.name for p in DEFAULT_PASSES)}); "
          f"torch CPU, {args.threads} thread(s)")  # fmt: skip
    datasets = []
    for run in args.runs:
        start = time.perf_counter()
        datasets.append(_passes_for_run(run, args.threads, args.cache))
        print(f"{run}: passes in {time.perf_counter() - start:.0f} s")
    if args.ensemble and len(args.runs) > 1:
        datasets.append(_ensemble(datasets))
    for data in datasets:
        n_poor = sum(t[2] == "Poor" for t in data["test"])
        print(f"\n### {data['name']}: calibration on {len(data['validation'])} validation patients, "
              f"coverage on {len(data['test'])} test patients ({n_poor} Poor), vs the truth")  # fmt: skip
        seconds = [p.seconds for p, _, _ in data["validation"] + data["test"]]
        n_pass = len(data["test"][0][0].names)
        print(f"time per patient, {n_pass} passes x 4 frames: median {np.median(seconds):.2f} s "
              f"(one pass ~{np.median(seconds) / n_pass:.2f} s)")  # fmt: skip
        sd = np.array([p.spread()["ef_percent"] for p, _, _ in data["test"]])
        err = np.array([abs(p.point()["ef_percent"] - t["ef_percent"]) for p, t, _ in data["test"]])
        print(f"test EF: |error| median {np.nanmedian(err):.2f} points, "
              f"pass SD median {np.nanmedian(sd):.2f}; "
              f"Spearman(|error|, SD) = {_spearman(err, sd):.2f}")  # fmt: skip
        rows = []
        for score in ("absolute", "normalised", "auto"):
            for level in LEVELS:
                rows += _measure(data, level, score)
        cols = ["score", "level %", "set", "index", "n", "coverage %", "CI low", "CI high", "within ±5",
                "mean width", "wide %", "q"]  # fmt: skip
        print_table([r for r in rows if r["index"] == "EF %"], cols, digits=1)
        print()
        print_table([r for r in rows if r["index"] != "EF %"], [*cols[:-2], "q"], digits=1)
        print(f"\nsensitivity (validation + test pooled, {args.resamples} random {len(data['validation'])}-"
              "patient calibrations; NOT held-out): coverage mean [5th, 95th percentile]")  # fmt: skip
        for score in ("absolute", "normalised"):
            for level in LEVELS:
                found = _resampled(data, level, score, args.resamples)
                cells = "; ".join(
                    f"{INDEX_NAMES[k]} {m:.1f} [{lo:.1f}, {hi:.1f}]" for k, (m, lo, hi) in found.items()
                )
                print(f"  {score:10s} {100 * level:.0f} %: {cells}")
    if args.int8_patients:
        _int8(args.runs[0], datasets[0], args.int8_patients, args.threads)
    return 0


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[ok], b[ok]).statistic) if ok.sum() > 2 else math.nan


if __name__ == "__main__":
    raise SystemExit(main())
