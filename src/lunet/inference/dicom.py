"""DICOM input of ``lunet predict`` (pydicom): single- and multi-frame ultrasound, any common encoding.

Sizes are checked from the header (``Rows``, ``Columns``, ``NumberOfFrames``, ``SamplesPerPixel``,
``BitsAllocated``) against :class:`lunet.limits.SizeLimits` before any pixel is decoded, and frames are
decoded one at a time (``Decoder.as_array(index=…)``). Colour is converted explicitly
(:mod:`lunet.inference.dicom_pixels`). Spacing: the calibrated B-mode region(s)
(:mod:`lunet.inference.dicom_regions`; the frame is cropped to the region), else ``PixelSpacing`` /
``ImagerPixelSpacing``, else the user's ``--spacing``; without any, the file is refused (no guessed 1 mm).
Errors say what is wrong in words (``pixel data truncated: 177,830 of 614,400 bytes``), not the library's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lunet.inference.dicom_pixels import grey_frame
from lunet.inference.dicom_regions import Region, bmode_regions, pixel_spacing
from lunet.inference.inputs import InputFormatError, InputItem, LoadedImage, cached_file, check_spacing
from lunet.limits import DEFAULT_LIMITS, SizeLimits

logger = logging.getLogger(__name__)

#: What to install for compressed transfer syntaxes pydicom cannot decode with what is present.
_DECODERS_HINT = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle"


def _dcmread(path: Path, stop_before_pixels: bool) -> Any:
    """The dataset, also without the 128-byte preamble (older files); errors in words."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        try:
            return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
        except InvalidDicomError:
            ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, force=True)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        logger.debug("%s: pydicom: %s: %s", path, type(err).__name__, err)
        raise InputFormatError(
            f"{path}: not a readable DICOM file (not DICOM, or its header is damaged or cut short)"
        ) from None
    if "Rows" not in ds:
        raise InputFormatError(
            f"{path}: not a DICOM image (no DICOM preamble or no Rows/Columns in the header)"
        )
    return ds


def _geometry(ds: Any, path: Path) -> tuple[int, int, int, int, int]:
    """``(rows, cols, frames, samples, bits_allocated)`` from the header."""
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
        bits = int(getattr(ds, "BitsAllocated", 8) or 8)
    except (AttributeError, TypeError, ValueError) as err:
        raise InputFormatError(f"{path}: DICOM header without a usable image size ({err})") from None
    if rows < 2 or cols < 2 or frames < 1 or samples not in (1, 3) or bits not in (1, 8, 16, 32, 64):
        raise InputFormatError(
            f"{path}: DICOM image size not supported (Rows {rows}, Columns {cols}, NumberOfFrames {frames}, "
            f"SamplesPerPixel {samples}, BitsAllocated {bits})"
        )
    return rows, cols, frames, samples, bits


