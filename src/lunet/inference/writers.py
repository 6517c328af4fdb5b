"""Outputs of ``lunet predict``: safe output names, label masks in the input's format, overlays, JSON.

Every output path is ``OUT/<subfolder>/<name><suffix>`` where ``name`` is built from the input's *file name*
only (never its folders), restricted to ``[A-Za-z0-9._-]``, never starting with a dot, and checked to resolve
inside ``OUT``. Files are written atomically (a temporary file replaced by ``os.replace``), so a symlink
planted at an output path is replaced, never followed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from lunet.data.labels import Label
from lunet.io import atomic_path, json_safe, write_text_atomic

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Mask suffix per input kind (DICOM masks are NIfTI: a DICOM segmentation object is out of scope).
MASK_SUFFIX = {"nifti": ".nii.gz", "mhd": ".mhd", "png": ".png", "dicom": ".nii.gz"}
#: Overlay colours (RGB): LV contour, LV_Epi contour, LA contour, predicted box.
COLOURS = {"lv": (255, 64, 64), "lv_epi": (64, 255, 64), "la": (64, 160, 255), "box": (255, 220, 0)}


class OutputPathError(ValueError):
    """An output path that would fall outside the output folder."""


def safe_name(stem: str, max_len: int = 120) -> str:
    """A file-name stem safe to join to the output folder: no separators, no leading dots, not empty."""
    name = _UNSAFE.sub("_", stem.replace("\\", "/").split("/")[-1]).lstrip(".")
    name = name[:max_len].strip("_") or "image"
    return name


class NameRegistry:
    """Hands out unique safe names (``a``, ``a_2``, ``a_3`` …) so two inputs never share outputs."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def claim(self, stem: str) -> str:
        base = safe_name(stem)
        name, k = base, 1
        while name.lower() in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name.lower())
        return name


def output_path(out_dir: Path, subfolder: str, name: str, suffix: str) -> Path:
    """``out_dir/subfolder/name+suffix``, refusing anything that resolves outside ``out_dir``."""
    root = out_dir.resolve()
    path = out_dir / subfolder / f"{safe_name(name)}{suffix}"
    parent = path.parent.resolve()
    if not parent.is_relative_to(root) or safe_name(name) != name:
        raise OutputPathError(f"{path}: output path escapes the output folder {out_dir}")
    return parent / path.name


def write_mask(path: Path, label: np.ndarray, spacing: tuple[float, float]) -> Path:
    """Write a uint8 (rows, cols) label map: ``.nii.gz``/``.mhd`` with spacing, ``.png`` with label values."""
    label = np.asarray(label, dtype=np.uint8)
    if path.name.endswith(".png"):
        from PIL import Image

        with atomic_path(path) as tmp:
            Image.fromarray(label, mode="L").save(tmp, format="PNG")
        return path
    from lunet.data.camus_io import write_image

    return write_image(path, label, spacing)


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (a one-pixel contour)."""
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def overlay_rgb(image: np.ndarray, label: np.ndarray, box: np.ndarray | None = None) -> np.ndarray:
    """(rows, cols, 3) uint8 picture: the image (1–99 % window), LV, LV_Epi and LA (label 3, when present)
    contours, the box (normalised).

    Args:
        image: (rows, cols) float image.
        label: (rows, cols) uint8 labels on the same grid.
        box: normalised ``(x_min, y_min, x_max, y_max)`` or None.
    """
    lo, hi = (float(v) for v in np.percentile(image, [1.0, 99.0])) if image.size else (0.0, 1.0)
    scale = np.float32(255.0 / max(hi - lo, 1e-6))  # float32 throughout: no float64 full-resolution copy
    grey = np.clip((np.asarray(image, dtype=np.float32) - np.float32(lo)) * scale, 0.0, 255.0)
    rgb = np.repeat(grey.astype(np.uint8)[..., None], 3, axis=-1)
    lv = label == Label.LV
    epi = lv | (label == Label.MYO)
    rgb[_boundary(label == Label.LA)] = COLOURS["la"]
    rgb[_boundary(epi)] = COLOURS["lv_epi"]
    rgb[_boundary(lv)] = COLOURS["lv"]
    if box is not None and np.isfinite(box).all():
        rows, cols = label.shape
        # pixel-edge convention: the first and last pixels inside the box
        c0, r0 = (int(np.clip(np.floor(v * n), 0, n - 1)) for v, n in ((box[0], cols), (box[1], rows)))
        c1, r1 = (int(np.clip(np.ceil(v * n) - 1, 0, n - 1)) for v, n in ((box[2], cols), (box[3], rows)))
        rgb[r0, c0 : c1 + 1] = rgb[r1, c0 : c1 + 1] = COLOURS["box"]
        rgb[r0 : r1 + 1, c0] = rgb[r0 : r1 + 1, c1] = COLOURS["box"]
    return rgb


def write_overlay(path: Path, image: np.ndarray, label: np.ndarray, box: np.ndarray | None) -> Path:
    """Save :func:`overlay_rgb` as a PNG (atomically)."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(overlay_rgb(image, label, box), mode="RGB").save(tmp, format="PNG", compress_level=1)
    return path


def box_report(box: np.ndarray, shape: tuple[int, int], spacing: tuple[float, float]) -> dict[str, Any]:
    """A normalised box in JSON form, also in mm from the top-left image corner (x along columns)."""
    rows, cols = shape
    width_mm, height_mm = cols * spacing[1], rows * spacing[0]
    x0, y0, x1, y1 = (float(v) for v in box)
    return {
        "normalised": [x0, y0, x1, y1],
        "mm": [x0 * width_mm, y0 * height_mm, x1 * width_mm, y1 * height_mm],
        "width_mm": (x1 - x0) * width_mm,
        "height_mm": (y1 - y0) * height_mm,
    }


def areas_mm2(label: np.ndarray, spacing: tuple[float, float], atrium: bool = False) -> dict[str, float]:
    """Areas in mm² of LV, myocardium and LV_Epi, and of the left atrium (``la``) for a model trained on it
    (``atrium``; no ``la`` key otherwise)."""
    pixel = float(spacing[0]) * float(spacing[1])
    counts = np.bincount(np.asarray(label, dtype=np.uint8).ravel(), minlength=4)
    areas = {
        "lv": float(counts[Label.LV]) * pixel,
        "myo": float(counts[Label.MYO]) * pixel,
        "lv_epi": float(counts[Label.LV] + counts[Label.MYO]) * pixel,
    }
    if atrium:
        areas["la"] = float(counts[Label.LA]) * pixel
    return areas


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as strict JSON (NaN → null), atomically."""
    write_text_atomic(path, json.dumps(json_safe(data), indent=2, default=_json_default, allow_nan=False))
    return path
