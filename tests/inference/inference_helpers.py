"""Helpers of the inference tests: tiny random-weight bundles and writers of every input format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 64


def make_bundle(folder: Path, name: str, seed: int = 0, **overrides: object) -> Path:
    """A random-weight model saved as a bundle (model.safetensors + model.json) at 64×64."""
    import torch

    from lunet.bundle import save_bundle
    from lunet.models import create_model

    torch.manual_seed(seed)
    model = create_model(name, **overrides).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding them is exercised
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return save_bundle(folder, model, {"model": name, "overrides": overrides, "size": SIZE})


def echo_like(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """(rows, cols) uint8 picture: a bright ring on speckle, so images differ and are not constant."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:rows, :cols]
    radius = np.hypot((rr - rows / 2) / rows, (cc - cols / 2) / cols)
    ring = np.exp(-(((radius - 0.25) / 0.05) ** 2)) * 180
    return np.clip(ring + rng.normal(40, 15, (rows, cols)), 0, 255).astype(np.uint8)


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    region_delta_cm: tuple[float, float] | None = None,
    pixel_spacing: tuple[float, float] | None = None,
) -> Path:
    """Write an ultrasound DICOM with pydicom.

    Args:
        pixels: (rows, cols), (frames, rows, cols), or (..., 3) RGB uint8.
        region_delta_cm: (PhysicalDeltaY, PhysicalDeltaX) of an ultrasound region, in cm.
        pixel_spacing: PixelSpacing (row_mm, col_mm).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        UltrasoundImageStorage,
        UltrasoundMultiFrameImageStorage,
        generate_uid,
    )

    rgb = pixels.shape[-1] == 3
    frames = pixels.ndim == (4 if rgb else 3)
    sop = UltrasoundMultiFrameImageStorage if frames else UltrasoundImageStorage
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop, meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.PatientID = "../../evil"  # never used to build output names
    shape = pixels.shape[1:] if frames else pixels.shape
    ds.Rows, ds.Columns = shape[0], shape[1]
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    if frames:
        ds.NumberOfFrames = pixels.shape[0]
    if region_delta_cm is not None:
        region = Dataset()
        region.RegionSpatialFormat = 1
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
        region.PhysicalDeltaY, region.PhysicalDeltaX = region_delta_cm
        ds.SequenceOfUltrasoundRegions = [region]
    if pixel_spacing is not None:
        ds.PixelSpacing = [str(v) for v in pixel_spacing]
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
