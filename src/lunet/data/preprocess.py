"""Resizing with the spacing carried along, and the one intensity normalisation.

Intensity rule (used by training *and* inference, nowhere else): per-image min–max scaling to ``[0, 1]``,
``(x - min) / (max - min)``; a constant image becomes all zeros. It needs no knowledge of the source bit
depth, so 8-bit CAMUS frames, 16-bit DICOM and float inputs are treated alike, and it is invariant to any
positive affine change of the grey levels. The order is fixed: resize first, then normalise
(:func:`prepare_image`).

Crop source: models that crop a region of interest (LU-Net, the oracle) crop it from a finer copy of the same
frame, prepared the same way at :func:`crop_source_size` (``CROP_SOURCE_SCALE`` × the network side), in the
training cache and in ``lunet predict`` alike.

Resizing follows the pixel-edge convention of ``lunet.boxes`` (``align_corners=False``): bilinear for
images, nearest neighbour for labels, no anti-aliasing; spacing becomes ``spacing × old_shape / new_shape``.

The training cache built on these functions is :mod:`lunet.data.cache`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "check_spacing",
    "crop_source_size",
    "normalize_intensity",
    "prepare_image",
    "resize_image",
    "resize_label",
    "resized_spacing",
]


#: Side of the crop source in units of the network side (512 for the paper's 256: ~native CAMUS resolution).
CROP_SOURCE_SCALE = 2


def check_spacing(
    spacing: Sequence[float], where: str = "spacing", error: type[ValueError] = ValueError
) -> tuple[float, float]:
    """The pixel spacing ``(row_mm, col_mm)`` as two floats: the one check of lunet's readers and metrics.

    Args:
        spacing: ``(row_mm, col_mm)``.
        where: what the spacing belongs to (a file name), put first in the message.
        error: the ``ValueError`` subclass to raise (a reader's format error).

    Raises:
        error: not two numbers, or one that is not finite and > 0.
    """
    try:
        row_mm, col_mm = (float(s) for s in spacing)
    except (TypeError, ValueError):
        raise error(f"{where}: pixel spacing must be two numbers (row_mm, col_mm), got {spacing!r}") from None
    if not all(math.isfinite(s) and s > 0 for s in (row_mm, col_mm)):
        raise error(f"{where}: invalid pixel spacing ({row_mm}, {col_mm}) mm (must be > 0 and finite)")
    return row_mm, col_mm


def crop_source_size(size: int) -> int:
    """Side in pixels of the crop source of a network of side ``size``: ``CROP_SOURCE_SCALE × size``."""
    return CROP_SOURCE_SCALE * int(size)


def _shape(size: int | tuple[int, int]) -> tuple[int, int]:
    rows, cols = (size, size) if isinstance(size, int | np.integer) else size
    if int(rows) < 1 or int(cols) < 1:
        raise ValueError(f"resize: size must be positive, got {size}")
    return int(rows), int(cols)


def resized_spacing(
    spacing: tuple[float, float], old_shape: tuple[int, int], new_shape: tuple[int, int]
) -> tuple[float, float]:
    """Spacing ``(row_mm, col_mm)`` after resizing ``old_shape`` to ``new_shape``: ``spacing × old / new``."""
    return (
        float(spacing[0]) * old_shape[0] / new_shape[0],
        float(spacing[1]) * old_shape[1] / new_shape[1],
    )


def resize_image(
    image: np.ndarray, spacing: tuple[float, float], size: int | tuple[int, int]
) -> tuple[np.ndarray, tuple[float, float]]:
    """Bilinear resize of a frame.

    Args:
        image: ``(rows, cols)`` any real dtype. spacing: ``(row_mm, col_mm)``.
        size: ``S`` for ``S × S`` or ``(rows, cols)``.

    Returns:
        ``(resized, new_spacing)``: float32 ``(S_rows, S_cols)`` and the spacing in mm of its pixels.
    """
    from skimage.transform import resize

    new_shape = _shape(size)
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"resize_image expects (rows, cols), got shape {image.shape}")
    out = resize(
        image.astype(np.float32), new_shape, order=1, mode="edge", anti_aliasing=False, preserve_range=True
    )
    return out.astype(np.float32), resized_spacing(spacing, image.shape, new_shape)


def resize_label(
    label: np.ndarray, spacing: tuple[float, float], size: int | tuple[int, int]
) -> tuple[np.ndarray, tuple[float, float]]:
    """Nearest-neighbour resize of labels ``(rows, cols)``; returns uint8 labels and the new spacing (mm)."""
    new_shape = _shape(size)
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"resize_label expects (rows, cols), got shape {label.shape}")
    # Pixel centres of the output mapped back to input indices (align_corners=False), then rounded down.
    rows = np.minimum(
        ((np.arange(new_shape[0]) + 0.5) * label.shape[0] / new_shape[0]).astype(np.int64), label.shape[0] - 1
    )
    cols = np.minimum(
        ((np.arange(new_shape[1]) + 0.5) * label.shape[1] / new_shape[1]).astype(np.int64), label.shape[1] - 1
    )
    return label[np.ix_(rows, cols)].astype(np.uint8), resized_spacing(spacing, label.shape, new_shape)


def normalize_intensity(image: np.ndarray) -> np.ndarray:
    """Min–max scaling of one image to ``[0, 1]`` (float32, same shape); constant or empty images give zeros.

    Non-finite pixels are treated as the minimum. This is the only intensity normalisation of lunet.
    """
    image = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(image)
    if not finite.any():
        return np.zeros_like(image)
    values = np.where(finite, image, np.inf)
    low = float(values.min())
    high = float(np.where(finite, image, -np.inf).max())
    out = np.where(finite, image, low) - low
    if high > low:
        out /= high - low
    else:
        out[:] = 0.0
    return out.astype(np.float32)


def prepare_image(
    image: np.ndarray, spacing: tuple[float, float], size: int | tuple[int, int]
) -> tuple[np.ndarray, tuple[float, float]]:
    """Network input (or crop source): :func:`resize_image` then :func:`normalize_intensity`.

    The one preparation of an image for a network, in training (the cache) and in ``lunet predict``.

    Args:
        image: ``(rows, cols)`` any real dtype. spacing: ``(row_mm, col_mm)``.
        size: ``S`` for ``S × S`` or ``(rows, cols)``.

    Returns:
        ``(prepared, new_spacing)``: float32 ``(S_rows, S_cols)`` in [0, 1], and the spacing (mm) of its
        pixels.
    """
    resized, new_spacing = resize_image(image, spacing, size)
    return normalize_intensity(resized), new_spacing
