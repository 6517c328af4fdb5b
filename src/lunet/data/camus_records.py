"""One CAMUS patient: its files, its ``Info_*.cfg``, and loading of annotated frames and sequences."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lunet.data.camus_cfg import QUALITIES, ViewInfo, read_info_cfg
from lunet.data.camus_errors import CamusFormatError
from lunet.data.camus_io import read_frame, read_sequence
from lunet.data.labels import INSTANTS, NUM_CLASSES, VIEWS, Instant, View
from lunet.limits import SizeLimits

logger = logging.getLogger(__name__)

PATIENT_DIR = re.compile(r"^patient\d{4}$")
IMAGE_FILE = re.compile(
    r"^(patient\d{4})_(2CH|4CH)_(ED|ES|half_sequence|sequence)(_gt)?\.(nii\.gz|nii|mhd)$", re.IGNORECASE
)
CFG_FILE = re.compile(r"^Info_(2CH|4CH)\.cfg$", re.IGNORECASE)
#: Files that sit in patient folders without being CAMUS data (not counted as ignored).
KNOWN_EXTRAS = ("phantom_truth.json",)


def ef_category(ef_percent: float | None) -> str:
    """EF stratum of the CAMUS folds: ``"<=45"``, ``">=55"``, ``"45-55"``, or ``"unknown"`` (None/NaN)."""
    if ef_percent is None or not np.isfinite(ef_percent):
        return "unknown"
    if ef_percent <= 45.0:
        return "<=45"
    if ef_percent >= 55.0:
        return ">=55"
    return "45-55"


@dataclass(frozen=True, eq=False)
class EchoImage:
    """One annotated frame.

    Attributes:
        image: float32 ``(rows, cols)`` as stored (no normalisation).
        label: uint8 ``(rows, cols)`` in 0..3, or None.
        spacing: ``(row_mm, col_mm)``.
    """

    image: np.ndarray
    label: np.ndarray | None
    spacing: tuple[float, float]
    patient_id: str
    view: View
    instant: Instant
    image_path: Path
    label_path: Path | None


@dataclass(frozen=True, eq=False)
class EchoSequence:
    """A view's half cycle, oriented ED → ES.

    Attributes:
        frames: float32 ``(T, rows, cols)``; ``frames[0]`` is ED, ``frames[-1]`` is ES.
        labels: uint8 ``(T, rows, cols)`` or None. spacing: ``(row_mm, col_mm)``.
        reversed_on_disk: True when the file ran ES → ED and was flipped.
        orientation_source: how that was decided: ``"images"`` (first/last frame vs the ED/ES files),
            ``"cfg"`` (ED/ES indices of ``Info_*.cfg``) or ``"default"`` (no evidence: as stored).
    """

    frames: np.ndarray
    labels: np.ndarray | None
    spacing: tuple[float, float]
    patient_id: str
    view: View
    reversed_on_disk: bool
    orientation_source: str
    path: Path


def check_label(array: np.ndarray, path: Path) -> np.ndarray:
    """Label map as uint8; a :class:`CamusFormatError` for non-integer values or values outside 0..3."""
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise CamusFormatError(f"{path}: label values must be integers 0..{NUM_CLASSES - 1}")
    elif array.dtype.kind not in "iub":
        raise CamusFormatError(f"{path}: unsupported label data type {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= NUM_CLASSES):
        found = sorted({int(v) for v in np.unique(array)} - set(range(NUM_CLASSES)))
        raise CamusFormatError(f"{path}: label values {found[:5]} outside 0..{NUM_CLASSES - 1}")
    return array.astype(np.uint8)


def _check_pair(image: np.ndarray, label: np.ndarray, image_path: Path, label_path: Path) -> None:
    if image.shape != label.shape:
        raise CamusFormatError(
            f"{label_path}: label shape {label.shape} differs from image {image_path.name} "
            f"shape {image.shape}"
        )


@dataclass(frozen=True)
class PatientRecord:
    """A CAMUS patient found on disk (nothing is read but the ``Info_*.cfg`` files until ``load``).

    Attributes:
        patient_id: ``"patient0001"``. directory: its folder. release: ``"nifti"`` or ``"mhd2019"``.
        info: the parsed ``Info_<view>.cfg`` per view. files: file key -> path, keys like ``"2CH_ED"``,
            ``"2CH_ED_gt"``, ``"2CH_sequence"``, ``"2CH_sequence_gt"``. subset: ``"training"``/``"testing"``
            folder of the 2019 release, else None.
    """

    patient_id: str
    directory: Path
    release: str
    info: dict[View, ViewInfo]
    files: dict[str, Path] = field(repr=False)
    subset: str | None = None

    def __hash__(self) -> int:
        return hash((self.patient_id, str(self.directory)))

    @property
    def has_ground_truth(self) -> bool:
        """True when all four annotated frames have a ``_gt`` label file."""
        return all(f"{v.value}_{i.value}_gt" in self.files for v in VIEWS for i in INSTANTS)

    @property
    def image_quality(self) -> str:
        """Worst ``ImageQuality`` over the views: ``"Good" | "Medium" | "Poor"``."""
        return max((info.image_quality for info in self.info.values()), key=QUALITIES.index)

    @property
    def ef_percent(self) -> float | None:
        """Ejection fraction in % from the cfg files (mean over views that give one), or None."""
        values = [info.ef_percent for info in self.info.values() if info.ef_percent is not None]
        return float(np.mean(values)) if values else None

    @property
    def ef_category(self) -> str:
        """``"<=45"``, ``">=55"``, ``"45-55"`` or ``"unknown"``."""
        return ef_category(self.ef_percent)

    def path(self, view: View | str, instant: Instant | str, gt: bool = False) -> Path | None:
        """Path of an annotated frame (or its label with ``gt=True``), None when absent."""
        key = f"{View(view).value}_{Instant(instant).value}" + ("_gt" if gt else "")
        return self.files.get(key)

    def load(self, view: View | str, instant: Instant | str, limits: SizeLimits | None = None) -> EchoImage:
        """Read one annotated frame and, when present, its label (validated against the image).

        ``limits``: size limits checked on each header before decoding (default ``DEFAULT_LIMITS``).
        """
        view, instant = View(view), Instant(instant)
        image_path = self.path(view, instant)
        if image_path is None:
            raise CamusFormatError(
                f"{self.directory}: no {view.value} {instant.value} image for {self.patient_id}"
            )
        image, spacing = read_frame(image_path, limits)
        label_path = self.path(view, instant, gt=True)
        label = None
        if label_path is not None:
            raw_label, label_spacing = read_frame(label_path, limits)
            label = check_label(raw_label, label_path)
            _check_pair(image, label, image_path, label_path)
            if not np.allclose(spacing, label_spacing, rtol=1e-3):
                logger.warning(
                    "%s: spacing %s differs from the image's %s", label_path, label_spacing, spacing
                )
        return EchoImage(
            image.astype(np.float32), label, spacing, self.patient_id, view, instant, image_path, label_path
        )

    def load_sequence(self, view: View | str, limits: SizeLimits | None = None) -> EchoSequence:
        """Read the view's (half) sequence, oriented ED → ES (see :class:`EchoSequence`); ``limits`` as
        :meth:`load`."""
        from lunet.data.camus_sequence import orient_sequence

        view = View(view)
        path = self.files.get(f"{view.value}_sequence")
        if path is None:
            raise CamusFormatError(f"{self.directory}: no {view.value} sequence file for {self.patient_id}")
        frames, spacing = read_sequence(path, limits)
        frames = frames.astype(np.float32)
        label_path = self.files.get(f"{view.value}_sequence_gt")
        labels = None
        if label_path is not None:
            raw, _ = read_sequence(label_path, limits)
            labels = check_label(raw, label_path)
            _check_pair(frames, labels, path, label_path)
        ed = self.load(view, Instant.ED, limits).image if self.path(view, Instant.ED) else None
        es = self.load(view, Instant.ES, limits).image if self.path(view, Instant.ES) else None
        reverse, source = orient_sequence(frames, ed, es, self.info.get(view))
        if reverse:
            frames = frames[::-1].copy()
            labels = None if labels is None else labels[::-1].copy()
        return EchoSequence(frames, labels, spacing, self.patient_id, view, reverse, source, path)


def index_patient_files(directory: Path) -> tuple[dict[str, Path], dict[View, Path], list[Path]]:
    """Sort a patient folder's files into image/label files, cfg files and ignored names."""
    files: dict[str, Path] = {}
    cfgs: dict[View, Path] = {}
    ignored: list[Path] = []
    for entry in sorted(directory.iterdir()):
        name = entry.name
        if match := IMAGE_FILE.match(name):
            pid, view, kind, gt = match.group(1), match.group(2).upper(), match.group(3), match.group(4)
            if pid.lower() != directory.name.lower():
                ignored.append(entry)
                continue
            kind = "sequence" if "sequence" in kind.lower() else kind.upper()
            key = f"{view}_{kind}" + ("_gt" if gt else "")
            files.setdefault(key, entry)
        elif match := CFG_FILE.match(name):
            cfgs[View(match.group(1).upper())] = entry
        elif name.lower().endswith(".raw") or name in KNOWN_EXTRAS or name.startswith("."):
            continue
        else:
            ignored.append(entry)
    return files, cfgs, ignored


