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

__all__ = ["CamusFormatError", "read_frame", "read_header", "read_image", "read_sequence", "write_image"]

#: NIfTI-1 datatype code -> bytes per voxel (complex and RGB types are rejected).
_NIFTI_TYPES = {2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 256: 1, 512: 2, 768: 4, 1024: 8, 1280: 8}


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".nii.gz", ".nii", ".mhd"):
        if name.endswith(suffix):
            return suffix
    raise CamusFormatError(f"{path}: unsupported image type (expected .nii.gz, .nii or .mhd)")


def _check_nifti(path: Path) -> None:
    """Validate a NIfTI-1 file: complete gzip stream, sane dims, positive spacing, enough voxel bytes."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.name.lower().endswith(".gz") else path.read_bytes()
    except (EOFError, OSError, zlib.error) as err:
        raise CamusFormatError(f"{path}: unreadable or truncated file ({err})") from None
    if len(data) < 348:
        raise CamusFormatError(f"{path}: truncated NIfTI header ({len(data)} bytes, expected ≥ 348)")
    for endian in ("<", ">"):
        (sizeof_hdr,) = struct.unpack_from(endian + "i", data, 0)
        if sizeof_hdr in (348, 540):
            break
    else:
        raise CamusFormatError(f"{path}: not a NIfTI file (bad header size field)")
    if sizeof_hdr == 540:  # NIfTI-2: leave the details to SimpleITK, spacing is checked after reading
        return
    dims = struct.unpack_from(endian + "8h", data, 40)
    (datatype,) = struct.unpack_from(endian + "h", data, 70)
    pixdim = struct.unpack_from(endian + "8f", data, 76)
    (vox_offset,) = struct.unpack_from(endian + "f", data, 108)
    ndim = dims[0]
    if not 2 <= ndim <= 4 or any(d < 1 for d in dims[1 : ndim + 1]):
        raise CamusFormatError(
            f"{path}: invalid NIfTI dimensions {dims[: ndim + 1] if 0 < ndim < 8 else dims}"
        )
    if datatype not in _NIFTI_TYPES:
        raise CamusFormatError(f"{path}: unsupported NIfTI datatype code {datatype}")
    for axis, name in ((1, "x"), (2, "y")):
        if not (math.isfinite(pixdim[axis]) and pixdim[axis] > 0):
            raise CamusFormatError(
                f"{path}: invalid pixel spacing along {name}: {pixdim[axis]!r} (must be > 0 mm)"
            )
    if not math.isfinite(vox_offset) or vox_offset < 0:
        raise CamusFormatError(f"{path}: invalid NIfTI vox_offset {vox_offset!r}")
    needed = int(vox_offset) + math.prod(dims[1 : ndim + 1]) * _NIFTI_TYPES[datatype]
    if len(data) < needed:
        raise CamusFormatError(f"{path}: truncated voxel data ({len(data)} bytes, expected {needed})")


def _check_file(path: Path) -> str:
    if not path.is_file():
        raise CamusFormatError(f"{path}: file not found")
    suffix = _suffix(path)
    if suffix == ".mhd":
        check_mhd_header(path)
    else:
        _check_nifti(path)
    return suffix


def _spacing_rc(path: Path, spacing_xyz: tuple[float, ...]) -> tuple[float, float]:
    if len(spacing_xyz) < 2:
        raise CamusFormatError(f"{path}: image has fewer than 2 dimensions")
    spacing = (float(spacing_xyz[1]), float(spacing_xyz[0]))
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        raise CamusFormatError(f"{path}: invalid pixel spacing {spacing} mm (must be finite and > 0)")
    return spacing


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, tuple[float, float]]:
    """Read an image or label file with every singleton axis squeezed.

    Args:
        path: ``.nii.gz``, ``.nii`` or ``.mhd`` (with its ``.raw``) file.

    Returns:
        ``(array, spacing)``: the array as stored (dtype kept), ``(rows, cols)`` for a frame or
        ``(T, rows, cols)`` for a sequence; spacing ``(row_mm, col_mm)``.

    Raises:
        CamusFormatError: missing/unreadable/truncated file, bad header, non-positive spacing, >3 axes.
    """
    import SimpleITK as sitk

    path = Path(path)
    _check_file(path)
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


def read_frame(path: str | os.PathLike[str]) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a single frame ``(rows, cols)``; a multi-frame file is a :class:`CamusFormatError`."""
    array, spacing = read_image(path)
    if array.ndim != 2:
        raise CamusFormatError(
            f"{path}: expected a single frame, found {array.shape[0]} frames (shape {array.shape})"
        )
    return array, spacing


def read_sequence(path: str | os.PathLike[str]) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a sequence ``(T, rows, cols)``; a one-frame file gives ``T = 1``."""
    array, spacing = read_image(path)
    return (array[None] if array.ndim == 2 else array), spacing


def read_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], tuple[float, float]]:
    """Shape (squeezed, numpy order) and spacing ``(row_mm, col_mm)`` from the header only (fast)."""
    import SimpleITK as sitk

    path = Path(path)
    _check_file(path)
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