def check_dicom_size(ds: Any, path: Path, limits: SizeLimits | None = None) -> int:
    """Refuse a DICOM beyond ``limits`` from its header alone; returns its number of frames."""
    rows, cols, frames, samples, bits = _geometry(ds, path)
    problem = (limits or DEFAULT_LIMITS).problem(rows, cols, frames, samples * max(bits // 8, 1))
    if problem:
        raise InputFormatError(f"{path}: {problem}")
    return frames


def dicom_layout(path: Path, limits: SizeLimits | None = None) -> tuple[int, list[Region]]:
    """``(frames, B-mode regions)`` of a DICOM file from its header (no pixel data read)."""
    ds = _dcmread(path, stop_before_pixels=True)
    return check_dicom_size(ds, path, limits), bmode_regions(ds, path)


def _native_bytes(ds: Any, path: Path) -> int:
    """Bytes that uncompressed pixel data must hold."""
    rows, cols, frames, samples, bits = _geometry(ds, path)
    if str(getattr(ds, "PhotometricInterpretation", "")).upper() == "YBR_FULL_422":
        return rows * cols * 2 * frames * bits // 8
    return math.ceil(rows * cols * frames * samples * bits / 8)


def _load(path: Path, limits: SizeLimits) -> Any:
    """The whole dataset (compressed pixel bytes included, nothing decoded), checked against ``limits``."""
    head = _dcmread(path, stop_before_pixels=True)
    check_dicom_size(head, path, limits)  # before the pixel data are read
    ds = _dcmread(path, stop_before_pixels=False)
    if "PixelData" not in ds:
        raise InputFormatError(f"{path}: the DICOM file holds no image (no pixel data)")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is None or not syntax.is_encapsulated:
        have, need = len(ds.PixelData), _native_bytes(ds, path)
        if have < need:
            raise InputFormatError(f"{path}: pixel data truncated: {have:,} of {need:,} bytes")
    return ds


def _decode(ds: Any, path: Path, frame: int) -> np.ndarray:
    """One frame as grey levels (``raw`` decoding, then the explicit colour conversion)."""
    from pydicom.pixels import as_pixel_options, get_decoder
    from pydicom.uid import ImplicitVRLittleEndian

    syntax = ds.file_meta.get("TransferSyntaxUID") or ImplicitVRLittleEndian
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise InputFormatError(f"{path}: transfer syntax {syntax} is not a DICOM image encoding") from None
    if not decoder.is_available:
        raise InputFormatError(
            f"{path}: pixel data compressed as {syntax.name}; no decoder for it is installed "
            f"({_DECODERS_HINT})"
        )
    try:
        array, meta = decoder.as_array(ds, index=frame, raw=True, **as_pixel_options(ds))
    except Exception as err:  # pydicom and its plugins raise many types for one cause: bad pixel data
        logger.debug("%s: decoder error %s: %s", path, type(err).__name__, err)
        raise InputFormatError(
            f"{path}: pixel data cannot be decoded ({syntax.name}): the data are damaged or the encoding is "
            "not one the installed decoders handle"
        ) from None
    photometric = meta.get("photometric_interpretation", getattr(ds, "PhotometricInterpretation", ""))
    return grey_frame(array, photometric, ds, path)


def _pick_region(item: InputItem, regions: list[Region]) -> Region | None:
    if item.region is None:
        return regions[0] if regions else None
    for region in regions:
        if region.index == item.region:
            return region
    raise InputFormatError(f"{item.path}: no calibrated B-mode ultrasound region {item.region}")


def read_dicom(
    item: InputItem, spacing: Sequence[float] | None, limits: SizeLimits | None = None
) -> LoadedImage:
    """One frame (``item.frame``, else the first) of a DICOM file as grey levels with its spacing.

    The frame is cropped to the calibrated B-mode region (``item.region``, else the first) when there is one.
    """
    ds = cached_file(item.path, lambda p: _load(p, limits or DEFAULT_LIMITS))
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    frame = item.frame or 0
    if frame >= frames:
        raise InputFormatError(f"{item.path}: frame {frame} out of range ({frames} frames)")
    pixels = _decode(ds, item.path, frame)
    region = _pick_region(item, bmode_regions(ds, item.path))
    first = item.frame in (None, 0)
    note = "DICOM input: mask written as NIfTI on the DICOM pixel grid"
    if region is not None:
        if region.bounds is not None:
            r0, r1, c0, c1 = region.bounds
            pixels = pixels[r0 : r1 + 1, c0 : c1 + 1]
            note = "DICOM input: mask written as NIfTI on the grid of the calibrated region"
        note += f"; {region.describe()}"
        own: tuple[float, float] | None = region.spacing
        if first:
            logger.info("%s: %s", item.path, region.describe())
    else:
        own = pixel_spacing(ds, item.path)
    if own is None and spacing is None:
        raise InputFormatError(
            f"{item.path}: no pixel spacing in the DICOM (no calibrated B-mode region, no PixelSpacing); "
            "give it with --spacing ROW_MM COL_MM"
        )
    if own is None:
        note += "; spacing from --spacing"
    elif spacing is not None and first:
        logger.info("%s: --spacing ignored: the file is calibrated (%.4f × %.4f mm)", item.path, *own)
    return LoadedImage(item, pixels, own if own is not None else check_spacing(item.path, spacing), note)
