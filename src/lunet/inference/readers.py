"""Input formats of ``lunet predict``: what is a prediction input, and how to read one frame of it.

Supported: NIfTI (``.nii``/``.nii.gz``) and MHD (via :mod:`lunet.data.camus_io`), PNG/JPEG (Pillow; grayscale;
spacing only from ``--spacing``), DICOM (pydicom; single- and multi-frame; spacing from the ultrasound region
calibration, ``PixelSpacing`` or ``--spacing``), CAMUS patient folders (their 2CH/4CH ED/ES images only),
folders (recursed) and ``@list.txt`` files naming one path per line.

Expansion (:func:`expand_inputs`) reads headers only, so a run over thousands of files holds only the list of
:class:`InputItem`; pixel data is read one frame at a time by :func:`read_item`.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: CAMUS file-name pattern of an annotated frame: ``patient0001_2CH_ED``.
CAMUS_NAME = re.compile(r"^(patient\d+)_(2CH|4CH)_(ED|ES)$")
#: Extensions that are never images (and ``.raw``, the data half of an MHD pair).
_SKIP_SUFFIXES = {".raw", ".cfg", ".txt", ".json", ".csv", ".md", ".zip", ".gz_", ".onnx", ".ckpt"}


class InputFormatError(ValueError):
    """An input that cannot be read or lacks what prediction needs (message names the file)."""


@dataclass(frozen=True)
class InputItem:
    """One 2-D image to predict: a file, and a frame index for multi-frame files.

    Attributes:
        path: the file as given (not resolved: its own name is used for the outputs).
        kind: ``"nifti" | "mhd" | "png" | "dicom"`` (JPEG is ``"png"``: masks are written as PNG).
        frame: frame index in a multi-frame file, else ``None``.
        patient_id, view, instant: from a CAMUS file name (``patient0001_2CH_ED``), else ``None``.
    """

    path: Path
    kind: str
    frame: int | None = None
    patient_id: str | None = None
    view: str | None = None
    instant: str | None = None

    @property
    def stem(self) -> str:
        """File name without its image extension(s)."""
        name = self.path.name
        for suffix in (".nii.gz", ".nii", ".mhd", ".png", ".jpg", ".jpeg", ".dcm", ".dicom"):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name


@dataclass(frozen=True)
class LoadedImage:
    """A frame to preprocess: ``image`` float32 ``(rows, cols)``, ``spacing`` ``(row_mm, col_mm)``."""

    item: InputItem
    image: np.ndarray
    spacing: tuple[float, float]
    note: str | None = None


def file_kind(path: Path) -> str | None:
    """The reader for ``path`` from its name (``None``: not an image input)."""
    name = path.name.lower()
    if name.endswith((".nii.gz", ".nii")):
        return "nifti"
    if name.endswith(".mhd"):
        return "mhd"
    if name.endswith((".png", ".jpg", ".jpeg")):
        return "png"
    if name.endswith((".dcm", ".dicom")):
        return "dicom"
    if path.suffix.lower() in _SKIP_SUFFIXES:
        return None
    return "dicom" if _has_dicom_preamble(path) else None  # DICOM files are often named by UID, no extension


def _has_dicom_preamble(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _camus_fields(stem: str) -> tuple[str | None, str | None, str | None]:
    match = CAMUS_NAME.match(stem)
    return (match.group(1), match.group(2), match.group(3)) if match else (None, None, None)


def _frame_count(path: Path, kind: str) -> int:
    """Number of frames of a file, from its header (1 for a single image)."""
    if kind in ("nifti", "mhd"):
        from lunet.data.camus_io import read_header

        shape, _ = read_header(path)
        return shape[0] if len(shape) == 3 else 1
    if kind == "dicom":
        import pydicom

        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception as err:
            raise InputFormatError(
                f"{path}: not a readable DICOM file ({type(err).__name__}: {err})"
            ) from None
        return int(getattr(ds, "NumberOfFrames", 1) or 1)
    return 1


def _folder_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (sorted, recursed). In a CAMUS patient folder: its ED/ES frames only."""
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        candidates = sorted(Path(root) / n for n in names if not n.startswith("."))
        camus = [p for p in candidates if file_kind(p) and CAMUS_NAME.match(InputItem(p, "x").stem)]
        if camus:  # a CAMUS patient folder: skip _gt, sequences and the rest
            files.extend(camus)
        else:
            files.extend(p for p in candidates if file_kind(p))
    return files


