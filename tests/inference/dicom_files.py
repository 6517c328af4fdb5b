"""DICOM files as scanners write them, generated with pydicom: every photometric interpretation of one image,
compressed encodings, calibration regions (dual display, Doppler strip)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from inference_helpers import echo_like, write_dicom


def colour_echo(rows: int = 40, cols: int = 48) -> np.ndarray:
    """(rows, cols, 3) uint8: an echo-like picture with a colour tint that varies across the image."""
    grey = echo_like(rows, cols).astype(np.float32)
    tint = np.linspace(-25, 25, cols, dtype=np.float32)[None, :]
    rgb = np.stack([grey * 0.8 + 20 + tint, grey * 0.8 + 20, grey * 0.8 + 20 - tint], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma, float64."""
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _retag(path: Path, photometric: str, pixel_data: bytes, syntax: str | None = None, **fields) -> Path:
    import pydicom

    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = photometric
    for key, value in fields.items():
        setattr(ds, key, value)
        if key.endswith("Descriptor"):
            ds[key].VR = "US"
    ds.PixelData = pixel_data
    if syntax is not None:
        ds.file_meta.TransferSyntaxUID = syntax
        ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def _encapsulated(path: Path, rgb: np.ndarray, photometric: str, codec: str, **options) -> Path:
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000, JPEG2000Lossless, JPEGBaseline8Bit

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, codec, **options)
    syntax = {
        "JPEG": JPEGBaseline8Bit,
        "JPEG2000": JPEG2000 if options.get("irreversible") else JPEG2000Lossless,
    }
    write_dicom(path, rgb, pixel_spacing=(0.3, 0.3))
    return _retag(path, photometric, encapsulate([buffer.getvalue()]), syntax[codec])


def write_photometric(path: Path, rgb: np.ndarray, photometric: str) -> Path:
    """``rgb`` (rows, cols, 3) uint8 stored as ``photometric`` (for the monochrome ones: its rounded luma)."""
    from pydicom.pixels import convert_color_space

    grey = np.clip(np.round(luma(rgb)), 0, 255).astype(np.uint8)
    if photometric == "MONOCHROME2":
        return write_dicom(path, grey, pixel_spacing=(0.3, 0.3))
    if photometric == "MONOCHROME1":
        write_dicom(path, grey, pixel_spacing=(0.3, 0.3))
        return _retag(path, "MONOCHROME1", (255 - grey).tobytes())
    if photometric == "RGB":
        return write_dicom(path, rgb, pixel_spacing=(0.3, 0.3))
    if photometric == "PALETTE COLOR":  # a shuffled grey palette: the stored indices are not the grey levels
        order = np.random.default_rng(1).permutation(256)
        index_of = np.argsort(order).astype(np.uint8)  # order[index_of[g]] == g
        write_dicom(path, grey, pixel_spacing=(0.3, 0.3))
        lut = (order.astype(np.uint16) * 257).tobytes()
        fields = {f"{c}PaletteColorLookupTable{k}": v for c in ("Red", "Green", "Blue")
                  for k, v in (("Descriptor", [256, 0, 16]), ("Data", lut))}  # fmt: skip
        return _retag(path, "PALETTE COLOR", index_of[grey].tobytes(), **fields)
    if photometric == "YBR_FULL":
        write_dicom(path, rgb, pixel_spacing=(0.3, 0.3))
        return _retag(path, "YBR_FULL", convert_color_space(rgb, "RGB", "YBR_FULL").tobytes())
    if photometric == "YBR_FULL_422":  # native 4:2:2: Y0 Y1 Cb Cr for each pair of pixels along a row
        ybr = convert_color_space(rgb, "RGB", "YBR_FULL").astype(np.float64)
        pairs = ybr.reshape(ybr.shape[0], -1, 2, 3)
        chroma = np.round(pairs[..., 1:].mean(axis=2))
        packed = np.concatenate([pairs[..., 0], chroma], axis=-1).astype(np.uint8)
        write_dicom(path, rgb, pixel_spacing=(0.3, 0.3))
        return _retag(path, "YBR_FULL_422", packed.tobytes())
    if photometric == "JPEG YBR_FULL_422":
        return _encapsulated(path, rgb, "YBR_FULL_422", "JPEG", quality=95, subsampling=1)
    if photometric == "YBR_RCT":
        return _encapsulated(path, rgb, "YBR_RCT", "JPEG2000", irreversible=False, mct=1, no_jp2=True)
    if photometric == "YBR_ICT":
        return _encapsulated(path, rgb, "YBR_ICT", "JPEG2000", irreversible=True, mct=1, no_jp2=True)
    raise ValueError(photometric)


def region(bounds: tuple[int, int, int, int], delta_cm: tuple[float, float], fmt: int = 1, kind: int = 1):
    """An ultrasound region item: ``bounds`` (row0, row1, col0, col1) inclusive, ``delta_cm`` (dy, dx)."""
    from pydicom.dataset import Dataset

    item = Dataset()
    item.RegionSpatialFormat, item.RegionDataType = fmt, kind
    item.RegionLocationMinY0, item.RegionLocationMaxY1, item.RegionLocationMinX0, item.RegionLocationMaxX1 = (
        bounds
    )
    item.PhysicalUnitsXDirection = item.PhysicalUnitsYDirection = 3
    item.PhysicalDeltaY, item.PhysicalDeltaX = delta_cm
    return item


def write_with_regions(path: Path, pixels: np.ndarray, regions: list) -> Path:
    """A grey DICOM with ``SequenceOfUltrasoundRegions`` = ``regions`` (items of :func:`region`)."""
    import pydicom

    write_dicom(path, pixels)
    ds = pydicom.dcmread(path)
    ds.SequenceOfUltrasoundRegions = regions
    ds.save_as(path, enforce_file_format=True)
    return path
