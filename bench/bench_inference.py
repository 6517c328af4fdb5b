"""Inference speed: ms per image, torch eager vs ONNX Runtime, against the FLOP floor of this machine.

For each model (default ``unet1`` and ``lunet``; ``--all`` for every registered model that predicts from an
image alone) at ``--size`` (256): FLOPs per image (``torch.utils.flop_counter.FlopCounterMode``: convolutions
and matmuls; the crop's ``grid_sample`` is not counted), the matmul throughput measured in the same
run (float32 ``--matmul``² ``torch.matmul`` on the same threads), the floor = FLOPs / throughput, and
the median ms per image of torch eager, ONNX Runtime with a dynamic batch export and ONNX Runtime with a
fixed-batch export, at batch 1 and 8, with the ratio to the floor. Random weights (speed does not depend on
them).

``--stream N`` instead runs ``predict_paths`` on N synthetic PNG frames (sizes 300–420 × 250–380, ONNX
backend, overlays on) and prints images/s and the peak RSS of the process (``resource.getrusage``), to check
that memory stays bounded however many images are streamed.

Run: ``python bench/bench_inference.py [--all] [--size 256] [--threads N] [--device cuda]``; prints a table,
exits 0.
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lunet.bundle import save_bundle
from lunet.data.preprocess import crop_source_size
from lunet.inference.export import export_onnx
from lunet.models import MODELS, create_model
from lunet.models.outputs import final_logits, predicted_box
from lunet.models.roi import uses_crop_source
from lunet.predictor import make_session, physical_cores


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, repeats: int, device: str = "cpu") -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after two warm-up runs."""
    for _ in range(2):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_flops_per_s(n: int, device: str, repeats: int = 10) -> float:
    """Best measured float32 matmul throughput (FLOP/s) of an n×n product on this device and thread setting.

    The best of ``repeats`` runs (not the median): the floor is what the hardware can do when it is not
    disturbed, so other load on a shared machine inflates the ratios rather than hiding a slow model.
    """
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = min(timed(lambda: torch.matmul(a, b), 1, device) for _ in range(repeats))
    return 2.0 * n**3 / best


def flops_per_image(model: torch.nn.Module, size: int) -> float:
    """FLOPs of one forward pass at batch 1 (convolutions, matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    return float(counter.get_total_flops())


def _outputs(out: object) -> tuple[torch.Tensor, ...]:
    try:
        return (final_logits(out),)
    except TypeError:
        return (predicted_box(out),)


def bench_model(name: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, object]]:
    torch.manual_seed(0)
    model = create_model(name).eval()
    native = uses_crop_source(model)
    flops = flops_per_image(model, args.size)
    folder = save_bundle(tmp / name, model, {"model": name, "size": args.size})
    model = model.to(args.device)
    rows = []
    sessions = {"ort": make_session(export_onnx(folder, tmp / f"{name}.onnx"), threads=args.threads)}
    for batch in args.batches:
        x = torch.rand(batch, 1, args.size, args.size, device=args.device)
        side = crop_source_size(args.size)  # LU-Net crops its ROI from the frame at 2S
        extra = {"crop_source": torch.rand(batch, 1, side, side, device=args.device)} if native else {}
        if args.channels_last:
            model = model.to(memory_format=torch.channels_last)
            x = x.to(memory_format=torch.channels_last)
        with torch.inference_mode():
            eager = timed(lambda: _outputs(model(x, **extra)), args.repeats, args.device)  # noqa: B023
        row = {"model": name, "batch": batch, "gflop": flops / 1e9,
               "torch_ms": eager * 1e3 / batch}  # fmt: skip
        if not args.no_onnx:
            fixed = export_onnx(folder, tmp / f"{name}_b{batch}.onnx", fixed_batch=batch)
            sessions[f"fixed{batch}"] = make_session(fixed, threads=args.threads)
            feed = {k: v.float().contiguous().cpu().numpy() for k, v in {"image": x, **extra}.items()}
            for key, column in (("ort", "ort_ms"), (f"fixed{batch}", "ort_fixed_ms")):
                run = sessions[key].run
                row[column] = timed(lambda r=run, f=feed: r(None, f), args.repeats) * 1e3 / batch
        rows.append(row)
    return rows


def stream(n: int, tmp: Path, threads: int | None) -> None:
    """Predict N synthetic frames with the ONNX back-end; print images/s and peak RSS."""
    from PIL import Image

    from lunet.inference.predict import PredictOptions, predict_paths

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    folder = save_bundle(tmp / "unet1", create_model("unet1").eval(), {"model": "unet1", "size": 256})
    export_onnx(folder)
    inputs = tmp / "inputs"
    for k in range(n):
        rows, cols = int(rng.integers(300, 421)), int(rng.integers(250, 381))
        image = rng.integers(0, 255, (rows, cols)).astype(np.uint8)
        inputs.mkdir(exist_ok=True)
        Image.fromarray(image, mode="L").save(inputs / f"img{k:05d}.png")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    options = PredictOptions(
        spacing=(0.3, 0.2), backend="onnx", batch_size=8, threads=threads, progress=False
    )
    result = predict_paths(folder, [inputs], tmp / "out", options)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = result.n_done / elapsed
    print(f"stream: {result.n_done} frames ({result.n_failed} failed) in {elapsed:.1f} s = {rate:.2f} img/s; "
          f"peak RSS {peak:.0f} MiB (before predicting {rss_before:.0f} MiB)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["unet1", "lunet"])
    parser.add_argument(
        "--all", action="store_true", help="every registered model that needs no reference box"
    )
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: physical cores)")
    parser.add_argument("--matmul", type=int, default=2048, help="side of the matmul measuring throughput")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda (ORT runs where it can)")
    parser.add_argument(
        "--channels-last", action="store_true", help="torch eager in channels-last memory format"
    )
    parser.add_argument("--no-onnx", action="store_true", help="torch eager only")
    parser.add_argument("--stream", type=int, default=0, help="stream N frames through predict; report RSS")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.threads = args.threads or physical_cores()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.stream:
            stream(args.stream, tmp, args.threads)
            return 0
        names = [n for n, s in MODELS.items() if not s.needs_reference_box] if args.all else args.models
        throughput = matmul_flops_per_s(args.matmul, args.device)
        results = [row for name in names for row in bench_model(name, args, tmp)]
        throughput = max(throughput, matmul_flops_per_s(args.matmul, args.device))  # again, after the models
    print(f"device {args.device}, {args.threads} threads, torch {torch.__version__}; "
          f"matmul {args.matmul}² float32 (best): {throughput / 1e9:.1f} GFLOP/s")  # fmt: skip
    header = f"{'model':<12}{'batch':>6}{'GFLOP/img':>10}{'floor ms':>10}{'torch ms':>10}{'ORT ms':>9}"
    print(header + f"{'ORT-fix ms':>11}{'torch/fl':>9}{'ORT/fl':>8}{'ORTfix/fl':>10}")
    for row in results:
        floor = row["gflop"] * 1e9 / throughput * 1e3
        eager, ort, fix = (
            row["torch_ms"],
            row.get("ort_ms", float("nan")),
            row.get("ort_fixed_ms", float("nan")),
        )
        line = (
            f"{row['model']:<12}{row['batch']:>6}{row['gflop']:>10.2f}{floor:>10.1f}{eager:>10.1f}{ort:>9.1f}"
        )
        print(line + f"{fix:>11.1f}{eager / floor:>9.2f}{ort / floor:>8.2f}{fix / floor:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
