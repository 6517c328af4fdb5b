"""Fixtures of the evaluation tests: analytic masks and a tiny CAMUS-style folder written with SimpleITK."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_nifti(path: Path, array: np.ndarray, spacing: tuple[float, float]) -> Path:
    """Write a (rows, cols) array as NIfTI with spacing (row_mm, col_mm) (SimpleITK wants (x, y))."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing((float(spacing[1]), float(spacing[0])))
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path


def disk(shape: tuple[int, int], center_mm: tuple[float, float], radius_mm: float,
         spacing: tuple[float, float]) -> np.ndarray:  # fmt: skip
    """Pixels whose centre lies inside a disk given in mm."""
    rows = (np.arange(shape[0])[:, None] + 0.5) * spacing[0] - center_mm[0]
    cols = (np.arange(shape[1])[None, :] + 0.5) * spacing[1] - center_mm[1]
    return rows**2 + cols**2 <= radius_mm**2


def lv_labels(shape: tuple[int, int], spacing: tuple[float, float], a_mm: float, b_mm: float,
              wall_mm: float = 2.0, shift_rows: int = 0) -> np.ndarray:  # fmt: skip
    """CAMUS-like label map: LV = upper half-ellipse (apex up, flat base), MYO = wall around it, LA below."""
    h, w = shape
    base_row = 0.8 * h * spacing[0]
    r = (np.arange(h)[:, None] + 0.5) * spacing[0] - base_row
    c = (np.arange(w)[None, :] + 0.5) * spacing[1] - w * spacing[1] / 2
    lv = ((r / a_mm) ** 2 + (c / b_mm) ** 2 <= 1) & (r <= 0)
    epi = ((r / (a_mm + wall_mm)) ** 2 + (c / (b_mm + wall_mm)) ** 2 <= 1) & (r <= 0)
    la = ((r / 12.0) ** 2 + (c / (0.8 * b_mm)) ** 2 <= 1) & (r > 0)
    labels = np.zeros(shape, np.uint8)
    labels[epi] = 2
    labels[lv] = 1
    labels[la] = 3
    return np.roll(labels, shift_rows, axis=0)


def write_patient(root: Path, pid: str, quality: str, sizes: dict[str, tuple[float, float]],
                  spacing: tuple[float, float] = (0.4, 0.3), shape: tuple[int, int] = (128, 112),
                  truth: dict | None = None) -> Path:  # fmt: skip
    """One CAMUS-style patient folder; ``sizes[view_instant] = (a_mm, b_mm)`` of the LV half-ellipse."""
    folder = root / pid
    for view in ("2CH", "4CH"):
        (folder / f"Info_{view}.cfg").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"Info_{view}.cfg").write_text(
            f"ED: 1\nES: 10\nNbFrame: 10\nSex: F\nAge: 60\nImageQuality: {quality}\n"
            "EF: 50.0\nLVedv: 40.0\nLVesv: 20.0\n"
        )
        for instant in ("ED", "ES"):
            labels = lv_labels(shape, spacing, *sizes[f"{view}_{instant}"])
            image = (labels * 40 + 10).astype(np.float32)
            write_nifti(folder / f"{pid}_{view}_{instant}.nii.gz", image, spacing)
            write_nifti(folder / f"{pid}_{view}_{instant}_gt.nii.gz", labels, spacing)
    if truth is not None:
        (folder / "phantom_truth.json").write_text(json.dumps(truth))
    return folder


SIZES = {"2CH_ED": (30.0, 14.0), "2CH_ES": (26.0, 11.0), "4CH_ED": (30.0, 15.0), "4CH_ES": (26.0, 12.0)}
