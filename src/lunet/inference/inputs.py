"""What ``lunet predict`` reads: the input item, the loaded frame, their errors, helpers of every reader.

This module is the bottom of the inference readers: :mod:`lunet.inference.readers` (formats, expansion) and
:mod:`lunet.inference.dicom` (DICOM) both import it, and it imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: File-name suffixes of image inputs, longest first (stripped to make output names).
IMAGE_SUFFIXES = (".nii.gz", ".nii", ".mhd", ".png", ".jpg", ".jpeg", ".dcm", ".dicom")


class InputFormatError(ValueError):
    """An input that cannot be read or lacks what prediction needs (message names the file)."""


@dataclass(frozen=True)
class InputItem:
    """One 2-D image to predict: a file, a frame index for multi-frame files, a region for DICOM displays.

    Attributes:
        path: the file as given (not resolved: its own name is used for the outputs).
        kind: ``"nifti" | "mhd" | "png" | "dicom"`` (JPEG is ``"png"``: masks are written as PNG).
        frame: frame index in a multi-frame file, else ``None``.
        patient_id, view, instant: from a CAMUS file name (``patient0001_2CH_ED``), else ``None``.
        region: index of the calibrated B-mode region of a DICOM with several (a dual display), else ``None``.
    """

    path: Path
    kind: str
    frame: int | None = None
    patient_id: str | None = None
    view: str | None = None
    instant: str | None = None
    region: int | None = None

    @property
    def stem(self) -> str:
        """File name without its image extension(s)."""
        name = self.path.name
        for suffix in IMAGE_SUFFIXES:
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name


@dataclass(frozen=True)
class LoadedImage:
    """A frame to preprocess.

    Attributes:
        image: ``(rows, cols)`` grey levels in the input's own dtype (uint8, uint16, float32 …; colour inputs
            become float32 luma); converted to float only by the network resize.
        spacing: ``(row_mm, col_mm)``.
        note: how the frame was read, for the JSON record (``None``: nothing to say).
    """

    item: InputItem
    image: np.ndarray
    spacing: tuple[float, float]
    note: str | None = None


def check_spacing(path: Path, spacing: Sequence[float]) -> tuple[float, float]:
    """``(row_mm, col_mm)`` as floats; an :class:`InputFormatError` naming ``path`` unless both are finite and
    > 0 (:func:`lunet.data.preprocess.check_spacing`)."""
    from lunet.data.preprocess import check_spacing as checked

    return checked(spacing, str(path), InputFormatError)


#: ITU-R BT.601 luma weights (R, G, B).
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_grayscale(array: np.ndarray) -> np.ndarray:
    """(rows, cols) or (rows, cols, 3|4) → (rows, cols): BT.601 luma (float32) for colour, grey as stored."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        return array[..., :3].astype(np.float32) @ LUMA
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


#: The last multi-frame file read (key, decoded content): frames of one file are read in a row, so each
#: file is decoded once, and at most one file's pixels are held.
_LAST_FILE: list[tuple[tuple[str, int, int], Any]] = []


def forget_cached_file() -> None:
    """Drop the file kept by :func:`cached_file` (after a whole cine is read, its pixels are not needed)."""
    _LAST_FILE.clear()


def cached_file(path: Path, load: Callable[[Path], Any]) -> Any:
    """``load(path)``, reusing the previous result while ``path`` (name, size, mtime) is the same file.

    A :class:`ValueError` of ``load`` is remembered too: the other frames of a broken file fail at once.
    """
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if not (_LAST_FILE and _LAST_FILE[0][0] == key):
        _LAST_FILE.clear()
        try:
            value: Any = load(path)
        except ValueError as err:
            value = err
        _LAST_FILE.append((key, value))
    value = _LAST_FILE[0][1]
    if isinstance(value, ValueError):
        raise type(value)(*value.args) from None  # a fresh one: no traceback piled up frame after frame
    return value


def network_inputs(image: np.ndarray, spacing: tuple[float, float], predictor: Any) -> list[np.ndarray]:
    """``[input (S, S)]``, or ``[input, crop source (2S, 2S)]`` for a native-crop model: float32 frames
    prepared as in training (:func:`lunet.data.preprocess.prepare_image`), for single images and cines."""
    from lunet.data.preprocess import prepare_image

    source = getattr(predictor, "source_size", None)  # stand-ins of a Predictor may omit it
    sides = [predictor.size] + ([source] if source else [])
    return [prepare_image(image, spacing, side)[0] for side in sides]
