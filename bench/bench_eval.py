"""Benchmark of the evaluation metrics: Dice, d_m, d_H (LV_Endo, LV_Epi) and shape scores per image.

Images are random perturbed ellipses (LV cavity inside a myocardium ring) on a 256×256 grid, anisotropic
spacing. The distances of a subset are recomputed with MedPy (``hd``/``assd``) for a speed ratio and an
agreement check. Run: ``python bench/bench_eval.py [--n 2000] [--subset 100]``; prints figures, exits 0.
CPU time is printed next to wall time because the wall time is meaningless on a shared machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lunet.evaluation.clinical import simpson_biplane_ml
from lunet.evaluation.records import score_image
from lunet.evaluation.segmentation import segmentation_scores

SPACING = (0.6, 0.45)


def random_labels(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """(size, size) uint8: LV (1) inside MYO (2), a perturbed ellipse with a random centre and radii."""
    r = np.arange(size)[:, None] - size * rng.uniform(0.4, 0.6)
    c = np.arange(size)[None, :] - size * rng.uniform(0.4, 0.6)
    angle = np.arctan2(r, c)
    a, b = size * rng.uniform(0.18, 0.3), size * rng.uniform(0.1, 0.18)
    wobble = 1 + sum(rng.normal(0, 0.03) * np.cos(k * angle + rng.uniform(0, 6.3)) for k in range(2, 6))
    rho = np.sqrt((r / a) ** 2 + (c / b) ** 2) / wobble
    labels = np.zeros((size, size), np.uint8)
    labels[rho <= 1.0 + rng.uniform(0.12, 0.2)] = 2
    labels[rho <= 1.0] = 1
    return labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of image pairs (2000)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--subset", type=int, default=100, help="pairs recomputed with MedPy (100)")
    parser.add_argument("--volumes", type=int, default=100, help="Simpson volumes timed (100)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pairs = [(random_labels(rng, args.size), random_labels(rng, args.size)) for _ in range(args.n)]

    start, cpu = time.perf_counter(), time.process_time()
    for pred, ref in pairs:
        segmentation_scores(pred, ref, SPACING)
    seg_s, seg_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    rows = [score_image(pred, ref, SPACING) for pred, ref in pairs]
    all_s, all_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{args.n} images {args.size}x{args.size}, one process:")
    print(f"  Dice + d_m + d_H (LV_Endo, LV_Epi): wall {seg_s:.2f} s, CPU {seg_cpu:.2f} s "
          f"({1000 * seg_cpu / args.n:.2f} ms/image CPU)")  # fmt: skip
    print(f"  all metrics incl. shape (Sp, Cx, components, holes of LV and Myo): wall {all_s:.2f} s, "
          f"CPU {all_cpu:.2f} s ({1000 * all_cpu / args.n:.2f} ms/image CPU)")  # fmt: skip
    simpson_cpu = time.process_time()
    for pred, _ in pairs[: args.volumes]:
        base = int(np.flatnonzero(pred.any(axis=1)).mean())  # cut the cavity: a flat mitral plane
        lv = (pred == 1) & (np.arange(args.size)[:, None] <= base)
        simpson_biplane_ml(lv, SPACING, lv.T.copy(), SPACING[::-1])
    simpson_cpu = time.process_time() - simpson_cpu
    print(f"  Simpson's biplane volume (2 views): {1000 * simpson_cpu / args.volumes:.1f} ms/volume CPU")
    try:
        from medpy.metric.binary import assd, hd
    except ImportError:
        print("medpy not installed: no comparison")
        return 0
    subset = pairs[: args.subset]
    start = time.perf_counter()
    ref_values = []
    for pred, ref in subset:
        for label in (1, (1, 2)):
            p, r = np.isin(pred, label), np.isin(ref, label)
            ref_values += [assd(p, r, voxelspacing=SPACING), hd(p, r, voxelspacing=SPACING)]
    medpy_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = []
    for pred, ref in subset:
        s = segmentation_scores(pred, ref, SPACING)
        ours += [s["lv_endo_mad_mm"], s["lv_endo_hd_mm"], s["lv_epi_mad_mm"], s["lv_epi_hd_mm"]]
    ours_s = time.perf_counter() - start
    diff = np.max(np.abs(np.asarray(ours) - np.asarray(ref_values)))
    print(f"MedPy on {len(subset)} pairs (d_m + d_H, 2 structures): {medpy_s:.2f} s; ours {ours_s:.2f} s "
          f"(x{medpy_s / ours_s:.1f} faster); max |difference| {diff:.2e} mm")  # fmt: skip
    print(f"mean LV_Epi d_m {np.mean([r['lv_epi_mad_mm'] for r in rows]):.2f} mm, "
          f"mean LV simplicity {np.nanmean([r['lv_simplicity'] for r in rows]):.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