def _list_file(path: Path) -> list[Path]:
    """Paths named in an ``@list.txt`` (one a line; ``#`` comments; relative to the list's folder)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputFormatError(f"{path}: cannot read the list of inputs ({err})") from None
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            entry = Path(line).expanduser()
            out.append(entry if entry.is_absolute() else path.parent / entry)
    return out


def expand_inputs(
    inputs: Iterable[str | os.PathLike[str]], frames: Sequence[int] | None = None
) -> tuple[list[InputItem], list[tuple[str, str]]]:
    """Turn command-line inputs into frames to predict, reading headers only.

    Args:
        inputs: files, folders (recursed) and ``@list.txt`` files.
        frames: frame indices to keep in multi-frame files (``None``: every frame).

    Returns:
        ``(items, errors)``: the frames in input order, and ``(path, message)`` for inputs that cannot be used
        (missing, unknown type, unreadable header); those are logged and skipped, never raised.
    """
    items: list[InputItem] = []
    errors: list[tuple[str, str]] = []
    queue = [str(p) for p in inputs]
    seen_lists: set[Path] = set()
    while queue:
        raw = queue.pop(0)
        if raw.startswith("@"):
            lst = Path(raw[1:])
            if lst.resolve() in seen_lists:
                continue
            seen_lists.add(lst.resolve())
            try:
                queue[:0] = [str(p) for p in _list_file(lst)]
            except InputFormatError as err:
                errors.append((str(lst), str(err)))
            continue
        path = Path(raw)
        if path.is_dir():
            queue[:0] = [str(p) for p in _folder_files(path)]
            continue
        if not path.is_file():
            errors.append((raw, f"{path}: no such file or folder"))
            continue
        kind = file_kind(path)
        if kind is None:
            errors.append(
                (raw, f"{path}: unsupported input type (expected .nii[.gz], .mhd, .png, .jpg, .dcm)")
            )
            continue
        try:
            n_frames = _frame_count(path, kind)
        except (ValueError, OSError) as err:
            errors.append((raw, str(err)))
            continue
        stem = InputItem(path, kind).stem
        pid, view, instant = _camus_fields(stem)
        if n_frames == 1:
            items.append(InputItem(path, kind, None, pid, view, instant))
            continue
        wanted = range(n_frames) if frames is None else [f for f in frames if 0 <= f < n_frames]
        if frames is not None and len(wanted) < len(frames):
            logger.warning("%s: %d frames; frames out of range ignored", path, n_frames)
        items.extend(InputItem(path, kind, f) for f in wanted)
    for raw, message in errors:
        logger.error("skipping input %s", message if raw in message else f"{raw}: {message}")
    return items, errors


def _check_spacing(path: Path, spacing: Sequence[float]) -> tuple[float, float]:
    row_mm, col_mm = (float(s) for s in spacing)
    if not all(math.isfinite(s) and s > 0 for s in (row_mm, col_mm)):
        raise InputFormatError(f"{path}: invalid pixel spacing ({row_mm}, {col_mm}) mm (must be > 0)")
    return row_mm, col_mm


def to_grayscale(array: np.ndarray) -> np.ndarray:
    """(rows, cols) or (rows, cols, 3|4) → float32 (rows, cols), ITU-R BT.601 luma for colour images."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        rgb = array[..., :3].astype(np.float32)
        return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return array.astype(np.float32)


def _read_png(item: InputItem, spacing: Sequence[float] | None) -> LoadedImage:
    from PIL import Image, UnidentifiedImageError

    if spacing is None:
        raise InputFormatError(
            f"{item.path}: PNG/JPEG files carry no pixel spacing; give it with --spacing ROW_MM COL_MM"
        )
    try:
        with Image.open(item.path) as img:
            img.load()
            array = np.asarray(img.convert("RGB") if img.mode in ("P", "PA", "CMYK", "YCbCr", "LA") else img)
    except (OSError, UnidentifiedImageError, SyntaxError) as err:
        raise InputFormatError(f"{item.path}: unreadable image ({err})") from None
    return LoadedImage(item, to_grayscale(array), _check_spacing(item.path, spacing))


#: The last multi-frame file read (key, decoded content): frames of one file are read in a row, so each
#: file is decoded once, and at most one file's pixels are held.
_LAST_FILE: list[tuple[tuple[str, int, int], Any]] = []


def cached_file(path: Path, load: Callable[[Path], Any]) -> Any:
    """``load(path)``, reusing the previous result while ``path`` (name, size, mtime) is the same file."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _LAST_FILE and _LAST_FILE[0][0] == key:
        return _LAST_FILE[0][1]
    _LAST_FILE.clear()
    value = load(path)
    _LAST_FILE.append((key, value))
    return value


def _read_itk(item: InputItem, spacing: Sequence[float] | None) -> LoadedImage:
    from lunet.data.camus_io import read_image

    array, own = read_image(item.path) if item.frame is None else cached_file(item.path, read_image)
    if array.ndim == 3:
        frame = item.frame or 0
        if frame >= array.shape[0]:
            raise InputFormatError(f"{item.path}: frame {frame} out of range ({array.shape[0]} frames)")
        array = array[frame]
    if spacing is not None and tuple(spacing) != tuple(own):
        logger.debug("%s: using the file's own spacing %s mm, not --spacing", item.path, own)
    return LoadedImage(item, array.astype(np.float32), (float(own[0]), float(own[1])))


def read_item(item: InputItem, spacing: Sequence[float] | None = None) -> LoadedImage:
    """Read one frame; ``spacing`` ``(row_mm, col_mm)`` is used only where the file has none (PNG, DICOM).

    Raises:
        InputFormatError (or the data area's ``CamusFormatError``, also a ``ValueError``): unreadable input.
    """
    if item.kind == "png":
        loaded = _read_png(item, spacing)
    elif item.kind == "dicom":
        from lunet.inference.dicom import read_dicom

        loaded = read_dicom(item, spacing)
    else:
        loaded = _read_itk(item, spacing)
    if loaded.image.ndim != 2 or min(loaded.image.shape) < 2:
        raise InputFormatError(f"{item.path}: expected a 2-D image, got shape {loaded.image.shape}")
    if not np.isfinite(loaded.image).all():
        raise InputFormatError(f"{item.path}: image holds NaN or infinite values")
    return loaded
