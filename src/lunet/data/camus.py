"""CAMUS reader for both public releases, detected automatically.

Layouts accepted for ``root``:

- NIfTI release: ``root/database_nifti/patientXXXX/...`` (split lists in ``root/database_split/``);
- 2019 challenge release: ``root/training/patientXXXX/...`` and ``root/testing/patientXXXX/...``;
- a folder that directly holds the ``patientXXXX`` folders (either format).

:func:`scan_camus` reads only the ``Info_*.cfg`` files; images are read by ``PatientRecord.load``.
Incomplete or malformed patients are skipped with a logged reason, non-CAMUS names are ignored with a
logged count; a folder without any patient is an error.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lunet.data.camus_cfg import QUALITIES, ViewInfo, parse_info_text, read_info_cfg
from lunet.data.camus_errors import CamusFormatError
from lunet.data.camus_io import read_frame, read_header, read_image, read_sequence, write_image
from lunet.data.camus_records import (
    PATIENT_DIR,
    EchoImage,
    EchoSequence,
    PatientRecord,
    check_label,
    ef_category,
    index_patient_files,
    load_patient,
)
from lunet.logs import info_once

__all__ = [
    "QUALITIES",
    "CamusDataset",
    "CamusFormatError",
    "EchoImage",
    "EchoSequence",
    "PatientRecord",
    "ViewInfo",
    "check_label",
    "ef_category",
    "load_patient",
    "parse_info_text",
    "read_frame",
    "read_header",
    "read_image",
    "read_info_cfg",
    "read_sequence",
    "scan_camus",
    "write_image",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CamusDataset:
    """The patients found under ``root``.

    Attributes:
        root: the folder given to :func:`scan_camus`. release: ``"nifti"`` or ``"mhd2019"``.
        patients: readable patients sorted by id (with or without ground truth).
        skipped: ``(folder, reason)`` of patient folders that could not be used.
        missing: optional files absent from usable patients: sequences, and the labels of partly annotated
            patients (these count as without ground truth).
        ignored: entries whose names are not CAMUS names.
        split_dir: the NIfTI release's ``database_split`` folder, when present.
    """

    root: Path
    release: str
    patients: list[PatientRecord]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    split_dir: Path | None = None

    @property
    def with_ground_truth(self) -> list[PatientRecord]:
        """Patients whose four annotated frames all have labels (usable for training)."""
        return [p for p in self.patients if p.has_ground_truth]

    def patient(self, patient_id: str) -> PatientRecord:
        """The patient with this id (``KeyError`` naming it when absent)."""
        for record in self.patients:
            if record.patient_id == patient_id:
                return record
        raise KeyError(f"{patient_id} is not in {self.root}")


def _missing_files(record: PatientRecord) -> list[Path]:
    """Absent optional files of a usable patient: sequences, and labels of a partly annotated patient."""
    stem = record.directory / record.patient_id
    ext = ".mhd" if record.release == "mhd2019" else ".nii.gz"
    sequence = "sequence" if record.release == "mhd2019" else "half_sequence"
    out = [Path(f"{stem}_{v}_{sequence}{ext}") for v in ("2CH", "4CH") if f"{v}_sequence" not in record.files]
    frames = ("2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES")
    if any(f"{k}_gt" in record.files for k in frames):
        out += [Path(f"{stem}_{k}_gt{ext}") for k in frames if f"{k}_gt" not in record.files]
    return out


def _holders(root: Path) -> tuple[list[tuple[Path, str | None]], str | None, Path | None]:
    """Folders holding patient folders, the release implied by the layout, and the split folder."""
    if (root / "database_nifti").is_dir():
        split = root / "database_split"
        return [(root / "database_nifti", None)], "nifti", split if split.is_dir() else None
    subsets = [(root / name, name) for name in ("training", "testing") if (root / name).is_dir()]
    if subsets:
        return subsets, "mhd2019", None
    split = root.parent / "database_split"
    implied = "nifti" if root.name == "database_nifti" else None
    return [(root, None)], implied, split if implied and split.is_dir() else None


def scan_camus(root: str | os.PathLike[str]) -> CamusDataset:
    """Find the CAMUS patients under ``root`` (either release) and parse their cfg files.

    Raises:
        CamusFormatError: ``root`` is not a folder or holds no ``patientXXXX`` folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise CamusFormatError(f"{root}: not a folder")
    holders, implied, split_dir = _holders(root)
    patients: dict[str, PatientRecord] = {}
    skipped: list[tuple[Path, str]] = []
    missing: list[Path] = []
    ignored: list[Path] = []
    for holder, subset in holders:
        for entry in sorted(holder.iterdir()):
            if not (entry.is_dir() and PATIENT_DIR.match(entry.name)):
                if not entry.name.startswith(".") and entry.name != "database_split":
                    ignored.append(entry)
                continue
            try:
                record = load_patient(entry, subset)
            except CamusFormatError as err:
                skipped.append((entry, str(err)))
                logger.warning("skipping %s", err)
                continue
            ignored.extend(index_patient_files(entry)[2])
            if record.patient_id in patients:
                skipped.append((entry, f"duplicate of {patients[record.patient_id].directory}"))
                continue
            missing.extend(_missing_files(record))
            patients[record.patient_id] = record
    if not patients:
        raise CamusFormatError(
            f"{root}: no usable CAMUS patient folder found (expected root/database_nifti/patientXXXX, "
            f"root/training/patientXXXX or root/patientXXXX with patientXXXX_2CH_ED.nii.gz/.mhd "
            f"and Info_2CH.cfg)" + (f"; {len(skipped)} incomplete patient folders skipped" if skipped else "")
        )
    releases = Counter(p.release for p in patients.values())
    # The file format decides; the folder layout only breaks a tie.
    ranked = sorted(releases.items(), key=lambda item: (-item[1], item[0] != implied))
    release = ranked[0][0]
    if len(releases) > 1:
        logger.warning("%s: mixed file formats %s; release reported as %s", root, dict(releases), release)
    records = sorted(patients.values(), key=lambda p: p.patient_id)
    without_gt = sum(not p.has_ground_truth for p in records)
    info_once(
        logger,
        "%s: %d patients (%s release), %d without ground truth (prediction only), %d skipped, "
        "%d names ignored",
        root, len(records), release, without_gt, len(skipped), len(ignored),
    )  # fmt: skip
    return CamusDataset(root, release, records, skipped, missing, ignored, split_dir)
