"""The preprocessed training cache: memory-mapped ``.npy`` arrays of every annotated CAMUS frame.

Layout of ``cache_dir`` (N = annotated frames, 4 per readable patient; S = size). With ``frames="all"``
each patient's four ED/ES rows are followed by one row per frame of each half sequence that has a ground
truth (``*_half_sequence_gt``), oriented ED → ES, with ``instant`` ``"sequence"`` and ``frame`` (1-based);
such a cache has its own key and its own default folder (:func:`cache_name`), so it is never taken for an
ED/ES cache.

- ``images.npy`` float32 ``(N, S, S)``: :func:`lunet.data.preprocess.prepare_image` (resized, then min–max);
- ``labels.npy`` uint8 ``(N, S, S)`` (nearest; zeros without ground truth);
- ``source_images.npy`` float32 ``(N, 2S, 2S)`` and ``source_labels.npy`` uint8 ``(N, 2S, 2S)``: the same
  frames prepared at :func:`lunet.data.preprocess.crop_source_size` (2S), the source that LU-Net and the
  oracle crop their ROI (and its training target) from (``lunet.models.roi``); 5× the bytes of the S×S arrays,
  so only a cache built with ``crop_source=True`` (the default; training: the models whose
  ``ModelSpec.crops_roi``) holds them, and its key says so (a cache with them also serves a model without);
- ``spacing.npy`` float64 ``(N, 2)`` after resize, ``original_spacing.npy`` ``(N, 2)``, ``original_shape.npy``
  int64 ``(N, 2)``, all ``(row_mm, col_mm)`` / ``(rows, cols)``;
- ``box0.npy`` float64 ``(N, 4)``: ``lunet.boxes.reference_box(label, margin=0)`` on the resized label
  (NaN without ground truth or without LV/myocardium);
- ``index.json``: ``{"key", "size", "root", "entries": [...], "skipped": [...]}`` with one entry
  ``{patient_id, view, instant, quality, ef_percent, has_gt}`` per row;
- ``complete.json`` written last. It holds the cache key (format version, size, and a hash of the source
  files' names, sizes and mtimes); a cache without it, or with another key, is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lunet.data.camus_errors import CamusFormatError
from lunet.data.labels import INSTANTS, VIEWS
from lunet.data.preprocess import crop_source_size, prepare_image, resize_label
from lunet.io import atomic_path, write_text_atomic
from lunet.limits import SizeLimits
from lunet.logs import info_once

logger = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: the crop source arrays
#: Which frames a cache holds: the annotated ED/ES frames (the papers), or those plus every frame of the
#: half sequences with a ground truth (training on all frames; ED/ES stay the validation and test frames).
FRAME_MODES = ("ed-es", "all")
#: ``instant`` of the index entries of half-sequence frames (``frames="all"``).
SEQUENCE = "sequence"
MARKER = "complete.json"
ARRAYS = (
    "images", "labels", "source_images", "source_labels", "spacing", "original_spacing", "original_shape",
    "box0",
)  # fmt: skip
#: Arrays a hand-made or older cache may lack (then the attributes are ``None``, see
#: :meth:`CachedImages.require_source`).
SOURCE_ARRAYS = ("source_images", "source_labels")


class CachedItem(NamedTuple):
    """One cached frame: image float32 (S, S), label uint8 (S, S), spacing (row_mm, col_mm) after resize,
    box0 (4,) normalised or NaN, entry the index row."""

    image: np.ndarray
    label: np.ndarray
    spacing: np.ndarray
    box0: np.ndarray
    entry: dict


def cache_name(root: str | os.PathLike[str], size: int, frames: str = "ed-es") -> str:
    """Default cache folder name of a dataset: ``<root name>_<size>``, plus ``_all`` with ``frames="all"``."""
    return f"{Path(root).resolve().name}_{size}" + ("" if frames == "ed-es" else f"_{frames}")


def _check_frames(frames: str) -> None:
    if frames not in FRAME_MODES:
        raise ValueError(f"frames must be one of {FRAME_MODES}, got {frames!r}")


def cache_fingerprint(patients: Iterable, size: int, frames: str = "ed-es", crop_source: bool = True) -> str:
    """Cache key: hash of the format version, ``size``, ``frames`` (when not ``"ed-es"``), ``source=none``
    (without the crop-source arrays) and each source file's name, byte size and mtime."""
    _check_frames(frames)
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
    spacing: tuple,
    size: int,
    where: object,
    entry: dict,
    crop_source: bool = True,
) -> dict:
    """The arrays of one frame (``image`` (rows, cols), ``label`` the same or None) and its index entry;
    the crop-source arrays only with ``crop_source``."""
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
             "original_shape": image.shape, "box0": box,
             "entry": {**entry, "has_gt": label is not None}}  # fmt: skip
    if crop_source:
        source_size = crop_source_size(size)
        frame["source_images"] = prepare_image(image, spacing, source_size)[0]
        frame["source_labels"] = (
            np.zeros((source_size, source_size), np.uint8)
            if label is None
            else resize_label(label, spacing, source_size)[0]
        )
    return frame


