"""Ultrasound calibration regions of a DICOM file (``SequenceOfUltrasoundRegions``, PS3.3 C.8.5.5).

A scanner's frame holds the B-mode image, and often a Doppler strip, an ECG trace or a second B-mode image
(a side-by-side dual display), each with its own calibration. lunet segments the 2-D tissue regions only:
``RegionSpatialFormat`` 1 (2-D) with ``RegionDataType`` 1 (tissue; a region without a data type is taken as
tissue) and physical units cm along x and y. Each such region is cropped out of the frame
(``RegionLocationMinX0 … MaxY1``, inclusive pixel indices) and segmented with its own spacing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lunet.inference.inputs import check_spacing

#: ``PhysicalUnitsX/YDirection`` code of centimetres.
UNITS_CM = 3
#: ``RegionSpatialFormat`` of a 2-D image; ``RegionDataType`` of tissue (B-mode).
SPATIAL_2D, DATA_TISSUE = 1, 1


@dataclass(frozen=True)
class Region:
    """A calibrated B-mode region.

    Attributes:
        index: position in ``SequenceOfUltrasoundRegions`` (0-based).
        bounds: ``(row_min, row_max, col_min, col_max)`` inclusive pixel indices, or ``None`` (whole frame).
        spacing: ``(row_mm, col_mm)`` from ``PhysicalDeltaY`` / ``PhysicalDeltaX`` (cm × 10).
    """

    index: int
    bounds: tuple[int, int, int, int] | None
    spacing: tuple[float, float]

    def describe(self) -> str:
        """``"region 1 (rows 40-519, cols 10-409), spacing 0.300 × 0.300 mm"``."""
        where = "whole frame" if self.bounds is None else (
            f"rows {self.bounds[0]}-{self.bounds[1]}, cols {self.bounds[2]}-{self.bounds[3]}"
        )  # fmt: skip
        row_mm, col_mm = self.spacing
        return f"ultrasound region {self.index} ({where}), spacing {row_mm:.4f} × {col_mm:.4f} mm"


def _bounds(item: Any, rows: int, cols: int) -> tuple[int, int, int, int] | None:
    keys = ("RegionLocationMinY0", "RegionLocationMaxY1", "RegionLocationMinX0", "RegionLocationMaxX1")
    values = [getattr(item, key, None) for key in keys]
    if any(v is None for v in values):
        return None
    r0, r1, c0, c1 = (int(v) for v in values)
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, rows - 1), min(c1, cols - 1)
    if r1 - r0 < 1 or c1 - c0 < 1:
        return None
    return r0, r1, c0, c1


def bmode_regions(ds: Any, path: Path) -> list[Region]:
    """The calibrated 2-D tissue regions of a dataset, in file order (empty: none)."""
    rows, cols = int(getattr(ds, "Rows", 0) or 0), int(getattr(ds, "Columns", 0) or 0)
    found = []
    for index, item in enumerate(getattr(ds, "SequenceOfUltrasoundRegions", None) or []):
        if getattr(item, "RegionSpatialFormat", SPATIAL_2D) != SPATIAL_2D:
            continue
        if getattr(item, "RegionDataType", DATA_TISSUE) != DATA_TISSUE:
            continue
        units = (
            getattr(item, "PhysicalUnitsXDirection", None),
            getattr(item, "PhysicalUnitsYDirection", None),
        )
        dx, dy = getattr(item, "PhysicalDeltaX", None), getattr(item, "PhysicalDeltaY", None)
        if units != (UNITS_CM, UNITS_CM) or not dx or not dy:
            continue
        spacing = check_spacing(path, (abs(float(dy)) * 10.0, abs(float(dx)) * 10.0))
        found.append(Region(index, _bounds(item, rows, cols), spacing))
    return found


def pixel_spacing(ds: Any, path: Path) -> tuple[float, float] | None:
    """``PixelSpacing``, else ``ImagerPixelSpacing`` ``(row_mm, col_mm)``, else ``None``."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = getattr(ds, keyword, None)
        if value is not None and len(value) == 2:
            return check_spacing(path, (float(value[0]), float(value[1])))
    return None
