"""Helpers of the inference tests: tiny random-weight bundles and writers of every input format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def split_calibration(score: str, quantile: float, passes: int = 7, models: int = 1) -> Any:
    """A split-conformal ``IntervalCalibration`` at 90 % with one quantile for every index (spread floors as
    the library's for ``normalised``), made by hand for known answers."""
    from lunet.evaluation.interval_calibration import IntervalCalibration
    from lunet.evaluation.intervals import ConformalCalibration
    from lunet.inference.tta import DEFAULT_PASSES

    def one(floor: float) -> ConformalCalibration:
        return ConformalCalibration(0.9, score, quantile, 20, 0, floor if score == "normalised" else 0.0)

    return IntervalCalibration(
        level=0.9, score=score, passes=tuple(p.name for p in DEFAULT_PASSES[:passes]),
        indices={"ef_percent": one(0.25), "edv_ml": one(0.5), "esv_ml": one(0.5)}, models=models,
        n_patients=20,
    )  # fmt: skip


class LvBandNet:
    """A stand-in network: LV where the normalised input is above 0.5 (a bright LV on a dark background, as
    the evaluation fixtures draw it), also under the gamma passes."""

    size, source_size, model_name, backend = 64, None, "stand-in", "torch"
    meta: dict[str, Any] = {"labels": [0, 1, 2]}  # noqa: RUF012 (read only)

    def __call__(self, batch: np.ndarray) -> dict[str, Any]:
        lv = (batch[:, 0] > 0.5).astype(np.float32)
        logits = np.zeros((len(batch), 4, self.size, self.size), dtype=np.float32)
        logits[:, 1], logits[:, 0] = 10.0 * lv, 10.0 * (1.0 - lv)
        return {"logits": logits}
