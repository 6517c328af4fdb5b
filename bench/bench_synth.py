"""Throughput of the synthetic echo phantom: annotated images per second, native-like and 256×256.

Usage: ``python bench/bench_synth.py [--patients N] [--workers W] [--sizes native 256]``.
Each patient has 4 annotated images (2CH/4CH × ED/ES) plus 2 half sequences; the figure reported is
annotated images per second including every file written (sequences, labels, cfg, truth).
Target (hard phantom, issue 14): 500 patients (2000 annotated images) at native size in ≤ 180 s on 2 cores,
one worker per core. On a shared machine the CPU seconds per patient (printed) give the idle-machine figure.
``--sequence-frames realistic`` measures the heavier option (10–30 frames ED → ES per view). With
``PYTHONPATH`` set to another tree's ``src`` (e.g. the first phantom's commit) it measures that generator.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from lunet.data.synthetic.generate import default_workers, generate_dataset
from lunet.data.synthetic.patient import render_patient


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (load-independent cost)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _render(job: tuple[int, int, str]) -> int:
    index, seed, size = job
    render_patient(index, seed, size)
    return index


def render_only(patients: int, workers: int, sizes: list[str], seed: int) -> int:
    """Rendering throughput without file writing (no SimpleITK needed)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    for size in sizes:
        jobs = [(i, seed, size) for i in range(1, patients + 1)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(_render, jobs[:workers]))  # warm the workers up (imports)
            t0 = time.perf_counter()
            list(pool.map(_render, jobs, chunksize=max(1, patients // (4 * workers))))
            wall = time.perf_counter() - t0
        print(
            f"render-only size={size:6s} patients={patients} workers={workers}: {wall:.1f} s, "
            f"{4 * patients / wall:.1f} annotated images/s -> 500 patients in ≈{500 / patients * wall:.0f} s"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--sizes", nargs="+", default=["native", "256"], choices=["native", "256"])
    parser.add_argument("--format", default="nifti", choices=["nifti", "mhd"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render-only", action="store_true", help="render in memory, write nothing")
    parser.add_argument("--sequence-frames", default="short", choices=["short", "realistic"])
    args = parser.parse_args(argv)
    workers = args.workers or default_workers()
    if args.render_only:
        return render_only(args.patients, workers, args.sizes, args.seed)
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
            t0 = time.perf_counter()
            cpu0 = _cpu_seconds()
            extra = {} if args.sequence_frames == "short" else {"sequence_frames": args.sequence_frames}
            generate_dataset(Path(tmp) / "ds", args.patients, fmt=args.format, size=size, seed=args.seed,
                             workers=workers, progress=False, **extra)  # fmt: skip
            wall = time.perf_counter() - t0
            n_images = 4 * args.patients
            per_500 = 500 / args.patients * wall
            cpu = (_cpu_seconds() - cpu0) / args.patients
            print(
                f"size={size:6s} sequence={args.sequence_frames} patients={args.patients} workers={workers}: "
                f"{wall:.1f} s, "
                f"{n_images / wall:.1f} annotated images/s -> 500 patients in ≈{per_500:.0f} s; "
                f"CPU {cpu:.2f} s/patient -> 500 patients on 2 idle cores ≈{500 * cpu / 2:.0f} s"
            )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
