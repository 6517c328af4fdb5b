"""Peak memory and time of ``lunet predict`` on large legitimate frames and on hostile files (issue 17).

Each case runs in a fresh child process: ``lunet predict`` on a 64 × 64 frame first (imports, model), then on
the case while a thread samples the resident memory (``/proc/self/statm``) every 2 ms. Printed: the
prediction's time, the process's peak RSS (``VmHWM``) and the RSS growth above the warmed-up process.
The baseline, measured in the same run, is a typical CAMUS-size frame (600 × 800) through the same model.

Cases: legitimate 2000 × 3000 uint8 frame (target ≤ 1.5 GB peak), a 140 KB PNG of 12000 × 12000 (the issue's
case: 40 s / 4.9 GB before size limits), an MHD of 20000 × 20000 (sparse 400 MB ``.raw``; 75 s / 13.3 GB
before), a ``.nii.gz`` inflating to 1 GB behind a 64 × 64 header. Random-weight models at 256 × 256: the cost
is the pipeline's, not the weights'.

``--cine``: a 1000-frame DICOM cine (600 × 800 uint8, 458 MiB decoded) read whole for ``--sequence``, each
case in a fresh process under ``/usr/bin/time -v`` (peak RSS = its "Maximum resident set size"): the reader
before issue 24 (frames listed, stacked, then converted to float32 — reproduced here for the comparison), the
reader now (one array in the file's dtype, filled frame by frame), and ``lunet predict --sequence`` end to end
(random-weight U-Net1 at 64 × 64, ``--no-overlay``).

Usage: python bench/bench_input_memory.py [--models unet1 lunet] [--keep DIR] [--cine]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "inference"))


def _bundle(folder: Path, name: str) -> Path:
    import torch

    from lunet.bundle import save_bundle
    from lunet.models import create_model

    torch.manual_seed(0)
    return save_bundle(folder, create_model(name).eval(), {"model": name, "overrides": {}, "size": 256})


def _frame(rows: int, cols: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    rr, cc = np.mgrid[:rows, :cols]
    ring = np.exp(-(((np.hypot(rr / rows - 0.5, cc / cols - 0.5) - 0.25) / 0.05) ** 2)) * 180
    return np.clip(ring + rng.normal(40, 15, (rows, cols)), 0, 255).astype(np.uint8)


def _inputs(folder: Path) -> dict[str, Path]:
    from hostile_files import mhd_liar, nifti_gz_bomb, png_bomb

    from lunet.data.camus_io import write_image

    folder.mkdir(parents=True, exist_ok=True)
    return {
        "600x800 uint8 NIfTI (baseline)": write_image(
            folder / "typical.nii.gz", _frame(600, 800), (0.3, 0.3)
        ),
        "2000x3000 uint8 NIfTI": write_image(folder / "large.nii.gz", _frame(2000, 3000), (0.1, 0.1)),
        "4096x4096 uint8 NIfTI (at the limit)": write_image(
            folder / "limit.nii.gz", _frame(4096, 4096), (0.1, 0.1)
        ),
        "PNG bomb 12000x12000": png_bomb(folder / "bomb.png", side=12000),
        "MHD 20000x20000 (400 MB raw)": mhd_liar(folder / "big.mhd", (20000, 20000, 1), 20000 * 20000),
        ".nii.gz bomb (64x64 header, 1 GB)": nifti_gz_bomb(folder / "bomb.nii.gz", inflated_mb=1024),
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    """``VmHWM``: peak RSS since this process's ``exec`` (``ru_maxrss`` counts the forking parent too)."""
    with open("/proc/self/status") as handle:
        line = next(x for x in handle if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _child(bundle: str, path: str, out: str, warm: str) -> None:
    """In the child: warm up (imports, model) on a small frame, then predict ``path`` while sampling RSS."""
    import threading

    from lunet.cli import main as lunet_main

    args = ["--model", bundle, "--out", out, "--backend", "torch", "--no-progress", "--spacing", "0.3", "0.3"]
    lunet_main(["predict", warm, *args[:3], out + "-warm", *args[4:]])
    base, peak, stop = _rss_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    code = lunet_main(["predict", path, *args])
    seconds = time.perf_counter() - start
    stop.set()
    thread.join()
    maxrss = _peak_mb()
    print(f"RESULT {code} {seconds:.3f} {maxrss:.1f} {max(peak[0], _rss_mb()) - base:.1f}", file=sys.stderr)


def _run(bundle: Path, path: Path, out: Path, warm: Path) -> tuple[int, float, float, float]:
    """(exit status, seconds, process peak RSS MB, RSS growth while predicting MB) from a fresh child."""
    command = [sys.executable, __file__, "--child", str(bundle), str(path), str(out), str(warm)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line.split() for line in done.stderr.splitlines() if line.startswith("RESULT")]
    if not lines:
        print(done.stderr[-2000:])
        return done.returncode, float("nan"), float("nan"), float("nan")
    code, seconds, maxrss, growth = lines[-1][1:]
    return int(code), float(seconds), float(maxrss), float(growth)


def _read_cine_before(path: Path) -> np.ndarray:
    """The DICOM cine reader before issue 24: every frame read into a list, stacked, converted to float32."""
    import pydicom

    from lunet.inference.dicom import read_dicom
    from lunet.inference.inputs import InputItem

    n_frames = int(pydicom.dcmread(path, stop_before_pixels=True).NumberOfFrames)
    loaded = [read_dicom(InputItem(path, "dicom", k), None, None) for k in range(n_frames)]
    return np.stack([item.image for item in loaded]).astype(np.float32)


def _cine_child(mode: str, path: str) -> None:
    from lunet.inference.sequence_io import read_cine

    start = time.perf_counter()
    frames = _read_cine_before(Path(path)) if mode == "before" else read_cine(path).frames
    print(f"CINE {frames.shape} {frames.dtype} {frames.nbytes / 2**20:.0f} MiB "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr)  # fmt: skip


def _time_v(command: list[str]) -> tuple[int, float, str]:
    """(exit status, peak RSS MiB, the child's CINE line) of ``command`` under ``/usr/bin/time -v``."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False)
    peak = next(
        (int(x.split(":")[1]) / 1024 for x in done.stderr.splitlines() if "Maximum resident set size" in x),
        float("nan"),
    )
    wall = next((x.split(": ", 1)[1] for x in done.stderr.splitlines() if "Elapsed (wall clock)" in x), "?")
    line = next((x for x in done.stderr.splitlines() if x.startswith("CINE")), f"wall {wall}")
    return done.returncode, peak, line if line.startswith("CINE") else f"wall {wall}"


def cine_memory(work: Path, frames: int = 1000, rows: int = 600, cols: int = 800) -> None:
    """Peak RSS of reading (before / now) and predicting a long DICOM cine, each in a fresh process."""
    from inference_helpers import write_dicom

    work.mkdir(parents=True, exist_ok=True)
    path = work / "long_cine.dcm"
    if not path.is_file():
        write_dicom(path, np.stack([np.roll(_frame(rows, cols), k, axis=1) for k in range(frames)]),
                    pixel_spacing=(0.3, 0.3))  # fmt: skip
    print(f"DICOM cine: {frames} frames of {rows} × {cols} uint8, file {path.stat().st_size / 2**20:.0f} MiB")
    print(f"{'case':<52} {'exit':>4} {'peak RSS MiB':>13}  detail")
    for mode in ("before", "after"):
        code, peak, line = _time_v([sys.executable, __file__, "--cine-child", mode, str(path)])
        title = (
            "read, before (list + stack + float32)"
            if mode == "before"
            else "read, now (file dtype, in place)"
        )
        print(f"{title:<52} {code:>4} {peak:13.0f}  {line}")
    bundle = _bundle_small(work / "model-small")
    out = work / "out-cine"
    command = ["lunet", "predict", "--model", str(bundle), "--sequence", str(path), "--out", str(out),
               "--backend", "torch", "--no-overlay", "--no-progress"]  # fmt: skip
    code, peak, line = _time_v(command)
    print(f"{'lunet predict --sequence (U-Net1 at 64 px, --no-overlay)':<52} {code:>4} {peak:13.0f}  {line}")


def _bundle_small(folder: Path) -> Path:
    import torch

    from lunet.bundle import save_bundle
    from lunet.models import create_model

    torch.manual_seed(0)
    return save_bundle(folder, create_model("unet1").eval(), {"model": "unet1", "overrides": {}, "size": 64})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["unet1", "lunet"])
    parser.add_argument("--keep", default=None, help="work folder to keep (default: a temporary one)")
    parser.add_argument("--cine", action="store_true", help="only the 1000-frame DICOM cine cases")
    parser.add_argument("--child", nargs=4, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cine-child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.cine_child:
        _cine_child(*args.cine_child)
        return
    if args.cine:
        from _common import machine_line

        print(machine_line())
        cine_memory(Path(args.keep or tempfile.mkdtemp(prefix="lunet-bench-cine-")))
        return
    from _common import machine_line

    print(machine_line())
    work = Path(args.keep or tempfile.mkdtemp(prefix="lunet-bench-mem-"))
    inputs = _inputs(work / "in")
    order = list(inputs)
    from lunet.data.camus_io import write_image

    warm = write_image(work / "warm.nii.gz", _frame(64, 64), (0.3, 0.3))
    print("seconds: the prediction alone (imports and model loaded by a 64×64 warm-up in the same process)")
    print("peak RSS: the process's; growth: RSS above the warmed-up process while predicting this input")
    head = f"{'model':<7} {'input':<36} {'file MB':>8} {'exit':>4} {'seconds':>8} {'peak RSS MB':>12}"
    print(head, f"{'growth MB':>10}")
    for name in args.models:
        bundle = _bundle(work / f"model-{name}", name)
        for case in order:
            path = inputs[case]
            size = sum(p.stat().st_size for p in path.parent.glob(path.name.split(".")[0] + ".*")) / 1e6
            code, seconds, peak, growth = _run(bundle, path, work / f"out-{name}-{path.stem}", warm)
            print(f"{name:<7} {case:<36} {size:8.1f} {code:>4} {seconds:8.2f} {peak:12.0f} {growth:10.0f}")


if __name__ == "__main__":
    main()
