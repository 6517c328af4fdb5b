"""Whole cines for ``lunet predict --sequence``: CAMUS (half) sequences, multi-frame DICOM, patient folders.

- ``*_sequence.mhd`` (2019 release) and ``*_half_sequence.nii.gz`` (NIfTI release): read by
  :func:`lunet.data.camus_io.read_sequence`. Both releases hold half cycles (ED → ES, a few ES → ED). When the
  file sits in a CAMUS patient folder, ``Info_<view>.cfg`` gives the frame rate, and the cfg ED/ES indices or
  the ED/ES images (:func:`lunet.data.camus_sequence.orient_sequence`) say which way the file runs
  (``orientation``). The frames are kept in the file's order: every output indexes frames as the file does.
- Multi-frame DICOM: frames through :func:`lunet.inference.dicom.read_dicom` (one decode per file); the
  frame time from ``FrameTime`` (ms), else ``FrameTimeVector``, else ``RecommendedDisplayFrameRate`` or
  ``CineRate``.
- A folder: each CAMUS patient folder in it (recursed) gives its 2CH and 4CH sequences (one group); in
  other folders each DICOM file is a cine of its own.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lunet.inference.readers import InputFormatError, InputItem, file_kind
from lunet.limits import SizeLimits

logger = logging.getLogger(__name__)

#: A CAMUS sequence file name: ``patient0001_2CH_half_sequence.nii.gz`` or ``patient0001_4CH_sequence.mhd``.
SEQUENCE_NAME = re.compile(r"^(patient\d+)_(2CH|4CH)_(half_sequence|sequence)\.(nii\.gz|nii|mhd)$", re.I)


@dataclass(frozen=True, eq=False)
class Cine:
    """One view's frames as stored, with what is known about their timing and direction.

    Attributes:
        path: the file. kind: ``"nifti" | "mhd" | "dicom"`` (the mask series is written in this format).
        frames: float32 ``(T, rows, cols)`` in the file's order. spacing: ``(row_mm, col_mm)``.
        frame_time_ms: time between frames in ms, or None.
        timing_source: where it came from (``""``: unknown).
        patient_id, view: from a CAMUS file name, else None.
        hint: ``"half"`` for CAMUS half sequences, ``"auto"`` otherwise (see ``detect_phases``).
        orientation: ``"ED→ES"``/``"ES→ED"`` as told by the CAMUS cfg or ED/ES images, ``""`` when unknown.
        orientation_source: ``"images"``, ``"cfg"`` or ``""``.
        reference_ed, reference_es: 1-based ED/ES frames of ``Info_<view>.cfg``, or None.
        bad_frames: frames whose image is unusable (non-finite values, constant); they are zeroed.
    """

    path: Path
    kind: str
    frames: np.ndarray
    spacing: tuple[float, float]
    frame_time_ms: float | None = None
    timing_source: str = ""
    patient_id: str | None = None
    view: str | None = None
    hint: str = "auto"
    orientation: str = ""
    orientation_source: str = ""
    reference_ed: int | None = None
    reference_es: int | None = None
    bad_frames: tuple[int, ...] = ()

    @property
    def stem(self) -> str:
        """The file name without its image extension."""
        return InputItem(self.path, self.kind).stem


def unusable_frames(frames: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: frames holding non-finite values or a single value (a dropped or blank frame)."""
    flat = frames.reshape(frames.shape[0], -1)
    finite = np.isfinite(flat).all(axis=1)
    constant = np.array([np.nanmax(f) == np.nanmin(f) if np.isfinite(f).any() else True for f in flat])
    return ~finite | constant


def dicom_frame_time_ms(ds: object) -> tuple[float | None, str]:
    """Frame time in ms of a DICOM cine header and the attribute it came from (``(None, "")`` if absent)."""

    def positive(value: object) -> float | None:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) and number > 0 else None

    if (value := positive(getattr(ds, "FrameTime", None))) is not None:
        return value, "DICOM FrameTime"
    vector = getattr(ds, "FrameTimeVector", None)
    if vector is not None and len(vector) > 1:
        steps = [positive(v) for v in list(vector)[1:]]
        if all(s is not None for s in steps):
            return float(np.mean(steps)), "DICOM FrameTimeVector"
    for keyword in ("RecommendedDisplayFrameRate", "CineRate"):
        if (rate := positive(getattr(ds, keyword, None))) is not None:
            return 1000.0 / rate, f"DICOM {keyword}"
    return None, ""


def _read_dicom_cine(path: Path, spacing: Sequence[float] | None, limits: SizeLimits | None) -> Cine:
    import pydicom

    from lunet.inference.dicom import read_dicom

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as err:
        raise InputFormatError(f"{path}: not a readable DICOM file ({type(err).__name__}: {err})") from None
    n_frames = int(getattr(header, "NumberOfFrames", 1) or 1)
    loaded = [
        read_dicom(InputItem(path, "dicom", k if n_frames > 1 else None), spacing, limits)
        for k in range(n_frames)
    ]
    frames = np.stack([item.image for item in loaded]).astype(np.float32)
    frame_time, source = dicom_frame_time_ms(header)
    return Cine(path, "dicom", frames, loaded[0].spacing, frame_time, source)