def load_patient(directory: str | Path, subset: str | None = None) -> PatientRecord:
    """Index one ``patientXXXX`` folder and parse its cfg files.

    Raises:
        CamusFormatError: a view's ED/ES image or its ``Info_<view>.cfg`` is missing, or a cfg is malformed.
    """
    directory = Path(directory)
    files, cfgs, ignored = index_patient_files(directory)
    for path in ignored:
        logger.debug("ignoring %s (not a CAMUS file name)", path)
    needed = [f"{v.value}_{i.value}" for v in VIEWS for i in INSTANTS]
    suffixes = {p.name.lower().rsplit(".", 2)[-1] for p in files.values()}
    release = "mhd2019" if suffixes == {"mhd"} else "nifti"
    extension = ".mhd" if release == "mhd2019" else ".nii.gz"
    missing = [f"{directory.name}_{key}{extension}" for key in needed if key not in files] + [
        f"Info_{v.value}.cfg" for v in VIEWS if v not in cfgs
    ]
    if missing:
        raise CamusFormatError(f"{directory}: incomplete patient, missing {', '.join(missing)}")
    info = {view: read_info_cfg(cfgs[view]) for view in VIEWS}
    gt_keys = [f"{key}_gt" for key in needed]
    present = [key for key in gt_keys if key in files]
    if 0 < len(present) < len(gt_keys):
        logger.warning(
            "%s: only %d of 4 label files; treated as without ground truth", directory, len(present)
        )
    return PatientRecord(directory.name, directory, release, info, files, subset)
