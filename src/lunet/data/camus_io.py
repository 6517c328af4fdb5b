"""Reading and writing single CAMUS image files (``.mhd``/``.raw`` and ``.nii[.gz]``).

Every problem with a file becomes a :class:`CamusFormatError` naming the file and what is wrong; SimpleITK
exceptions never leak out. Headers are checked by hand *before* SimpleITK sees the file, because SimpleITK
silently accepts some broken inputs: a truncated ``.nii.gz`` reads as zeros, a zero NIfTI ``pixdim`` becomes
a spacing of 1 mm, a negative one becomes its absolute value.

Spacing is ``(row_mm, col_mm)``, the reverse of SimpleITK's ``(x, y)``.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from lunet.data.camus_errors import CamusFormatError
from lunet.data.camus_mhd import check_mhd_header, mhd_header_text
from lunet.io import atomic_path, atomic_write
from lunet.limits import DEFAULT_LIMITS, SizeLimits

__all__ = [
    "CamusFormatError",
    "check_size",
    "read_frame",
    "read_header",
    "read_image",
    "read_sequence",
    "write_image",
]

#: NIfTI-1 datatype code -> bytes per voxel (complex and RGB types are rejected).
_NIFTI_TYPES = {2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 256: 1, 512: 2, 768: 4, 1024: 8, 1280: 8}


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".nii.gz", ".nii", ".mhd"):
        if name.endswith(suffix):
            return suffix
    raise CamusFormatError(f"{path}: unsupported image type (expected .nii.gz, .nii or .mhd)")


#: Decompressed bytes read at a time while checking a NIfTI file (memory stays bounded by this).
_CHUNK = 1 << 20
#: Bytes a NIfTI file may hold beyond what its header promises (padding of some writers).
_NIFTI_SLACK = 4096


def _nifti_fields(path: Path, head: bytes) -> tuple[tuple[int, ...], int, tuple[float, float], float]:
    """``(dims, datatype, (pixdim x, pixdim y), vox_offset)`` of a NIfTI-1 or NIfTI-2 header."""
    if len(head) < 348:
        raise CamusFormatError(f"{path}: truncated NIfTI header ({len(head)} bytes, expected ≥ 348)")
    for endian in ("<", ">"):
        (sizeof_hdr,) = struct.unpack_from(endian + "i", head, 0)
        if sizeof_hdr in (348, 540):
            break
    else:
        raise CamusFormatError(f"{path}: not a NIfTI file (bad header size field)")
    if sizeof_hdr == 540:
        if len(head) < 540:
            raise CamusFormatError(f"{path}: truncated NIfTI-2 header ({len(head)} bytes, expected 540)")
        dims = struct.unpack_from(endian + "8q", head, 16)
        (datatype,) = struct.unpack_from(endian + "h", head, 12)
        pixdim = struct.unpack_from(endian + "8d", head, 104)
        (vox_offset,) = struct.unpack_from(endian + "q", head, 168)
    else:
        dims = struct.unpack_from(endian + "8h", head, 40)
        (datatype,) = struct.unpack_from(endian + "h", head, 70)
        pixdim = struct.unpack_from(endian + "8f", head, 76)
        (vox_offset,) = struct.unpack_from(endian + "f", head, 108)
    ndim = dims[0]
    if not 2 <= ndim <= 4 or any(d < 1 for d in dims[1 : ndim + 1]):
        raise CamusFormatError(
            f"{path}: invalid NIfTI dimensions {dims[: ndim + 1] if 0 < ndim < 8 else dims}"
        )
    return tuple(int(d) for d in dims[1 : ndim + 1]), int(datatype), (pixdim[1], pixdim[2]), float(vox_offset)


def _check_nifti(path: Path, limits: SizeLimits) -> None:
    """Validate a NIfTI file by streaming it: header, size limits, and exactly the promised voxel bytes.

    The header is read first; a file beyond ``limits`` is refused before any voxel is decompressed, and the
    rest is decompressed chunk by chunk, so a ``.nii.gz`` that inflates beyond its header is refused as soon
    as it passes the promised size (memory stays at one chunk).
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(540)
            dims, datatype, pixdim, vox_offset = _nifti_fields(path, head)
            if datatype not in _NIFTI_TYPES:
                raise CamusFormatError(f"{path}: unsupported NIfTI datatype code {datatype}")
            for value, name in zip(pixdim, ("x", "y")):
                if not (math.isfinite(value) and value > 0):
                    raise CamusFormatError(
                        f"{path}: invalid pixel spacing along {name}: {value!r} (must be > 0 mm)"
                    )
            if not math.isfinite(vox_offset) or vox_offset < 0:
                raise CamusFormatError(f"{path}: invalid NIfTI vox_offset {vox_offset!r}")
            check_size(path, dims[1], dims[0], math.prod(dims[2:]), _NIFTI_TYPES[datatype], limits)
            needed = int(vox_offset) + math.prod(dims) * _NIFTI_TYPES[datatype]
            total = len(head)
            while chunk := handle.read(_CHUNK):
                total += len(chunk)
                if total > needed + _NIFTI_SLACK:
                    raise CamusFormatError(
                        f"{path}: holds more data than its header promises (over {total:,} bytes "
                        f"decompressed, header promises {needed:,}); refused"
                    )
    except (EOFError, OSError, zlib.error) as err:
        raise CamusFormatError(f"{path}: unreadable or truncated file ({err})") from None
    if total < needed:
        raise CamusFormatError(f"{path}: truncated voxel data ({total} bytes, expected {needed})")


