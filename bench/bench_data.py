"""Data benchmark: phantom generation, cache building, and batch loading from the preprocessed cache.

1. Phantom generation (``lunet.data.synthetic.generate_dataset``, the code of ``lunet synth``): annotated
   images/s at the native-like size and at 256×256 (4 annotated images per patient, every file written).
2. Cache building (``lunet.data.cache.build_cache``, the code of ``lunet preprocess``): frames/s.
3. Loading alone, no model: images/s reading training batches of ``--batch`` frames through lunet's
   ``CacheDataModule.train_dataloader()`` (the loader ``lunet train`` uses: seeded shuffling, one dict per
   frame, reference boxes, default collate), against the same-run baseline of raw ``numpy`` memmap slicing of
   the same ``images.npy`` / ``labels.npy`` in the same shuffled batches (sorted fancy indexing, then
   ``torch.from_numpy``). Page cache warm (the whole cache is read once first); best of ``--repeats``.
   Target: ≥ 500 images/s at 256×256 with the default loader (``num_workers=0``).

Run: ``python bench/bench_data.py [--quick] [--patients 32] [--size 256] [--batch 16] [--workers 0 2]``.
Prints the figures, exits 0. Data are synthetic (phantom), which changes nothing for the loading speed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from _common import Stopwatch, make_phantom, print_header, print_table, setup_torch, usable_cores, verdict

TARGET_IMAGES_PER_S = 500.0


def raw_memmap_pass(cache_dir: Path, order: np.ndarray, batch: int) -> int:
    """Baseline: read ``order`` in batches by slicing the raw memmaps; returns the images read."""
    images = np.load(cache_dir / "images.npy", mmap_mode="r")
    labels = np.load(cache_dir / "labels.npy", mmap_mode="r")
    done = 0
    for start in range(0, len(order), batch):
        idx = np.sort(order[start : start + batch])
        x = torch.from_numpy(np.ascontiguousarray(images[idx]))[:, None]
        y = torch.from_numpy(labels[idx].astype(np.int64))
        done += len(x) if y.shape[0] == len(x) else 0
    return done


def loader_pass(loader: torch.utils.data.DataLoader, epoch: int) -> int:
    """One epoch of lunet's training loader; returns the images read."""
    loader.sampler.set_epoch(epoch)  # type: ignore[union-attr]
    done = 0
    for batch in loader:
        done += len(batch["image"])
    return done


def rate(fn, images: int, repeats: int) -> float:
    """Best images/s of ``repeats`` runs of ``fn(epoch) -> images read``, each run reading ≥ ``images``."""
    best = 0.0
    for _ in range(max(1, repeats)):
        start, done, epoch = time.perf_counter(), 0, 0
        while done < images:
            done += fn(epoch)
            epoch += 1
        best = max(best, done / (time.perf_counter() - start))
    return best


def bench_generation(tmp: Path, args: argparse.Namespace) -> Path:
    """Time phantom generation at each size; returns the 256×256 set (the cache's source)."""
    rows, source = [], None
    for size in ("native", "256"):
        n = args.patients if size == "256" else args.synth_patients
        with Stopwatch() as sw:
            root = make_phantom(
                tmp / f"phantom_{size}", n, size=size, seed=args.seed, workers=args.gen_workers
            )
        workers = args.gen_workers or usable_cores()
        rows.append({"phantom size": size, "patients": n, "workers": workers, "wall s": sw.wall,
                     "images/s": 4 * n / sw.wall, "CPU s/patient": sw.cpu / n})  # fmt: skip
        if size == "256":
            source = root
    print("\nPhantom generation (lunet synth), annotated images (4 per patient), all files written:")
    print_table(rows, ["phantom size", "patients", "workers", "wall s", "images/s", "CPU s/patient"])
    assert source is not None
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--patients", type=int, default=32, help="phantom patients in the cache (4 frames each)"
    )
    parser.add_argument("--synth-patients", type=int, default=8, help="patients generated at native size")
    parser.add_argument("--size", type=int, default=256, help="cache side in pixels")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2], help="DataLoader num_workers values"
    )
    parser.add_argument("--images", type=int, default=2048, help="images read per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--gen-workers", type=int, default=None, help="phantom processes (default: all cores)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="smoke check: tiny data, one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.patients, args.synth_patients, args.images, args.repeats = 4, 2, 256, 1
        args.workers = [0]
    setup_torch("cpu", args.threads)
    print_header("bench_data: phantom generation, cache building, batch loading")
    from lunet.config import AugmentConfig
    from lunet.data.cache import CachedImages, build_cache
    from lunet.training.datamodule import CacheDataModule

    with tempfile.TemporaryDirectory(prefix="bench_data_") as name:
        tmp = Path(name)
        root = bench_generation(tmp, args)
        with Stopwatch() as sw:
            cache_dir = build_cache(root, tmp / "cache", size=args.size, workers=args.gen_workers)
        n_frames = len(CachedImages(cache_dir))
        print(f"\nCache building (lunet preprocess) at {args.size}×{args.size}: {n_frames} frames in "
              f"{sw.wall:.1f} s = {n_frames / sw.wall:.1f} frames/s")  # fmt: skip

        cache = CachedImages(cache_dir)
        patients = sorted({e["patient_id"] for e in cache.index})
        fold = SimpleNamespace(train=patients, val=[], test=[])
        order_rng = np.random.default_rng(args.seed)
        raw_memmap_pass(cache_dir, np.arange(n_frames), args.batch)  # warm the page cache
        baseline = rate(lambda e: raw_memmap_pass(cache_dir, order_rng.permutation(n_frames), args.batch),
                        args.images, args.repeats)  # fmt: skip
        rows = [{"reader": "raw numpy memmap slicing (baseline)", "workers": 0,
                 "torch threads": torch.get_num_threads(), "images/s": baseline,
                 "vs baseline": 1.0, "target": "-"}]  # fmt: skip
        variants = [(w, False, None) for w in args.workers] + [(0, False, 1), (0, True, None)]
        threads = torch.get_num_threads()
        for workers, augment, loader_threads in variants:
            torch.set_num_threads(loader_threads or threads)
            data = CacheDataModule(str(cache_dir), fold, args.batch, 0.05, args.seed, workers,
                                   AugmentConfig(enabled=augment))  # fmt: skip
            data.setup("fit")
            loader = data.train_dataloader()
            value = rate(lambda e, ld=loader: loader_pass(ld, e), args.images, args.repeats)
            torch.set_num_threads(threads)
            label = "lunet CacheDataModule.train_dataloader" + (" + augment" if augment else "")
            plain = not (augment or workers or loader_threads)
            target = f"≥ {TARGET_IMAGES_PER_S:.0f}: {verdict(value, TARGET_IMAGES_PER_S)}" if plain else "-"
            rows.append({"reader": label, "workers": workers, "torch threads": loader_threads or threads,
                         "images/s": value, "vs baseline": value / baseline, "target": target})  # fmt: skip
        print(f"\nLoading {args.size}×{args.size} training batches of {args.batch} from the cache "
              f"({n_frames} frames, {cache.images.nbytes / 2**20:.0f} MiB images, warm page cache; "
              f"best of {args.repeats}, ≥ {args.images} images each):")  # fmt: skip
        print_table(
            rows, ["reader", "workers", "torch threads", "images/s", "vs baseline", "target"], digits=1
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
