"""The one bounding-box convention of lunet.

A box is ``(x_min, y_min, x_max, y_max)`` normalised to ``[0, 1]`` by the image size, with
``x`` along columns and ``y`` along rows, and pixel *edges* as the reference: pixel column
``c`` spans ``[c / W, (c + 1) / W]``. This matches ``torch.nn.functional.affine_grid`` /
``grid_sample`` with ``align_corners=False``, so crop and paste-back use exactly this geometry.

The reference box of LU-Net (TUFFC 2020, Sec. III-B1) is the minimal box around the epicardium
(LV ∪ myocardium), enlarged by a margin ``m`` and clipped to the image. The paper writes
``x_min − m·h, x_max + m·h, y_min − m·w, y_max + m·w``; we read its ``x`` as the axis whose
extent is ``h``, i.e. each axis is enlarged on both sides by ``m`` times its own extent.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lunet.data.labels import Label

#: Default margin ``m`` of the reference boxes (LU-Net-m5). A model hyper-parameter (``box_margin`` of every
#: model with a box); this constant is only its default.
DEFAULT_BOX_MARGIN = 0.05


def check_box_margin(box_margin: float, name: str) -> float:
    """``box_margin`` as a float in [0, 1); ``ValueError`` naming the model ``name`` otherwise."""
    if not 0.0 <= float(box_margin) < 1.0:
        raise ValueError(f"{name}: box_margin must be in [0, 1), got {box_margin}")
    return float(box_margin)


#: Labels inside the LU-Net reference box (the epicardium: LV cavity ∪ myocardium).
BOX_LABELS: tuple[int, ...] = (int(Label.LV), int(Label.MYO))


def box_from_mask(mask: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Normalised box around the non-zero pixels of a 2-D mask, enlarged by ``margin``.

    Args:
        mask: (rows, cols) boolean or integer array; non-zero pixels are inside the object.
        margin: fraction of each axis' own extent added on both sides (0.05 for "m5").

    Returns:
        float64 array ``(x_min, y_min, x_max, y_max)`` in ``[0, 1]``, clipped to the image.

    Raises:
        ValueError: if the mask is not 2-D or is empty (no box is defined).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"box_from_mask expects a 2-D mask, got shape {mask.shape}")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("box_from_mask: the mask is empty, no bounding box is defined")
    height, width = mask.shape
    x0, x1 = cols[0] / width, (cols[-1] + 1) / width
    y0, y1 = rows[0] / height, (rows[-1] + 1) / height
    return enlarge_box(np.array([x0, y0, x1, y1], dtype=np.float64), margin)


def reference_box(label_map: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """LU-Net reference box: around LV ∪ myocardium of a label map, with margin ``margin``."""
    return box_from_mask(np.isin(label_map, BOX_LABELS), margin)


def enlarge_box(box: np.ndarray, margin: float) -> np.ndarray:
    """Enlarge normalised boxes ``(..., 4)`` by ``margin`` × their own extent per axis, clipped to [0, 1]."""
    box = np.asarray(box, dtype=np.float64)
    w = box[..., 2] - box[..., 0]
    h = box[..., 3] - box[..., 1]
    lo = np.stack([box[..., 0] - margin * w, box[..., 1] - margin * h], axis=-1)
    hi = np.stack([box[..., 2] + margin * w, box[..., 3] + margin * h], axis=-1)
    out = np.concatenate([lo, hi], axis=-1)
    return np.clip(out, 0.0, 1.0)


def box_iou(a: Any, b: Any) -> Any:
    """Intersection over union of normalised boxes ``(..., 4)``, elementwise over the leading axes: numpy
    arrays or torch tensors (validation during training, evaluation). NaN where the union is empty. The same
    value in pixels (one scale per axis).

    Returns:
        ``(...)`` IoU in [0, 1], of ``a``'s kind (a 0-d array for two single boxes).
    """
    torch_like = hasattr(a, "masked_fill")
    if torch_like:
        import torch

        lo, hi = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    else:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        lo, hi = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    overlap = (hi - lo).clip(min=0)
    inter = overlap[..., 0] * overlap[..., 1]
    side_a, side_b = (a[..., 2:] - a[..., :2]).clip(min=0), (b[..., 2:] - b[..., :2]).clip(min=0)
    union = side_a[..., 0] * side_a[..., 1] + side_b[..., 0] * side_b[..., 1] - inter
    empty = union <= 0
    ratio = inter / (union + empty)
    return ratio.masked_fill(empty, float("nan")) if torch_like else np.where(empty, np.nan, ratio)


def box_to_pixels(box: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Normalised box → pixel-edge coordinates ``(col_min, row_min, col_max, row_max)``.

    ``shape`` is ``(rows, cols)``.
    """
    height, width = shape
    return np.asarray(box, dtype=np.float64) * np.array([width, height, width, height], dtype=np.float64)


#: Columns of ``boxes.csv``, the file of predicted boxes of a run (``RUN/predictions/boxes.csv``).
BOX_CSV_COLUMNS = ("patient", "view", "instant", "x_min", "y_min", "x_max", "y_max")
BoxKey = tuple[str, str, str]  # (patient, view, instant)


class BoxFileError(ValueError):
    """A ``boxes.csv`` that cannot be read; the message names the file and the line."""


def write_boxes_csv(path: str | os.PathLike[str], boxes: Mapping[BoxKey, Sequence[float]]) -> None:
    """Write ``boxes.csv`` atomically: :data:`BOX_CSV_COLUMNS`, sorted by patient, view, instant.

    Args:
        path: destination.
        boxes: ``{(patient, view, instant): (x_min, y_min, x_max, y_max)}`` normalised (module docstring).
    """
    from lunet.io import write_text_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BOX_CSV_COLUMNS)
    for key in sorted(boxes):
        writer.writerow([*key, *(repr(float(v)) for v in boxes[key])])
    write_text_atomic(path, buffer.getvalue())


def read_boxes_csv(path: str | os.PathLike[str]) -> dict[BoxKey, np.ndarray]:
    """The boxes of a ``boxes.csv``: ``{(patient, view, instant): float64 (4,) box}``.

    Patient ids are lower-cased, views and instants upper-cased (as in CAMUS file names).

    Raises:
        BoxFileError: the header is not :data:`BOX_CSV_COLUMNS` or a line does not parse.
    """
    path = Path(path)
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        if header != BOX_CSV_COLUMNS:
            raise BoxFileError(f"{path}: header {','.join(header)!r}, expected {','.join(BOX_CSV_COLUMNS)!r}")
        boxes: dict[BoxKey, np.ndarray] = {}
        for line, row in enumerate(reader, start=2):
            try:
                if len(row) != len(BOX_CSV_COLUMNS):
                    raise ValueError
                key = (row[0].lower(), row[1].upper(), row[2].upper())
                boxes[key] = np.array([float(v) for v in row[3:]], dtype=np.float64)
            except ValueError:
                raise BoxFileError(f"{path}: line {line} is not '{','.join(BOX_CSV_COLUMNS)}'") from None
    return boxes
