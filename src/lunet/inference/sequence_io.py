"""Whole cines for ``lunet predict --sequence``: CAMUS (half) sequences, multi-frame DICOM, patient folders.

- ``*_sequence.mhd`` (2019 release) and ``*_half_sequence.nii.gz`` (NIfTI release): read by
  :func:`lunet.data.camus_io.read_sequence`. Both releases hold half cycles (ED → ES, a few ES → ED). When the
  file sits in a CAMUS patient folder, ``Info_<view>.cfg`` gives the frame rate, and the cfg ED/ES indices or
  the ED/ES images (:func:`lunet.data.camus_sequence.orient_sequence`) say which way the file runs
  (``orientation``). The frames are kept in the file's order: every output indexes frames as the file does.
- Multi-frame DICOM: frames through :func:`lunet.inference.dicom.read_dicom` (one decode per file); the
  frame time from ``FrameTime`` (ms), else ``FrameTimeVector``, else ``RecommendedDisplayFrameRate`` or
  ``CineRate``.
- A folder (recursed): every cine under it, whatever its name — a NIfTI, MHD or DICOM file of two frames
  or more (read from its header). CAMUS-named files (``patient0001_2CH_ED``) are taken only when they are
  sequences (``*_sequence``, ``*_half_sequence``, the phantom's ``*_cine``); label files (``*_gt``) never.
  Sequences of one patient in one folder (CAMUS names) form one group: both views give the biplane curve
  and EF.
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
SEQUENCE_NAME = re.compile(r"^(patient\d+)_(2CH|4CH)_(half_sequence|sequence|cine)\.(nii\.gz|nii|mhd)$", re.I)
#: Any CAMUS-style file name (an annotated frame, a sequence, a label file): ``patient0001_2CH_…``.
CAMUS_PREFIX = re.compile(r"^patient\d+_(2CH|4CH)_", re.I)


@dataclass(frozen=True, eq=False)
class Cine:
    """One view's frames as stored, with what is known about their timing and direction.

    Attributes:
        path: the file. kind: ``"nifti" | "mhd" | "dicom"`` (the mask series is written in this format).
        frames: ``(T, rows, cols)`` in the file's order and dtype (uint8, uint16, float32 …; colour DICOM
            becomes float32 luma): converted to float frame by frame, only by the network resize.
            spacing: ``(row_mm, col_mm)``.
        frame_time_ms: time between frames in ms, or None.
        timing_source: where it came from (``""``: unknown).
        patient_id, view: from a CAMUS file name, else None.
        hint: ``"half"`` for CAMUS half sequences, ``"auto"`` otherwise (see ``detect_phases``; the
            phantom's multi-beat ``*_cine`` files are ``"cycle"``).
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
    if frames.dtype.kind != "f":  # integers are finite: one frame at a time, no full-size temporary
        return np.array([f.max() == f.min() for f in frames], dtype=bool)
    finite = np.array([np.isfinite(f).all() for f in frames], dtype=bool)
    constant = np.array([np.nanmax(f) == np.nanmin(f) if np.isfinite(f).any() else True for f in frames])
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
    """Every frame of a DICOM cine, stacked in the decoded dtype (uint8 stays uint8: no float32 copy).

    The frames are written one by one into one array allocated after the first frame is decoded, so the peak
    is the compressed file plus one array of the decoded size (the size ``--max-decoded-mb`` checks).
    """
    import pydicom

    from lunet.inference.dicom import read_dicom
    from lunet.inference.inputs import forget_cached_file

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as err:
        raise InputFormatError(f"{path}: not a readable DICOM file ({type(err).__name__}: {err})") from None
    n_frames = int(getattr(header, "NumberOfFrames", 1) or 1)
    first = read_dicom(InputItem(path, "dicom", 0 if n_frames > 1 else None), spacing, limits)
    frames = np.empty((n_frames, *first.image.shape), dtype=first.image.dtype)
    frames[0] = first.image
    for k in range(1, n_frames):
        image = read_dicom(InputItem(path, "dicom", k), spacing, limits).image
        if image.shape != frames.shape[1:]:
            raise InputFormatError(f"{path}: frame {k} has shape {image.shape}, frame 0 {frames.shape[1:]}")
        frames[k] = image
    forget_cached_file()  # the dataset's pixel bytes: every frame is decoded now
    frame_time, source = dicom_frame_time_ms(header)
    return Cine(path, "dicom", frames, first.spacing, frame_time, source)


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
        extra = {}
        if match:
            extra.update(patient_id=match.group(1), view=match.group(2).upper())
            if match.group(3).lower() == "cine":  # the phantom's cines of several beats (no CAMUS cfg)
                extra.update(hint="cycle")
            else:
                extra.update(hint="half", **_camus_context(path, frames, match.group(2).upper()))
        cine = Cine(path, kind, np.asarray(frames), (float(own[0]), float(own[1])))
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
        if frames.dtype.kind == "f":
            frames = np.where(np.isfinite(frames), frames, 0.0).astype(frames.dtype)
    fields = {
        **cine.__dict__,
        **extra,
        "frames": frames,
        "bad_frames": tuple(int(i) for i in np.flatnonzero(bad)),
    }
    return Cine(**fields)  # type: ignore[arg-type]


def cine_frames(path: Path, limits: SizeLimits | None = None) -> tuple[int, bool]:
    """``(frames, several DICOM regions)`` of an image file from its header (no pixel decoded).

    Raises:
        ValueError: unreadable header, or a file beyond ``limits`` (message names the file).
    """
    from lunet.inference.readers import header_layout

    kind = file_kind(path)
    if kind not in ("nifti", "mhd", "dicom"):
        return 1, False
    n_frames, regions = header_layout(path, kind, limits)
    return n_frames, regions != [None]


def _folder_cines(folder: Path, limits: SizeLimits | None, errors: list[tuple[str, str]]) -> list[Path]:
    """Cines under ``folder`` (recursed, sorted): files of 2 frames or more; bad headers go to ``errors``."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith(".") or file_kind(path) not in ("nifti", "mhd", "dicom"):
                continue
            stem = InputItem(path, "x").stem
            if stem.lower().endswith("_gt") or (CAMUS_PREFIX.match(name) and not SEQUENCE_NAME.match(name)):
                continue  # label files; a CAMUS folder's annotated ED/ES frames
            try:
                n_frames, _ = cine_frames(path, limits)
            except (ValueError, OSError) as err:
                errors.append((str(path), str(err)))
                continue
            if n_frames > 1:
                found.append(path)
            else:
                logger.debug("%s: a single frame, not a cine; skipped", path)
    return found


def group_cines(paths: Iterable[Path]) -> list[list[Path]]:
    """Cines to predict together: the CAMUS-named sequences of one patient in one folder form one group
    (sorted by view); every other file is a group of its own. Groups keep the order of first appearance."""
    groups: dict[object, list[Path]] = {}
    for path in paths:
        match = SEQUENCE_NAME.match(path.name)
        key: object = (str(path.parent), match.group(1).lower(), match.group(3).lower()) if match else path
        views = groups.setdefault(key, [])
        if path not in views:
            views.append(path)
    return [sorted(v, key=lambda p: p.name.lower()) for v in groups.values()]


def expand_sequence_inputs(
    inputs: Iterable[str | os.PathLike[str]], limits: SizeLimits | None = None
) -> tuple[list[list[Path]], list[tuple[str, str]]]:
    """Group inputs into cines to predict together (:func:`group_cines`).

    Files are taken as given (:func:`read_cine` reports what is wrong with them); folders are searched for
    cines whatever their names (module docstring).

    Args:
        inputs: files and folders.
        limits: size limits checked on every header found in a folder.

    Returns:
        ``(groups, errors)``: lists of cine files (one per view of a patient, else one file), and
        ``(input, message)`` for inputs that cannot be used (missing, a folder without any cine, a header
        beyond the limits or unreadable).
    """
    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_file():
            files.append(path)
            continue
        if not path.is_dir():
            errors.append((str(raw), f"{path}: no such file or folder"))
            continue
        before = len(errors)
        found = _folder_cines(path, limits, errors)
        if not found and len(errors) == before:
            errors.append(
                (str(raw), f"{path}: no cine under it (a NIfTI, MHD or DICOM file of 2 frames or more)")
            )
        files.extend(found)
    for _, message in errors:
        logger.error("skipping input %s", message)
    return group_cines(files), errors
