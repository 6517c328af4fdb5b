"""Generate a phantom dataset in the CAMUS layout, in parallel over patients.

Each patient depends only on ``(seed, index)``, so the bytes written are the same for any ``workers``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from lunet.data.synthetic.geometry import SIZES
from lunet.data.synthetic.lvot import LVOT_FRACTION
from lunet.data.synthetic.patient import DEFAULT_QUALITY_MIX, PhantomOptions, patient_id, render_patient
from lunet.data.synthetic.timing import MAX_CYCLES, SEQUENCE_FRAMES
from lunet.data.synthetic.writer import FORMATS, split_patients, write_patient, write_splits
from lunet.io import write_text_atomic

logger = logging.getLogger(__name__)


def _one(job: tuple[str, int, int, str, PhantomOptions]) -> str:
    out, index, seed, fmt, options = job
    patient = render_patient(index, seed, options.size, options)
    write_patient(out, patient, fmt)
    return patient.patient_id


def default_workers() -> int:
    """Usable cores of this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def generate_dataset(
    out: str | os.PathLike[str],
    n_patients: int,
    fmt: str = "nifti",
    size: str = "native",
    seed: int = 0,
    workers: int | None = None,
    hard_fraction: float = 0.2,
    quality_mix: tuple[float, float, float] = DEFAULT_QUALITY_MIX,
    circular: bool = False,
    intermediate_frames: int = 1,
    progress: bool | None = None,
    sequence_frames: str = "short",
    cycles: int = 0,
    annotation_sd_mm: float = 0.0,
    lvot_fraction: float = LVOT_FRACTION,
) -> Path:
    """Write ``n_patients`` phantom patients (``patient0001`` …) under ``out`` in a CAMUS layout.

    Args:
        out: dataset root (created).
        n_patients: number of patients (≥ 1).
        fmt: "nifti" (``database_nifti/`` + ``database_split/``) or "mhd" (2019 ``training/``).
        size: "native" (hundreds of pixels, 0.22–0.36 mm, some anisotropic) or "256" (256×256).
        seed: dataset seed; patient i is generated from (seed, i) alone.
        workers: processes (``None``: all usable cores; 1: in this process).
        hard_fraction: fraction of off-centre / small-in-FOV patients.
        quality_mix: weights of Good / Medium / Poor patients.
        circular: circular LV sections (b1 = b2) for exact Simpson tests.
        intermediate_frames: rendered frames between ED and ES in a "short" half sequence (≥ 0).
        progress: tqdm progress bar (``None``: only when stderr is a terminal).
        sequence_frames: "short" (fast default: ``intermediate_frames`` between ED and ES) or "realistic"
            (the systole at the patient's frame rate, 10–30 frames as in CAMUS; ≈ 5× slower).
        cycles: > 0 also writes a cine of this many beats per view (``*_cine[_gt]``; heart rate varies
            from beat to beat; true ED/ES frames in the truth file). Heavy: ≈ 50 frames per beat.
        annotation_sd_mm: > 0 displaces the written reference contours like a second observer's
            (smooth, d_m ≈ 0.8 × this); the analytic volumes in the truth file are unchanged.
        lvot_fraction: fraction of 4CH views with an unlabelled LVOT / aortic-root hint (labels unchanged).

    Returns:
        ``out`` as a Path.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    if n_patients < 1:
        raise ValueError(f"n_patients must be ≥ 1, got {n_patients}")
    if not 0.0 <= hard_fraction <= 1.0:
        raise ValueError(f"hard_fraction must be in [0, 1], got {hard_fraction}")
    if len(quality_mix) != 3 or min(quality_mix) < 0 or sum(quality_mix) <= 0:
        raise ValueError(f"quality_mix must be 3 non-negative weights (Good, Medium, Poor): {quality_mix}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if intermediate_frames < 0:
        raise ValueError(f"intermediate_frames must be ≥ 0, got {intermediate_frames}")
    if sequence_frames not in SEQUENCE_FRAMES:
        raise ValueError(f"sequence_frames must be one of {SEQUENCE_FRAMES}, got {sequence_frames!r}")
    if not 0 <= cycles <= MAX_CYCLES:
        raise ValueError(f"cycles must be in 0..{MAX_CYCLES}, got {cycles}")
    if not 0.0 <= annotation_sd_mm <= 5.0:
        raise ValueError(f"annotation_sd_mm must be in [0, 5] mm, got {annotation_sd_mm}")
    if not 0.0 <= lvot_fraction <= 1.0:
        raise ValueError(f"lvot_fraction must be in [0, 1], got {lvot_fraction}")
    options = PhantomOptions(
        size=size,
        hard_fraction=hard_fraction,
        quality_mix=tuple(quality_mix),
        circular=circular,
        intermediate_frames=int(intermediate_frames),
        sequence_frames=sequence_frames,
        cycles=int(cycles),
        annotation_sd_mm=float(annotation_sd_mm),
        lvot_fraction=float(lvot_fraction),
    )
    jobs = [(str(out), i, seed, fmt, options) for i in range(1, n_patients + 1)]
    workers = min(default_workers() if workers is None else max(1, int(workers)), n_patients)
    show = sys.stderr.isatty() if progress is None else progress
    from tqdm.auto import tqdm

    bar = tqdm(total=n_patients, desc="phantom", unit="patient", disable=not show)
    logger.info(
        "generating %d phantom patients (%s, %s) in %s with %d worker(s)", n_patients, fmt, size, out, workers
    )
    try:
        if workers == 1:
            for job in jobs:
                _one(job)
                bar.update()
        else:
            ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                for _ in pool.map(_one, jobs, chunksize=max(1, min(8, n_patients // (4 * workers)))):
                    bar.update()
    finally:
        bar.close()
    ids = [patient_id(i) for i in range(1, n_patients + 1)]
    if fmt == "nifti":
        write_splits(out, split_patients(ids, seed))
    write_text_atomic(
        out / "PHANTOM.txt",
        "Synthetic echo phantom generated by lunet (NOT CAMUS data).\n"
        f"patients: {n_patients}\nformat: {fmt}\nsize: {size}\nseed: {seed}\nhard_fraction: {hard_fraction}\n"
        f"quality_mix: {list(quality_mix)}\ncircular: {circular}\n"
        f"intermediate_frames: {intermediate_frames}\nsequence_frames: {sequence_frames}\ncycles: {cycles}\n"
        f"annotation_sd_mm: {annotation_sd_mm}\nlvot_fraction: {lvot_fraction}\n",
    )
    return out