def _sequence_views(record: object) -> list:
    """Views of ``record`` with a half sequence and its ground truth."""
    return [v for v in VIEWS if {f"{v.value}_sequence", f"{v.value}_sequence_gt"} <= record.files.keys()]  # type: ignore[attr-defined]


def _prepare_patient(args: tuple) -> tuple[str, list[dict] | str]:
    """Worker: the four annotated frames of one patient (then, with ``frames="all"``, every frame of its
    annotated half sequences), resized (or the error message)."""
    record, size, frames, limits, crop_source = args

    def entry(view: object, instant: str, **extra: int) -> dict:
        return {"patient_id": record.patient_id, "view": view.value, "instant": instant,  # type: ignore[attr-defined]
                "quality": record.image_quality, "ef_percent": record.ef_percent, **extra}  # fmt: skip

    out = []
    try:
        for view in VIEWS:
            for instant in INSTANTS:
                echo = record.load(view, instant, limits)
                row = entry(view, instant.value)
                out.append(
                    _prepare_frame(
                        echo.image, echo.label, echo.spacing, size, echo.label_path, row, crop_source
                    )
                )
        for view in _sequence_views(record) if frames == "all" else ():
            sequence = record.load_sequence(view, limits)
            for t, image in enumerate(sequence.frames):
                row = entry(view, SEQUENCE, frame=t + 1)
                label = sequence.labels[t]  # type: ignore[index]
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


def _is_complete(cache_dir: Path, key: str | None = None) -> bool:
    marker = cache_dir / MARKER
    if not marker.is_file():
        return False
    try:
        stored = json.loads(marker.read_text()).get("key")
    except (OSError, ValueError):
        return False
    return key is None or stored == key


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
    if _is_complete(cache_dir, key) or (superset and _is_complete(cache_dir, superset)):
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
    entries: list[dict] = []
    skipped: list[dict] = []
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


def _capacity(patients: list, frames: str, limits: SizeLimits | None = None) -> int:
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
    patients: list,
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


class CachedImages:
    """Read access to a complete cache (memory-mapped; indexing copies one frame).

    Attributes:
        images, labels, source_images, source_labels, spacing, original_spacing, original_shape, box0:
            read-only memory maps (see above).
        index: one dict per row. size: ``S``. meta: the rest of ``index.json``.

    Pickling keeps only the folder (DataLoader workers re-open the maps instead of copying the arrays).
    """

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.cache_dir = Path(cache_dir)
        if not _is_complete(self.cache_dir):
            raise CamusFormatError(
                f"{self.cache_dir}: no complete lunet cache here (build it with `lunet preprocess`)"
            )
        meta = json.loads((self.cache_dir / "index.json").read_text())
        self.size: int = int(meta["size"])
        self.index: list[dict] = meta["entries"]
        self.meta = {k: v for k, v in meta.items() if k != "entries"}
        arrays = {
            name: np.load(self.cache_dir / f"{name}.npy", mmap_mode="r")
            for name in ARRAYS
            if name not in SOURCE_ARRAYS or (self.cache_dir / f"{name}.npy").is_file()
        }
        self.images: np.ndarray = arrays["images"]
        self.labels: np.ndarray = arrays["labels"]
        self.source_images: np.ndarray | None = arrays.get("source_images")
        self.source_labels: np.ndarray | None = arrays.get("source_labels")
        self.spacing: np.ndarray = arrays["spacing"]
        self.original_spacing: np.ndarray = arrays["original_spacing"]
        self.original_shape: np.ndarray = arrays["original_shape"]
        self.box0: np.ndarray = arrays["box0"]
        if any(len(array) != len(self.index) for array in arrays.values()):
            raise CamusFormatError(
                f"{self.cache_dir}: arrays and index.json disagree; delete the folder and rebuild"
            )

    def require_source(self) -> None:
        """Raise :class:`CamusFormatError` unless the cache holds the crop-source arrays."""
        if self.source_images is None or self.source_labels is None:
            raise CamusFormatError(
                f"{self.cache_dir}: no crop-source arrays (source_images.npy, source_labels.npy): the "
                "cache was built for a model that does not crop; rebuild it with them "
                "(build_cache(crop_source=True), `lunet preprocess` without --no-crop-source)"
            )

    def __getstate__(self) -> dict:
        return {"cache_dir": self.cache_dir}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cache_dir"])  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> CachedItem:
        return CachedItem(
            np.array(self.images[i]),
            np.array(self.labels[i]),
            np.array(self.spacing[i]),
            np.array(self.box0[i]),
            self.index[i],
        )

    def indices_for(self, patient_ids: Iterable[str]) -> np.ndarray:
        """Row indices (int64, cache order) of every frame of the given patients."""
        wanted = set(patient_ids)
        return np.array([i for i, e in enumerate(self.index) if e["patient_id"] in wanted], dtype=np.int64)
