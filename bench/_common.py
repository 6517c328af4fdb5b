"""Shared helpers of the lunet benchmarks: machine description, timing, phantom data, a plain-text table.

Imported by ``bench/bench_data.py``, ``bench/bench_training.py`` and ``bench/bench_accuracy.py`` (run as
``python bench/<script>.py``, so ``bench/`` is on ``sys.path``). Benchmarks print their figures (that is their
output); the library itself never prints.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
import subprocess
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    """``lscpu`` model name (or ``platform.processor()`` when lscpu is missing)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    for line in text.splitlines():
        if line.strip().lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def load_average() -> float:
    """1-minute load average (NaN where unavailable)."""
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")


def machine_line(device: str = "cpu") -> str:
    """One line: UTC date, CPU model, usable cores, torch/lightning versions, GPU name, load average."""
    import torch

    try:
        import lightning

        lightning_version = lightning.__version__
    except ImportError:  # pragma: no cover
        lightning_version = "-"
    parts = [
        _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        f"CPU {cpu_model()}, {usable_cores()} usable cores, torch threads {torch.get_num_threads()}",
        f"torch {torch.__version__}, lightning {lightning_version}",
    ]
    if device.startswith("cuda") and torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    parts.append(f"load average {load_average():.1f}")
    return "; ".join(parts)


def load_note() -> str:
    """A warning when other jobs share the machine (1-min load above 1.25 per usable core), else ''."""
    load, cores = load_average(), usable_cores()
    if load == load and load > 1.25 * cores:
        return f"NOTE: machine shared with other jobs (load {load:.1f} on {cores} cores): figures are low"
    return ""


def print_header(title: str, device: str = "cpu") -> None:
    """Title, machine line and the shared-machine note."""
    print(f"## {title}")
    print(machine_line(device))
    note = load_note()
    if note:
        print(note)


def setup_torch(device: str, threads: int | None) -> str:
    """Set torch's CPU threads (default: usable cores); check the device; return it."""
    import torch

    torch.set_num_threads(threads or usable_cores())
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {device}: CUDA is not available on this machine")
    return device


def sync(device: str) -> None:
    """Wait for queued GPU work (no-op on CPU) so that wall-clock timings are complete."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def best_of(fn: Callable[[], float], repeats: int) -> float:
    """Lowest of ``repeats`` calls of ``fn`` returning seconds (the least disturbed by other jobs)."""
    return min(fn() for _ in range(max(1, repeats)))


class Stopwatch:
    """Wall and CPU seconds of a ``with`` block (``.wall``, ``.cpu``; CPU includes finished children)."""

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), _cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = _cpu_seconds() - self._cpu


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def quiet_lightning() -> None:
    """Silence Lightning's info lines, its data-loader hints and lunet's per-image warnings (Simpson...)."""
    import lightning.pytorch  # noqa: F401  (it sets its loggers' levels on import: import first, then override)

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("lunet").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*number of training batches.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="lightning")


def make_phantom(
    out: Path, patients: int, size: str = "256", seed: int = 0, workers: int | None = None, **options: Any
) -> Path:
    """Write ``patients`` phantom patients (CAMUS NIfTI layout) under ``out``; returns the root.

    ``options`` go to :func:`lunet.data.synthetic.generate.generate_dataset` (e.g. ``annotation_sd_mm``).
    """
    from lunet.data.synthetic.generate import generate_dataset

    return generate_dataset(out, patients, size=size, seed=seed, workers=workers, progress=False, **options)


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    """``"met"`` or ``"NOT met"`` for ``value`` against ``target``."""
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "NOT met"


def fmt(value: Any, digits: int = 2) -> str:
    """Numbers with ``digits`` decimals (NaN → '-'), everything else ``str``."""
    if isinstance(value, float):
        return "-" if value != value else f"{value:.{digits}f}"
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], digits: int = 2) -> None:
    """Fixed-width table of ``rows`` (dicts) over ``columns`` (keys, used as headers)."""
    cells = [[fmt(row.get(c, ""), digits) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths))))
    for r in cells:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
