"""DICOM input of ``lunet predict`` (pydicom): single- and multi-frame ultrasound, colour or grayscale.

Spacing order: the ultrasound region calibration (``SequenceOfUltrasoundRegions``, cm → mm), ``PixelSpacing``,
``ImagerPixelSpacing``, then the user's ``--spacing``; without any, the file is refused (no guessed 1 mm).
Colour frames (RGB, or YBR converted to RGB by pydicom) become BT.601 luma.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lunet.inference.readers import (
    InputFormatError,
    InputItem,
    LoadedImage,
    _check_spacing,
    cached_file,
    to_grayscale,
)

logger = logging.getLogger(__name__)


def dicom_spacing(ds: object, path: Path) -> tuple[float, float] | None:
    """``(row_mm, col_mm)`` of a DICOM dataset, or ``None`` when it has no calibration.

    Order: the first ``SequenceOfUltrasoundRegions`` item with ``PhysicalUnitsX/YDirection`` = 3 (cm)
    (``PhysicalDeltaY`` rows, ``PhysicalDeltaX`` columns, × 10), then ``PixelSpacing`` (row, col in mm),
    then ``ImagerPixelSpacing``.
    """
    for region in getattr(ds, "SequenceOfUltrasoundRegions", None) or []:
        ux, uy = (
            getattr(region, "PhysicalUnitsXDirection", None),
            getattr(region, "PhysicalUnitsYDirection", None),
        )
        dx, dy = getattr(region, "PhysicalDeltaX", None), getattr(region, "PhysicalDeltaY", None)
        if ux == 3 and uy == 3 and dx and dy:
            return _check_spacing(path, (abs(float(dy)) * 10.0, abs(float(dx)) * 10.0))
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = getattr(ds, keyword, None)
        if value is not None and len(value) == 2:
            return _check_spacing(path, (float(value[0]), float(value[1])))
    return None


def _load(path: Path) -> tuple[Any, np.ndarray, tuple[float, float] | None]:
    """(dataset without pixel data, decoded pixels, own spacing or None) of a DICOM file."""
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except Exception as err:
        raise InputFormatError(f"{path}: unreadable DICOM pixel data ({type(err).__name__}: {err})") from None
    del ds.PixelData  # the decoded array is kept instead
    return ds, pixels, dicom_spacing(ds, path)


def read_dicom(item: InputItem, spacing: Sequence[float] | None) -> LoadedImage:
    """One frame (``item.frame``, else the first) of a DICOM file as grayscale float32 with its spacing."""
    ds, pixels, own = _load(item.path) if item.frame is None else cached_file(item.path, _load)
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        frame = item.frame or 0
        if frame >= pixels.shape[0]:
            raise InputFormatError(f"{item.path}: frame {frame} out of range ({pixels.shape[0]} frames)")
        pixels = pixels[frame]
    note = "DICOM input: mask written as NIfTI on the DICOM pixel grid"
    if own is None and spacing is None:
        raise InputFormatError(
            f"{item.path}: no pixel spacing in the DICOM (no ultrasound region calibration or PixelSpacing); "
            "give it with --spacing ROW_MM COL_MM"
        )
    if own is None:
        note += "; spacing from --spacing"
    elif spacing is not None:
        logger.debug("%s: using the DICOM's own spacing %s mm, not --spacing", item.path, own)
    return LoadedImage(
        item, to_grayscale(pixels), own if own is not None else _check_spacing(item.path, spacing), note
    )
