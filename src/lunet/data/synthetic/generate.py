"""Generate a phantom dataset in the CAMUS layout, in parallel over patients.

Each patient depends only on ``(seed, index)``, so the bytes written are the same for any ``workers``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from lunet.data.synthetic.geometry import SIZES
from lunet.data.synthetic.patient import PhantomOptions, patient_id, render_patient
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


def check_options(options: PhantomOptions) -> None:
    """Raise ``ValueError`` naming the first option of ``options`` out of its range."""
    if options.size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {options.size!r}")
    if not 0.0 <= options.hard_fraction <= 1.0:
        raise ValueError(f"hard_fraction must be in [0, 1], got {options.hard_fraction}")
    mix = options.quality_mix
    if len(mix) != 3 or min(mix) < 0 or sum(mix) <= 0:
        raise ValueError(f"quality_mix must be 3 non-negative weights (Good, Medium, Poor): {mix}")
    if options.intermediate_frames < 0:
        raise ValueError(f"intermediate_frames must be ≥ 0, got {options.intermediate_frames}")
    if options.sequence_frames not in SEQUENCE_FRAMES:
        raise ValueError(f"sequence_frames must be one of {SEQUENCE_FRAMES}, got {options.sequence_frames!r}")
    if not 0 <= options.cycles <= MAX_CYCLES:
        raise ValueError(f"cycles must be in 0..{MAX_CYCLES}, got {options.cycles}")
    if not 0.0 <= options.annotation_sd_mm <= 5.0:
        raise ValueError(f"annotation_sd_mm must be in [0, 5] mm, got {options.annotation_sd_mm}")
    if not 0.0 <= options.lvot_fraction <= 1.0:
        raise ValueError(f"lvot_fraction must be in [0, 1], got {options.lvot_fraction}")


def generate_dataset(
    out: str | os.PathLike[str],
    n_patients: int,
    options: PhantomOptions | None = None,
    *,
    fmt: str = "nifti",
    seed: int = 0,
    workers: int | None = None,
    progress: bool | None = None,
    **fields: Any,
) -> Path:
    """Write ``n_patients`` phantom patients (``patient0001`` …) under ``out`` in a CAMUS layout.

    What the patients look like is :class:`~lunet.data.synthetic.patient.PhantomOptions`; how they are
    written, the keyword arguments here.

    Args:
        out: dataset root (created).
        n_patients: number of patients (≥ 1).
        options: the phantom's options (default ``PhantomOptions()``): ``size`` "native" (hundreds of
            pixels, 0.22–0.36 mm, some anisotropic) or "256" (256×256); ``hard_fraction`` (off-centre /
            small-in-FOV patients); ``quality_mix`` (weights of Good / Medium / Poor); ``circular`` (circular
            LV sections, b1 = b2, for exact Simpson tests); ``intermediate_frames`` (rendered frames between
            ED and ES in a "short" half sequence, ≥ 0); ``sequence_frames`` "short" (fast default) or
            "realistic" (the systole at the patient's frame rate, 10–30 frames as in CAMUS; ≈ 5× slower);
            ``cycles`` (> 0 also writes a cine of this many beats per view, ``*_cine[_gt]``; heart rate
            varies from beat to beat; true ED/ES frames in the truth file; ≈ 50 frames per beat);
            ``annotation_sd_mm`` (> 0 displaces the written reference contours like a second observer's,
            smooth, d_m ≈ 0.8 × this; the analytic volumes are unchanged); ``lvot_fraction`` (4CH views with
            an unlabelled LVOT / aortic-root hint; labels unchanged).
        fmt: "nifti" (``database_nifti/`` + ``database_split/``) or "mhd" (2019 ``training/``).
        seed: dataset seed; patient i is generated from (seed, i) alone.
        workers: processes (``None``: all usable cores; 1: in this process).
        progress: tqdm progress bar (``None``: only when stderr is a terminal).
        **fields: fields of ``PhantomOptions`` by name (``size="256", cycles=2``), replacing those of
            ``options``.

    Returns:
        ``out`` as a Path.

    Raises:
        ValueError: an option out of its range (the message names it); TypeError: an unknown field.
    """
    options = replace(options or PhantomOptions(), **fields)
    options = replace(
        options,
        quality_mix=tuple(options.quality_mix),
        intermediate_frames=int(options.intermediate_frames),
        cycles=int(options.cycles),
        annotation_sd_mm=float(options.annotation_sd_mm),
        lvot_fraction=float(options.lvot_fraction),
    )
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if n_patients < 1:
        raise ValueError(f"n_patients must be ≥ 1, got {n_patients}")
    check_options(options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), i, seed, fmt, options) for i in range(1, n_patients + 1)]
    workers = min(default_workers() if workers is None else max(1, int(workers)), n_patients)
    show = sys.stderr.isatty() if progress is None else progress
    from tqdm.auto import tqdm

    bar = tqdm(total=n_patients, desc="phantom", unit="patient", disable=not show)
    logger.info(
        "generating %d phantom patients (%s, %s) in %s with %d worker(s)",
        n_patients, fmt, options.size, out, workers,
    )  # fmt: skip
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
    write_text_atomic(out / "PHANTOM.txt", _phantom_note(n_patients, fmt, seed, options))
    return out


def _phantom_note(n_patients: int, fmt: str, seed: int, options: PhantomOptions) -> str:
    """``PHANTOM.txt``: what was generated, one ``name: value`` a line."""
    o = options
    return (
        "Synthetic echo phantom generated by lunet (NOT CAMUS data).\n"
        f"patients: {n_patients}\nformat: {fmt}\nsize: {o.size}\nseed: {seed}\n"
        f"hard_fraction: {o.hard_fraction}\nquality_mix: {list(o.quality_mix)}\ncircular: {o.circular}\n"
        f"intermediate_frames: {o.intermediate_frames}\nsequence_frames: {o.sequence_frames}\n"
        f"cycles: {o.cycles}\n"
        f"annotation_sd_mm: {o.annotation_sd_mm}\nlvot_fraction: {o.lvot_fraction}\n"
    )
