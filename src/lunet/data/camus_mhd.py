"""MetaImage (``.mhd`` + ``.raw``) headers: strict validation before SimpleITK reads, and writing.

SimpleITK fails on a broken MetaImage with a long ITK traceback, or worse reads it: a missing
``ElementSpacing`` defaults to 1 mm. :func:`check_mhd_header` checks every field that matters and that
the ``.raw`` file holds exactly the bytes the header promises.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lunet.data.camus_errors import CamusFormatError

#: MetaIO element types -> numpy dtypes (little endian unless the header says MSB).
MET_TYPES: dict[str, str] = {
    "MET_UCHAR": "u1",
    "MET_CHAR": "i1",
    "MET_USHORT": "u2",
    "MET_SHORT": "i2",
    "MET_UINT": "u4",
    "MET_INT": "i4",
    "MET_ULONG": "u8",
    "MET_LONG": "i8",
    "MET_ULONG_LONG": "u8",
    "MET_LONG_LONG": "i8",
    "MET_FLOAT": "f4",
    "MET_DOUBLE": "f8",
}
_MAX_HEADER_BYTES = 65536
_MAX_VOXELS = 2**31


def _parse_lines(path: Path, text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise CamusFormatError(f"{path}: line {number} is not 'Key = Value': {line[:60]!r}")
        fields[key.strip().lower()] = value.strip()
        if key.strip().lower() == "elementdatafile":
            break  # MetaIO: the data file is the last header field
    return fields


def _numbers(path: Path, fields: dict[str, str], key: str, count: int, kind: type) -> list:
    raw = fields.get(key.lower())
    if raw is None:
        raise CamusFormatError(f"{path}: missing header field {key}")
    parts = raw.split()
    try:
        values = [kind(p) for p in parts]
    except ValueError:
        raise CamusFormatError(f"{path}: header field {key} is not numeric: {raw[:60]!r}") from None
    if len(values) != count:
        raise CamusFormatError(f"{path}: header field {key} has {len(values)} values, expected {count}")
    if kind is float and not all(math.isfinite(v) for v in values):
        raise CamusFormatError(f"{path}: header field {key} has non-finite values: {raw[:60]!r}")
    return values


def check_mhd_header(path: Path) -> tuple[tuple[int, ...], np.dtype, tuple[float, ...]]:
    """Validate a ``.mhd`` header and its ``.raw`` data file.

    Args:
        path: the ``.mhd`` file.

    Returns:
        ``(dim_size, dtype, element_spacing)`` in MetaIO (x, y[, z]) order.

    Raises:
        CamusFormatError: any missing or garbage field, non-positive spacing, missing or short ``.raw``.
    """
    size = path.stat().st_size
    if size > _MAX_HEADER_BYTES:
        raise CamusFormatError(f"{path}: too large for a MetaImage header ({size} bytes); is it a data file?")
    text = path.read_bytes().decode("latin-1")
    if "\x00" in text:
        raise CamusFormatError(f"{path}: binary content in a MetaImage header")
    fields = _parse_lines(path, text)
    (ndims,) = _numbers(path, fields, "NDims", 1, int)
    if not 2 <= ndims <= 4:
        raise CamusFormatError(f"{path}: NDims = {ndims}, expected 2, 3 or 4")
    dims = _numbers(path, fields, "DimSize", ndims, int)
    if any(d < 1 for d in dims) or math.prod(dims) > _MAX_VOXELS:
        raise CamusFormatError(f"{path}: invalid DimSize {dims}")
    spacing_key = "ElementSpacing" if "elementspacing" in fields else "ElementSize"
    if spacing_key.lower() not in fields:
        raise CamusFormatError(f"{path}: missing header field ElementSpacing (pixel spacing in mm)")
    spacing = _numbers(path, fields, spacing_key, ndims, float)
    if any(s <= 0 for s in spacing):
        raise CamusFormatError(f"{path}: {spacing_key} must be > 0 mm along every axis, got {spacing}")
    for key, count in (
        ("TransformMatrix", ndims * ndims),
        ("Offset", ndims),
        ("Origin", ndims),
        ("Position", ndims),
    ):
        if key.lower() in fields:
            _numbers(path, fields, key, count, float)
    if fields.get("elementnumberofchannels", "1").strip() != "1":
        raise CamusFormatError(f"{path}: only single-channel images are supported")
    type_name = fields.get("elementtype")
    if type_name not in MET_TYPES:
        raise CamusFormatError(f"{path}: missing or unsupported ElementType {type_name!r}")
    msb = fields.get("elementbyteordermsb", fields.get("binarydatabyteordermsb", "False")).lower() == "true"
    dtype = np.dtype(MET_TYPES[type_name]).newbyteorder(">" if msb else "<")
    data_name = fields.get("elementdatafile", "")
    if not data_name or data_name.upper() in ("LOCAL", "LIST") or "%" in data_name:
        raise CamusFormatError(f"{path}: ElementDataFile must name a separate .raw file, got {data_name!r}")
    raw_path = path.parent / data_name
    if not raw_path.is_file():
        raise CamusFormatError(f"{path}: data file {raw_path.name} not found next to the header")
    compressed = fields.get("compresseddata", "False").lower() == "true"
    header_size = 0
    if "headersize" in fields:
        (header_size,) = _numbers(path, fields, "HeaderSize", 1, int)
        if header_size < 0:
            raise CamusFormatError(f"{path}: HeaderSize {header_size} is not supported")
    expected = header_size + math.prod(dims) * dtype.itemsize
    actual = raw_path.stat().st_size
    if not compressed and actual != expected:
        problem = "too short" if actual < expected else "too long"
        raise CamusFormatError(
            f"{path}: data file {raw_path.name} is {problem} ({actual} bytes, header promises {expected})"
        )
    return tuple(dims), dtype, tuple(spacing)


def mhd_header_text(
    shape: tuple[int, ...], dtype: np.dtype, spacing_xyz: tuple[float, ...], raw_name: str
) -> str:
    """MetaImage header for a numpy ``shape`` (z, y, x order) stored little endian in ``raw_name``."""
    names = {np.dtype(code): name for name, code in MET_TYPES.items() if "LONG_LONG" not in name}
    kind = np.dtype(dtype).newbyteorder("=")
    if kind not in names:
        raise ValueError(f"mhd_header_text: unsupported dtype {dtype}")
    ndims = len(shape)
    identity = " ".join("1" if i == j else "0" for i in range(ndims) for j in range(ndims))
    lines = [
        "ObjectType = Image",
        f"NDims = {ndims}",
        "BinaryData = True",
        "BinaryDataByteOrderMSB = False",
        "CompressedData = False",
        f"TransformMatrix = {identity}",
        "Offset = " + " ".join("0" for _ in range(ndims)),
        "CenterOfRotation = " + " ".join("0" for _ in range(ndims)),
        "AnatomicalOrientation = RAI"[: 24 + ndims],
        "ElementSpacing = " + " ".join(repr(float(s)) for s in spacing_xyz[:ndims]),
        "DimSize = " + " ".join(str(int(n)) for n in reversed(shape)),
        f"ElementType = {names[kind]}",
        f"ElementDataFile = {raw_name}",
    ]
    return "\n".join(lines) + "\n"