def check_size(
    path: Path, rows: int, cols: int, frames: int, itemsize: int, limits: SizeLimits | None = None
) -> None:
    """Refuse a file whose header promises more than ``limits`` (a :class:`CamusFormatError`)."""
    problem = (limits or DEFAULT_LIMITS).problem(rows, cols, frames, itemsize)
    if problem:
        raise CamusFormatError(f"{path}: {problem}")


def _check_file(path: Path, limits: SizeLimits | None) -> str:
    if not path.is_file():
        raise CamusFormatError(f"{path}: file not found")
    suffix = _suffix(path)
    limits = limits or DEFAULT_LIMITS
    if suffix == ".mhd":
        dims, dtype, _ = check_mhd_header(path)
        check_size(path, dims[1], dims[0], math.prod(dims[2:]), dtype.itemsize, limits)
    else:
        _check_nifti(path, limits)
    return suffix


def _spacing_rc(path: Path, spacing_xyz: tuple[float, ...]) -> tuple[float, float]:
    if len(spacing_xyz) < 2:
        raise CamusFormatError(f"{path}: image has fewer than 2 dimensions")
    from lunet.data.preprocess import check_spacing

    return check_spacing((spacing_xyz[1], spacing_xyz[0]), str(path), CamusFormatError)


def read_image(
    path: str | os.PathLike[str], limits: SizeLimits | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Read an image or label file with every singleton axis squeezed.

    Args:
        path: ``.nii.gz``, ``.nii`` or ``.mhd`` (with its ``.raw``) file.
        limits: size limits checked on the header before reading (default :data:`DEFAULT_LIMITS`).

    Returns:
        ``(array, spacing)``: the array as stored (dtype kept), ``(rows, cols)`` for a frame or
        ``(T, rows, cols)`` for a sequence; spacing ``(row_mm, col_mm)``.

    Raises:
        CamusFormatError: missing/unreadable/truncated file, bad header, non-positive spacing, >3 axes,
            beyond the size limits.
    """
    path = Path(path)
    _check_file(path, limits)  # before SimpleITK is even imported
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
        array = sitk.GetArrayFromImage(image)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise CamusFormatError(f"{path}: SimpleITK cannot read the file ({first[:200]})") from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise CamusFormatError(
            f"{path}: expected a scalar image, found {image.GetNumberOfComponentsPerPixel()} channels"
        )
    spacing = _spacing_rc(path, image.GetSpacing())
    rows_cols = array.shape[-2:]
    lead = [n for n in array.shape[:-2] if n != 1]
    if len(lead) > 1 or min(rows_cols) < 1:
        raise CamusFormatError(
            f"{path}: unsupported image shape {array.shape} (expected (rows, cols) or (T, rows, cols))"
        )
    return array.reshape((*lead, *rows_cols)), spacing


def read_frame(
    path: str | os.PathLike[str], limits: SizeLimits | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a single frame ``(rows, cols)``; a multi-frame file is a :class:`CamusFormatError`.

    ``limits`` are checked on the header before any voxel is decoded, as in :func:`read_image`.
    """
    array, spacing = read_image(path, limits)
    if array.ndim != 2:
        raise CamusFormatError(
            f"{path}: expected a single frame, found {array.shape[0]} frames (shape {array.shape})"
        )
    return array, spacing


def read_sequence(
    path: str | os.PathLike[str], limits: SizeLimits | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a sequence ``(T, rows, cols)``; a one-frame file gives ``T = 1``.

    ``limits`` are checked on the header before any voxel is decoded, as in :func:`read_image`.
    """
    array, spacing = read_image(path, limits)
    return (array[None] if array.ndim == 2 else array), spacing


def read_header(
    path: str | os.PathLike[str], limits: SizeLimits | None = None
) -> tuple[tuple[int, ...], tuple[float, float]]:
    """Shape (squeezed, numpy order) and spacing ``(row_mm, col_mm)`` from the header (no pixel kept).

    The file is checked as by :func:`read_image` (a ``.nii.gz`` is decompressed chunk by chunk to check its
    length, nothing is kept), so a file that passes here is readable within ``limits``.
    """
    path = Path(path)
    _check_file(path, limits)  # before SimpleITK is even imported
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise CamusFormatError(f"{path}: SimpleITK cannot read the header") from None
    shape = tuple(int(n) for n in reversed(reader.GetSize()))
    lead = tuple(n for n in shape[:-2] if n != 1)
    return (*lead, *shape[-2:]), _spacing_rc(path, reader.GetSpacing())


def write_image(path: str | os.PathLike[str], array: np.ndarray, spacing: tuple[float, float]) -> Path:
    """Write an image or label file atomically, the way CAMUS stores it (dtype kept).

    Args:
        path: destination ending in ``.nii.gz``, ``.nii`` or ``.mhd`` (a ``.raw`` is written next to it).
        array: ``(rows, cols)`` frame or ``(T, rows, cols)`` sequence. An ``.mhd`` frame is stored 3-D with
            one slice, as in the 2019 challenge release.
        spacing: ``(row_mm, col_mm)``, both > 0.

    Returns:
        The written path.
    """
    import SimpleITK as sitk

    path = Path(path)
    array = np.ascontiguousarray(array)
    if array.ndim not in (2, 3):
        raise ValueError(
            f"write_image {path}: expected (rows, cols) or (T, rows, cols), got shape {array.shape}"
        )
    row_mm, col_mm = (float(s) for s in spacing)
    if not (row_mm > 0 and col_mm > 0 and math.isfinite(row_mm) and math.isfinite(col_mm)):
        raise ValueError(f"write_image {path}: spacing must be positive, got {spacing}")
    if _suffix(path) == ".mhd":
        volume = array[None] if array.ndim == 2 else array
        raw_path = path.with_suffix(".raw")
        with atomic_write(raw_path) as handle:
            handle.write(volume.astype(volume.dtype.newbyteorder("<"), copy=False).tobytes())  # type: ignore[attr-defined]
        text = mhd_header_text(volume.shape, volume.dtype, (col_mm, row_mm, 1.0), raw_path.name)
        with atomic_write(path, "w") as handle:
            handle.write(text)  # type: ignore[attr-defined]
        return path
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((col_mm, row_mm) if array.ndim == 2 else (col_mm, row_mm, 1.0))
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=path.name.lower().endswith(".gz"))
    return path
