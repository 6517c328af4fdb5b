"""Writers of hostile inputs, generated on the fly: decompression bombs and headers that lie."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(path: Path, side: int = 8000) -> Path:
    """A valid grey PNG of ``side × side`` pixels of one level: tens of KB that decode to side² bytes."""
    row = b"\x00" * (side + 1)  # filter byte + pixels
    packer = zlib.compressobj(9)
    block = packer.compress(row * 256)
    body = [block * (side // 256)]
    body.append(packer.compress(row * (side % 256)))
    body.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(body))
    path.write_bytes(data + _png_chunk(b"IEND", b""))
    return path


def nifti1_header(shape_xyz: tuple[int, ...], datatype: int = 2, bitpix: int = 8) -> bytes:
    """A little-endian NIfTI-1 single-file header (348 bytes + 4 extension bytes), spacing 0.3 mm."""
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    dims = [len(shape_xyz), *shape_xyz] + [1] * (7 - len(shape_xyz))
    struct.pack_into("<8h", header, 40, *dims)
    struct.pack_into("<hh", header, 70, datatype, bitpix)
    struct.pack_into("<8f", header, 76, 1.0, 0.3, 0.3, 1.0, 1.0, 1.0, 1.0, 1.0)
    struct.pack_into("<f", header, 108, 352.0)
    header[344:348] = b"n+1\x00"
    return bytes(header)


def nifti_gz_bomb(path: Path, inflated_mb: int = 200) -> Path:
    """A ``.nii.gz`` whose header promises 64 × 64 uint8 and whose gzip stream inflates to ``inflated_mb`` MB.

    Built of repeated gzip members (a valid multi-member stream), so writing it is fast.
    """
    zeros = gzip.compress(b"\x00" * 2**20, compresslevel=9)
    path.write_bytes(gzip.compress(nifti1_header((64, 64))) + zeros * inflated_mb)
    return path


def nifti_gz_liar(path: Path, shape_xyz: tuple[int, ...], payload: int) -> Path:
    """A ``.nii.gz`` whose header promises ``shape_xyz`` uint8 voxels and that holds ``payload`` bytes."""
    path.write_bytes(gzip.compress(nifti1_header(shape_xyz) + b"\x01" * payload))
    return path


def mhd_liar(path: Path, dim_size: tuple[int, ...], raw_bytes: int) -> Path:
    """An ``.mhd`` promising ``dim_size`` (x, y[, z]) uint8 voxels with a sparse ``.raw`` of ``raw_bytes``."""
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as handle:
        handle.truncate(raw_bytes)
    path.write_text(
        f"ObjectType = Image\nNDims = {len(dim_size)}\nDimSize = {' '.join(map(str, dim_size))}\n"
        f"ElementSpacing = {' '.join(['0.3'] * len(dim_size))}\nElementType = MET_UCHAR\n"
        f"ElementDataFile = {raw.name}\n"
    )
    return path


def dicom_beyond(path: Path, rows: int, cols: int, frames: int) -> Path:
    """An ultrasound DICOM whose header promises ``frames × rows × cols`` (the pixel data holds one row)."""
    import pydicom
    from inference_helpers import write_dicom

    write_dicom(path, np.zeros((2, 1, cols), np.uint8), pixel_spacing=(0.3, 0.3))
    ds = pydicom.dcmread(path)
    ds.Rows, ds.NumberOfFrames = rows, frames
    ds.PixelData = np.zeros(cols, np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