def _camus_context(path: Path, frames: np.ndarray, view: str) -> dict[str, object]:
    """Frame rate, orientation and reference ED/ES from the CAMUS patient folder around ``path``."""
    from lunet.data.camus_cfg import read_info_cfg
    from lunet.data.camus_io import read_frame
    from lunet.data.camus_sequence import orient_sequence

    cfg = path.parent / f"Info_{view}.cfg"
    info = read_info_cfg(cfg) if cfg.is_file() else None
    images = []
    for instant in ("ED", "ES"):
        candidates = sorted(path.parent.glob(f"{path.name.split('_')[0]}_{view}_{instant}.*"))
        candidates = [p for p in candidates if file_kind(p) in ("nifti", "mhd")]
        images.append(read_frame(candidates[0])[0] if candidates else None)
    out: dict[str, object] = {}
    if info is not None:
        out.update(reference_ed=info.ed, reference_es=info.es)
        if info.frame_rate:
            out.update(frame_time_ms=1000.0 / info.frame_rate, timing_source=f"{cfg.name} FrameRate")
    if info is not None or all(image is not None for image in images):
        reverse, source = orient_sequence(frames, images[0], images[1], info)
        if source != "default":
            out.update(orientation="ES→ED" if reverse else "ED→ES", orientation_source=source)
    return out


def read_cine(
    path: str | os.PathLike[str], spacing: Sequence[float] | None = None, limits: SizeLimits | None = None
) -> Cine:
    """Read a whole cine (CAMUS sequence, multi-frame NIfTI/MHD or DICOM).

    Args:
        path: the file.
        spacing: ``(row_mm, col_mm)`` for DICOM files without calibration.
        limits: size limits checked on the file's header before any frame is decoded (default
            :data:`lunet.limits.DEFAULT_LIMITS`; ``lunet predict --sequence --max-*``).

    Raises:
        InputFormatError (or ``CamusFormatError``, a ``ValueError``): unreadable file, unsupported type,
        or a file with a single frame.
    """
    path = Path(path)
    kind = file_kind(path) if path.is_file() else None
    if kind not in ("nifti", "mhd", "dicom"):
        raise InputFormatError(f"{path}: not a sequence file (expected .nii[.gz], .mhd or multi-frame DICOM)")
    if kind == "dicom":
        cine = _read_dicom_cine(path, spacing, limits)
        extra: dict[str, object] = {}
    else:
        from lunet.data.camus_io import read_sequence

        frames, own = read_sequence(path, limits)
        match = SEQUENCE_NAME.match(path.name)
        extra = {"hint": "half"} if match else {}
        if match:
            extra.update(patient_id=match.group(1), view=match.group(2).upper())
            extra.update(_camus_context(path, frames, match.group(2).upper()))
        cine = Cine(path, kind, frames.astype(np.float32), (float(own[0]), float(own[1])))
    if cine.frames.ndim != 3 or cine.frames.shape[0] < 2:
        raise InputFormatError(f"{path}: a sequence needs at least 2 frames, got shape {cine.frames.shape}")
    bad = unusable_frames(cine.frames)
    frames = cine.frames
    if bad.any():
        logger.warning(
            "%s: frames %s are unusable (non-finite or blank)",
            path,
            [int(i) + 1 for i in np.flatnonzero(bad)],
        )
        frames = np.where(np.isfinite(frames), frames, 0.0).astype(np.float32)
    fields = {
        **cine.__dict__,
        **extra,
        "frames": frames,
        "bad_frames": tuple(int(i) for i in np.flatnonzero(bad)),
    }
    return Cine(**fields)  # type: ignore[arg-type]


def _patient_sequences(folder: Path) -> list[Path]:
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        match = SEQUENCE_NAME.match(entry.name)
        if match and match.group(1).lower() == folder.name.lower():
            found.setdefault(match.group(2).upper(), entry)
    return [found[v] for v in sorted(found)]


def expand_sequence_inputs(
    inputs: Iterable[str | os.PathLike[str]],
) -> tuple[list[list[Path]], list[tuple[str, str]]]:
    """Group inputs into cines to predict together: a CAMUS patient folder's views form one group.

    Returns:
        ``(groups, errors)``: lists of sequence files (one per view of a patient, else one file), and
        ``(input, message)`` for inputs that cannot be used.
    """
    groups: list[list[Path]] = []
    errors: list[tuple[str, str]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_file():
            groups.append([path])
            continue
        if not path.is_dir():
            errors.append((str(raw), f"{path}: no such file or folder"))
            continue
        before = len(groups)
        for root, dirs, names in os.walk(path):
            dirs.sort()
            views = _patient_sequences(Path(root))
            if views:
                groups.append(views)
            else:  # DICOM cines (by extension or preamble), one group each
                files = sorted(Path(root) / n for n in names if not n.startswith("."))
                groups.extend([f] for f in files if file_kind(f) == "dicom")
        if len(groups) == before:
            errors.append((str(raw), f"{path}: no CAMUS *_sequence / *_half_sequence or DICOM file under it"))
    for _, message in errors:
        logger.error("skipping input %s", message)
    return groups, errors
