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
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from lunet.inference.dicom import dicom_layout, read_dicom
from lunet.inference.inputs import (
    InputFormatError,
    InputItem,
    LoadedImage,
    cached_file,
    check_spacing,
    to_grayscale,
)
from lunet.limits import DEFAULT_LIMITS, SizeLimits

__all__ = [
    "InputFormatError",
    "InputItem",
    "LoadedImage",
    "expand_inputs",
    "file_kind",
    "read_item",
    "to_grayscale",
]

logger = logging.getLogger(__name__)

#: CAMUS file-name pattern of an annotated frame: ``patient0001_2CH_ED``.
CAMUS_NAME = re.compile(r"^(patient\d+)_(2CH|4CH)_(ED|ES)$")
#: Extensions that are never images (and ``.raw``, the data half of an MHD pair).
_SKIP_SUFFIXES = {".raw", ".cfg", ".txt", ".json", ".csv", ".md", ".zip", ".gz_", ".onnx", ".ckpt"}


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


def header_layout(path: Path, kind: str, limits: SizeLimits | None = None) -> tuple[int, list[int | None]]:
    """``(frames, regions)`` of a file from its header, refused beyond ``limits`` (default limits if None).

    Frames is 1 for a single image; regions is ``[None]`` unless a DICOM has several calibrated B-mode
    regions (then their indices).
    """
    if kind in ("nifti", "mhd"):
        from lunet.data.camus_io import read_header

        shape, _ = read_header(path, limits)
        return (shape[0] if len(shape) == 3 else 1), [None]
    if kind == "dicom":
        frames, regions = dicom_layout(path, limits)
        return frames, ([r.index for r in regions] if len(regions) > 1 else [None])
    _png_size(path, limits)
    return 1, [None]


def _unreadable_message(path: Path) -> str:
    return (
        f"{path}: not an image lunet reads (unknown extension and no DICOM preamble); "
        "rename it .dcm if it is a DICOM file"
    )


