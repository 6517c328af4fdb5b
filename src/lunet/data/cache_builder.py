"""Building the training cache (layout: :mod:`lunet.data.cache_format`): every annotated frame of a
dataset resized to S×S (and 2S for the crop source), in parallel over patients, written atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from lunet.data.cache_format import (
    ARRAYS,
    CACHE_VERSION,
    MARKER,
    SEQUENCE,
    SOURCE_ARRAYS,
    CacheEntry,
    check_frames,
    is_complete,
)  # fmt: skip
from lunet.data.camus_errors import CamusFormatError
from lunet.data.labels import INSTANTS, VIEWS
from lunet.data.preprocess import crop_source_size, prepare_image, resize_label
from lunet.io import atomic_path, write_text_atomic
from lunet.limits import SizeLimits
from lunet.logs import info_once

if TYPE_CHECKING:
    from lunet.data.camus_records import PatientRecord
    from lunet.data.labels import View

logger = logging.getLogger(__name__)


def cache_fingerprint(patients: Iterable, size: int, frames: str = "ed-es", crop_source: bool = True) -> str:
    """Cache key: hash of the format version, ``size``, ``frames`` (when not ``"ed-es"``), ``source=none``
    (without the crop-source arrays) and each source file's name, byte size and mtime."""
    check_frames(frames)
    tag = ("" if frames == "ed-es" else f"|frames={frames}") + ("" if crop_source else "|source=none")
    digest = hashlib.sha256(f"lunet-cache-v{CACHE_VERSION}|size={size}{tag}".encode())
    for record in patients:
        paths = sorted(record.files.values()) + sorted(record.directory.glob("Info_*.cfg"))
        for path in paths:
            stat = path.stat()
            digest.update(f"|{record.patient_id}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _init_worker() -> None:
    """One ITK thread per worker process: the parallelism is over patients."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _prepare_frame(
    image: np.ndarray,
    label: np.ndarray | None,
    spacing: tuple[float, float],
    size: int,
    where: object,
    entry: CacheEntry,
    crop_source: bool = True,
) -> dict[str, Any]:
    """The arrays of one frame (``image`` (rows, cols), ``label`` the same or None) by array name, and
    ``"entry"``, its index entry; the crop-source arrays only with ``crop_source``."""
    from lunet.boxes import reference_box

    resized, new_spacing = prepare_image(image, spacing, size)
    box = np.full(4, np.nan)
    label_s = np.zeros((size, size), np.uint8)
    if label is not None:
        label_s, _ = resize_label(label, spacing, size)
        try:
            box = reference_box(label_s, 0.0)
        except ValueError:
            logger.warning("%s: no LV/myocardium in the label, box0 = NaN", where)
    frame = {"images": resized, "labels": label_s, "spacing": new_spacing, "original_spacing": spacing,
             "original_shape": image.shape, "box0": box, "entry": entry}  # fmt: skip
    if crop_source:
        source_size = crop_source_size(size)
        frame["source_images"] = prepare_image(image, spacing, source_size)[0]
        frame["source_labels"] = (
            np.zeros((source_size, source_size), np.uint8)
            if label is None
            else resize_label(label, spacing, source_size)[0]
        )
    return frame


def _sequence_views(record: PatientRecord) -> list[View]:
    """Views of ``record`` with a half sequence and its ground truth."""
    return [v for v in VIEWS if {f"{v.value}_sequence", f"{v.value}_sequence_gt"} <= record.files.keys()]


def _entry(
    record: PatientRecord, view: View, instant: str, has_gt: bool, frame: int | None = None
) -> CacheEntry:
    """The index entry of one row (keys in the order of ``index.json``; ``frame`` only when given)."""
    fields: dict[str, Any] = {"patient_id": record.patient_id, "view": view.value, "instant": instant,
                              "quality": record.image_quality, "ef_percent": record.ef_percent}  # fmt: skip
    if frame is not None:
        fields["frame"] = frame
    fields["has_gt"] = has_gt
    return cast(CacheEntry, fields)


def _prepare_patient(
    args: tuple[PatientRecord, int, str, SizeLimits | None, bool],
) -> tuple[str, list[dict[str, Any]] | str]:
    """Worker: the four annotated frames of one patient (then, with ``frames="all"``, every frame of its
    annotated half sequences), resized (or the error message)."""
    record, size, frames, limits, crop_source = args
    out = []
    try:
        for view in VIEWS:
            for instant in INSTANTS:
                echo = record.load(view, instant, limits)
                row = _entry(record, view, instant.value, echo.label is not None)
                out.append(
                    _prepare_frame(
                        echo.image, echo.label, echo.spacing, size, echo.label_path, row, crop_source
                    )
                )
        for view in _sequence_views(record) if frames == "all" else ():
            sequence = record.load_sequence(view, limits)
            if sequence.labels is None:  # _sequence_views found its _gt file
                raise CamusFormatError(f"{sequence.path}: the half sequence's ground truth did not load")
            for t, image in enumerate(sequence.frames):
                row = _entry(record, view, SEQUENCE, True, frame=t + 1)
                label = sequence.labels[t]
                out.append(
                    _prepare_frame(image, label, sequence.spacing, size, sequence.path, row, crop_source)
                )
    except CamusFormatError as err:
        return record.patient_id, str(err)
    return record.patient_id, out


def _shapes(n: int, size: int, crop_source: bool = True) -> dict[str, tuple[tuple[int, ...], type]]:
    """Shape and dtype of each array of ``n`` rows (without the crop-source arrays unless ``crop_source``)."""
    source = crop_source_size(size)
    shapes = {
        "images": ((n, size, size), np.float32),
        "labels": ((n, size, size), np.uint8),
        "source_images": ((n, source, source), np.float32),
        "source_labels": ((n, source, source), np.uint8),
        "spacing": ((n, 2), np.float64),
        "original_spacing": ((n, 2), np.float64),
        "original_shape": ((n, 2), np.int64),
        "box0": ((n, 4), np.float64),
    }
    return {k: v for k, v in shapes.items() if crop_source or k not in SOURCE_ARRAYS}


def build_cache(
    root: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    size: int = 256,
    workers: int | None = None,
    frames: str = "ed-es",
    limits: SizeLimits | None = None,
    crop_source: bool = True,
) -> Path:
    """Build (or reuse) the cache of every annotated frame under ``root`` at ``size × size``.

    Patients whose files cannot be read are skipped with a warning and listed in ``index.json``.

    Args:
        root: dataset root (any layout :func:`lunet.data.camus.scan_camus` accepts).
        cache_dir: folder of the cache (created; one cache per folder).
        size: side ``S`` of the square frames in pixels.
        workers: processes (spawned; call from under ``if __name__ == "__main__":`` in scripts).
            None: 1 below 16 patients, else up to 8.
        frames: ``"ed-es"`` (the four annotated frames per patient) or ``"all"`` (those, then every frame
            of the half sequences with a ground truth; another key, see the module docstring).
        limits: size limits checked on every header before decoding (default ``DEFAULT_LIMITS``;
            ``lunet preprocess --max-*``); a patient with a file beyond them is skipped with the reason.
        crop_source: also store the 2S crop-source arrays (needed by the models that crop,
            ``ModelSpec.crops_roi``). Without them the key differs; an up-to-date cache *with* them is reused.

    Returns:
        ``cache_dir`` (complete and up to date).
    """
    from lunet.data.camus import scan_camus

    cache_dir = Path(cache_dir)
    dataset = scan_camus(root)
    key = cache_fingerprint(dataset.patients, size, frames, crop_source)
    superset = None if crop_source else cache_fingerprint(dataset.patients, size, frames, True)
    if is_complete(cache_dir, key) or (superset and is_complete(cache_dir, superset)):
        info_once(
            logger, "%s: cache up to date (%d patients, size %d)", cache_dir, len(dataset.patients), size
        )
        return cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / MARKER).unlink(missing_ok=True)  # invalidate first, re-mark last
    for name in () if crop_source else SOURCE_ARRAYS:  # never leave an older build's source beside new rows
        (cache_dir / f"{name}.npy").unlink(missing_ok=True)
    names = [n for n in ARRAYS if crop_source or n not in SOURCE_ARRAYS]
    temps = {name: cache_dir / f".{name}.building.npy" for name in names}
    entries: list[CacheEntry] = []
    skipped: list[dict[str, str]] = []
    try:
        _compute(dataset.patients, size, workers, temps, entries, skipped, frames, limits, crop_source)
    except BaseException:
        for path in temps.values():
            path.unlink(missing_ok=True)
        raise
    count = len(entries)
    meta = {
        "key": key,
        "size": size,
        "root": str(Path(root).resolve()),
        "release": dataset.release,
        "normalization": "min-max per image after bilinear resize",
        **({} if frames == "ed-es" else {"frames": frames}),
        **({} if crop_source else {"crop_source": False}),
        "entries": entries,
        "skipped": skipped,
    }
    write_text_atomic(cache_dir / "index.json", json.dumps(meta, indent=1))
    write_text_atomic(cache_dir / MARKER, json.dumps({"key": key, "size": size, "count": count}))
    logger.info(
        "%s: cached %d frames of %d patients (%d skipped)",
        cache_dir, count, len(dataset.patients) - len(skipped), len(skipped),
    )  # fmt: skip
    return cache_dir


def _capacity(patients: list[PatientRecord], frames: str, limits: SizeLimits | None = None) -> int:
    """Upper bound of the rows: 4 per patient, plus the half-sequence lengths (headers) with ``"all"``."""
    from lunet.data.camus_io import read_header

    capacity = 4 * len(patients)
    for record in patients if frames == "all" else ():
        for view in _sequence_views(record):
            try:
                shape = read_header(record.files[f"{view.value}_sequence"], limits)[0]
                capacity += shape[0] if len(shape) == 3 else 1
            except CamusFormatError:
                pass  # the worker reports it and skips the patient
    return capacity


def _compute(
    patients: list[PatientRecord],
    size: int,
    workers: int | None,
    temps: dict,
    entries: list,
    skipped: list,
    frames: str,
    limits: SizeLimits | None = None,
    crop_source: bool = True,
) -> None:
    """Fill the temporary arrays ``temps`` with every patient's frames, then trim them to the final files."""
    capacity = _capacity(patients, frames, limits)
    arrays = {
        name: np.lib.format.open_memmap(temps[name], mode="w+", dtype=dtype, shape=shape)
        for name, (shape, dtype) in _shapes(capacity, size, crop_source).items()
    }
    jobs = [(record, size, frames, limits, crop_source) for record in patients]
    if workers is None:  # process start-up (~2 s each) only pays off for larger datasets
        workers = 1 if len(jobs) < 16 else min(os.cpu_count() or 1, 8)
    if workers > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # spawn: never fork a process that may hold threads (torch, ITK).
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(
                min(workers, len(jobs)), mp_context=context, initializer=_init_worker
            ) as pool:
                _fill(pool.map(_prepare_patient, jobs, chunksize=2), arrays, entries, skipped)
        except BrokenProcessPool:
            raise RuntimeError(
                "build_cache: a worker process died; call it under `if __name__ == '__main__':` "
                "in scripts, or use workers=1"
            ) from None
    else:
        _fill(map(_prepare_patient, jobs), arrays, entries, skipped)
    count = len(entries)
    cache_dir = next(iter(temps.values())).parent
    for name in temps:
        arrays.pop(name).flush()
        if count == capacity:
            os.replace(temps[name], cache_dir / f"{name}.npy")
            continue
        data = np.load(temps[name], mmap_mode="r")
        with atomic_path(cache_dir / f"{name}.npy") as tmp:
            np.save(tmp, data[:count])
        del data
        temps[name].unlink()


def _fill(results: Iterable, arrays: dict, entries: list, skipped: list) -> None:
    """Write each patient's frames into the next rows of ``arrays``; record entries and skipped patients."""
    for patient_id, frames in results:
        if isinstance(frames, str):
            logger.warning("cache: skipping %s: %s", patient_id, frames)
            skipped.append({"patient_id": patient_id, "reason": frames})
            continue
        for frame in frames:
            row = len(entries)
            for name in arrays:
                arrays[name][row] = frame[name]
            entries.append(frame["entry"])