def _folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Image files under ``folder`` (sorted, recursed), and files of unknown type there.

    In a CAMUS patient folder only its ED/ES frames are taken (the rest is expected there). Elsewhere, a file
    with an unknown extension and no DICOM preamble is returned as unknown, to be reported, never dropped
    silently; names with known non-image extensions (``.raw``, ``.cfg``, ``.txt`` …) and hidden files are not.
    """
    files: list[Path] = []
    unknown: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        candidates = sorted(Path(root) / n for n in names if not n.startswith("."))
        camus = [p for p in candidates if file_kind(p) and CAMUS_NAME.match(InputItem(p, "x").stem)]
        if camus:  # a CAMUS patient folder: skip _gt, sequences and the rest
            files.extend(camus)
            continue
        for path in candidates:
            if file_kind(path):
                files.append(path)
            elif path.suffix.lower() not in _SKIP_SUFFIXES:
                unknown.append(path)
    return files, unknown


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
    inputs: Iterable[str | os.PathLike[str]],
    frames: Sequence[int] | None = None,
    limits: SizeLimits | None = None,
    region: int | None = None,
    cines: list[Path] | None = None,
) -> tuple[list[InputItem], list[tuple[str, str]]]:
    """Turn command-line inputs into frames to predict, reading headers only.

    Args:
        inputs: files, folders (recursed) and ``@list.txt`` files.
        frames: frame indices to keep in multi-frame files (``None``: every frame).
        limits: size limits checked on every header (default :data:`lunet.limits.DEFAULT_LIMITS`).
        region: the calibrated B-mode region to segment in DICOM files with several (``None``: each of them).
        cines: when a list is given (and ``frames`` is None), multi-frame files (cines) are appended to it
            instead of being expanded into frames, to be predicted as sequences; a DICOM with several
            calibrated regions (a dual display) or a ``region`` choice stays frame by frame.

    Returns:
        ``(items, errors)``: the frames in input order, and ``(path, message)`` for inputs that cannot be used
        (missing, unknown type, unreadable header, beyond the limits): logged and skipped, never raised.
    """
    limits = limits or DEFAULT_LIMITS
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
            files, unknown = _folder_files(path)
            errors.extend((str(p), _unreadable_message(p)) for p in unknown)
            queue[:0] = [str(p) for p in files]
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
            n_frames, regions = header_layout(path, kind, limits)
        except (ValueError, OSError) as err:
            errors.append((raw, str(err)))
            continue
        if region is not None:
            if kind != "dicom":
                regions = [None]
            elif regions != [None] and region not in regions:
                errors.append((raw, f"{path}: no calibrated B-mode region {region} (regions {regions})"))
                continue
            else:
                regions = [region]
        stem = InputItem(path, kind).stem
        pid, view, instant = _camus_fields(stem)
        if n_frames == 1:
            items.extend(InputItem(path, kind, None, pid, view, instant, r) for r in regions)
            continue
        if cines is not None and frames is None and regions == [None]:
            cines.append(path)
            continue
        wanted = range(n_frames) if frames is None else [f for f in frames if 0 <= f < n_frames]
        if frames is not None and len(wanted) < len(frames):
            logger.warning("%s: %d frames; frames out of range ignored", path, n_frames)
        items.extend(InputItem(path, kind, f, region=r) for f in wanted for r in regions)
    for raw, message in errors:
        logger.error("skipping input %s", message if raw in message else f"{raw}: {message}")
    return items, errors


def _png_size(path: Path, limits: SizeLimits) -> tuple[int, int]:
    """``(rows, cols)`` of a PNG/JPEG from its header (Pillow's lazy open), refused beyond ``limits``.

    Pillow's own decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``) stays on: lunet never disables it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            cols, rows = img.size
            bands = len(img.getbands())
    except Image.DecompressionBombError as err:
        raise InputFormatError(f"{path}: refused by Pillow's decompression-bomb guard ({err})") from None
    except (OSError, UnidentifiedImageError, SyntaxError) as err:
        logger.debug("%s: Pillow: %s", path, err)
        raise InputFormatError(f"{path}: unreadable image (not a PNG/JPEG, or damaged)") from None
    problem = limits.problem(rows, cols, 1, bands)
    if problem:
        raise InputFormatError(f"{path}: {problem}")
    return rows, cols


def _read_png(item: InputItem, spacing: Sequence[float] | None, limits: SizeLimits) -> LoadedImage:
    from PIL import Image, UnidentifiedImageError

    if spacing is None:
        raise InputFormatError(
            f"{item.path}: PNG/JPEG files carry no pixel spacing; give it with --spacing ROW_MM COL_MM"
        )
    _png_size(item.path, limits)
    try:
        with Image.open(item.path) as img:
            img.load()
            array = np.asarray(img.convert("RGB") if img.mode in ("P", "PA", "CMYK", "YCbCr", "LA") else img)
    except Image.DecompressionBombError as err:
        raise InputFormatError(f"{item.path}: refused by Pillow's decompression-bomb guard ({err})") from None
    except (OSError, UnidentifiedImageError, SyntaxError) as err:
        logger.debug("%s: Pillow: %s", item.path, err)
        raise InputFormatError(f"{item.path}: image data damaged or cut short") from None
    return LoadedImage(item, to_grayscale(array), check_spacing(item.path, spacing))


def _read_itk(item: InputItem, spacing: Sequence[float] | None, limits: SizeLimits) -> LoadedImage:
    from lunet.data.camus_io import read_image

    array, own = cached_file(item.path, lambda p: read_image(p, limits))
    if array.ndim == 3:
        frame = item.frame or 0
        if frame >= array.shape[0]:
            raise InputFormatError(f"{item.path}: frame {frame} out of range ({array.shape[0]} frames)")
        array = array[frame]
    if spacing is not None and tuple(spacing) != tuple(own) and item.frame in (None, 0):
        logger.info("%s: --spacing ignored: the file has its own spacing %s mm", item.path, own)
    return LoadedImage(item, array, (float(own[0]), float(own[1])))


def read_item(
    item: InputItem, spacing: Sequence[float] | None = None, limits: SizeLimits | None = None
) -> LoadedImage:
    """Read one frame; ``spacing`` ``(row_mm, col_mm)`` is used only where the file has none (PNG, DICOM).

    Args:
        item: from :func:`expand_inputs`.
        spacing: the user's ``--spacing``.
        limits: size limits, checked on the header before decoding (default ``DEFAULT_LIMITS``).

    Raises:
        InputFormatError (or the data area's ``CamusFormatError``, also a ``ValueError``): unreadable input,
        or one beyond the limits.
    """
    limits = limits or DEFAULT_LIMITS
    if item.kind == "png":
        loaded = _read_png(item, spacing, limits)
    elif item.kind == "dicom":
        loaded = read_dicom(item, spacing, limits)
    else:
        loaded = _read_itk(item, spacing, limits)
    if loaded.image.ndim != 2 or min(loaded.image.shape) < 2:
        raise InputFormatError(f"{item.path}: expected a 2-D image, got shape {loaded.image.shape}")
    if loaded.image.dtype.kind == "f" and not np.isfinite(loaded.image).all():
        raise InputFormatError(f"{item.path}: image holds NaN or infinite values")
    return loaded
