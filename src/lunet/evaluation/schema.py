"""The contract between evaluation and everything downstream: typed records and their CSV files.

``lunet evaluate`` writes, in its output folder:

- ``per_image.csv``: one :class:`ImageRecord` per model and image;
- ``per_patient.csv``: one :class:`PatientRecord` per model and patient (outlier flags);
- ``clinical.csv``: one :class:`ClinicalRecord` per model and patient (EDV, ESV, EF and their references);
- ``tables.json``: Tables I–IV (:mod:`lunet.evaluation.tables`) with ``schema_version`` =
  :data:`SCHEMA_VERSION`.

The CSV columns are exactly the dataclass fields, in field order (:func:`columns`); every reader
(``lunet report``, ``lunet demo``, the benchmarks) reads them by these names with :func:`read_records`, which
refuses a file whose header differs. Cell encoding: floats as ``repr`` (``nan`` where undefined), flags as
``1`` / ``0``, and an empty cell for a flag that cannot be computed (no reference). Distances are in mm,
volumes in ml, EF in %.
"""

from __future__ import annotations

import csv
import io
import math
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

from lunet.io import write_text_atomic

#: Version of the evaluation files (``tables.json["schema_version"]``); raised on any change of a record or
#: of the tables' keys.
SCHEMA_VERSION = 4  # 3: the left atrium (la_* of ImageRecord, la_esv_ml of ClinicalRecord, table_la)
# 4: EF/EDV/ESV intervals (ef_lo_percent … esv_hi_ml of ClinicalRecord)

NAN = math.nan


class SchemaError(ValueError):
    """An evaluation file does not follow this schema; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ImageRecord:
    """One predicted image of one model: a row of ``per_image.csv``.

    Segmentation scores (LU-Net TUFFC 2020, Sec. IV-B2) are NaN without a reference; Dice of two empty
    masks is NaN (:func:`lunet.evaluation.segmentation.dice_from_counts`). Shape scores (RU-Net eqs. 2–3)
    of the prediction: ``lv_*`` LV cavity, ``myo_*`` myocardium, ``epi_*`` LV ∪ myocardium; ``ref_*`` the
    same on the reference mask. ``la_*``: Dice, d_m, d_H of the left atrium (label 3), only for a model
    trained on it (:func:`lunet.evaluation.segmentation.atrium_scores`), NaN otherwise. Box scores only for
    models with a box. Outlier flags by
    :mod:`lunet.evaluation.outliers`: ``geometric_lv_endo`` / ``geometric_lv_epi`` (a d_m or d_H of that
    structure above its instant's bound), ``geometric`` (either), ``anatomical`` (needs no reference).
    """

    model: str
    patient: str
    view: str
    instant: str
    quality: str
    lv_endo_dice: float = NAN
    lv_endo_mad_mm: float = NAN
    lv_endo_hd_mm: float = NAN
    lv_epi_dice: float = NAN
    lv_epi_mad_mm: float = NAN
    lv_epi_hd_mm: float = NAN
    la_dice: float = NAN
    la_mad_mm: float = NAN
    la_hd_mm: float = NAN
    lv_simplicity: float = NAN
    lv_convexity: float = NAN
    lv_components: int = 0
    lv_holes: int = 0
    myo_simplicity: float = NAN
    myo_convexity: float = NAN
    myo_components: int = 0
    myo_holes: int = 0
    epi_simplicity: float = NAN
    epi_convexity: float = NAN
    epi_components: int = 0
    epi_holes: int = 0
    ref_lv_simplicity: float = NAN
    ref_lv_convexity: float = NAN
    ref_myo_simplicity: float = NAN
    ref_myo_convexity: float = NAN
    ref_epi_simplicity: float = NAN
    ref_epi_convexity: float = NAN
    box_iou: float = NAN
    box_xc_mm: float = NAN
    box_yc_mm: float = NAN
    box_h_mm: float = NAN
    box_w_mm: float = NAN
    bb_out: bool | None = None
    geometric_lv_endo: bool | None = None
    geometric_lv_epi: bool | None = None
    geometric: bool | None = None
    anatomical: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """``(patient, view, instant)``."""
        return self.patient, self.view, self.instant

    @property
    def has_reference(self) -> bool:
        """Whether segmentation scores were computed (a reference mask existed)."""
        return self.geometric is not None


@dataclass(frozen=True)
class PatientRecord:
    """Outlier flags of one patient and model: a row of ``per_patient.csv``.

    LU-Net's rule (Sec. IV-B2): a patient is a geometric outlier when one of its eight distance scores (d_m,
    d_H at ED and ES, 2CH and 4CH) is out of bounds — ``geometric_lv_endo`` on LV_Endo's eight,
    ``geometric_lv_epi`` on LV_Epi's, ``geometric`` on either (16). ``anatomical``: one of its images is an
    anatomical outlier; ``both``: geometric and anatomical. ``images``: images evaluated (4 when complete).
    """

    model: str
    patient: str
    quality: str
    images: int
    geometric_lv_endo: bool | None = None
    geometric_lv_epi: bool | None = None
    geometric: bool | None = None
    anatomical: bool = False
    both: bool | None = None


@dataclass(frozen=True)
class ClinicalRecord:
    """EDV, ESV (ml) and EF (%) of one patient and model, with its references: a row of ``clinical.csv``.

    ``edv_ml`` … from the predicted masks; ``simpson_*`` the same rule on the reference masks, ``cfg_*`` the
    values of the ``Info_*.cfg`` files (CAMUS), ``truth_*`` the analytic phantom values (synthetic data).
    ``la_esv_ml``: left-atrial volume at end-systole (biplane area–length, :mod:`lunet.evaluation.atrium`) of
    a model trained on the LA, ``ref_la_esv_ml`` the same on the reference masks (where they hold an LA).
    ``ef_lo_percent`` … ``esv_hi_ml``: the split-conformal interval of the run's ``calibration.json``
    (:mod:`lunet.evaluation.interval_calibration`, at its level; NaN without a calibration).
    NaN where unavailable.
    """

    model: str
    patient: str
    quality: str
    edv_ml: float = NAN
    esv_ml: float = NAN
    ef_percent: float = NAN
    ef_lo_percent: float = NAN
    ef_hi_percent: float = NAN
    edv_lo_ml: float = NAN
    edv_hi_ml: float = NAN
    esv_lo_ml: float = NAN
    esv_hi_ml: float = NAN
    simpson_edv_ml: float = NAN
    simpson_esv_ml: float = NAN
    simpson_ef_percent: float = NAN
    cfg_edv_ml: float = NAN
    cfg_esv_ml: float = NAN
    cfg_ef_percent: float = NAN
    truth_edv_ml: float = NAN
    truth_esv_ml: float = NAN
    truth_ef_percent: float = NAN
    la_esv_ml: float = NAN
    ref_la_esv_ml: float = NAN

    def value(self, reference: str, index: str) -> float:
        """Reference value ``{reference}_{index}`` (``reference`` in :data:`CLINICAL_REFERENCES`)."""
        return float(getattr(self, f"{reference}_{index}"))


#: Clinical references of :class:`ClinicalRecord`, and the indices each holds.
CLINICAL_REFERENCES = ("simpson", "cfg", "truth")
CLINICAL_INDICES = ("edv_ml", "esv_ml", "ef_percent")
#: File name of each record type in an evaluation folder.
FILES = {ImageRecord: "per_image.csv", PatientRecord: "per_patient.csv", ClinicalRecord: "clinical.csv"}

Record = TypeVar("Record", ImageRecord, PatientRecord, ClinicalRecord)


def columns(record_type: type) -> tuple[str, ...]:
    """CSV columns of a record type: its field names, in order."""
    return tuple(f.name for f in fields(record_type))


def _types(record_type: type) -> dict[str, object]:
    return typing.get_type_hints(record_type)


def _encode(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(float(value))
    return str(value)


def _decode(text: str, kind: object, where: str) -> object:
    try:
        if kind is str:
            return text
        if kind is float:
            return float(text) if text != "" else NAN
        if kind is int:
            return int(text)
        if text == "":
            return None
        if text in ("0", "1"):
            return text == "1"
    except ValueError:
        pass
    raise SchemaError(f"{where}: {text!r} is not a valid {getattr(kind, '__name__', kind)}")


def records_csv(records: Iterable[Record], record_type: type[Record]) -> str:
    """CSV text of ``records`` with the columns of ``record_type``."""
    names = columns(record_type)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for record in records:
        writer.writerow([_encode(getattr(record, name)) for name in names])
    return buffer.getvalue()


def write_records(path: str | os.PathLike[str], records: Iterable[Record], record_type: type[Record]) -> None:
    """Write ``records`` to ``path`` atomically (columns: :func:`columns` of ``record_type``)."""
    write_text_atomic(path, records_csv(records, record_type))


def read_records(path: str | os.PathLike[str], record_type: type[Record]) -> list[Record]:
    """Records of one evaluation CSV, read by exact column name.

    Raises:
        SchemaError: the file is missing, its header is not :func:`columns` of ``record_type``, or a cell
            does not parse.
    """
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"{path}: not found (run `lunet evaluate` to write it)")
    names = columns(record_type)
    types = _types(record_type)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        if header != names:
            missing = [n for n in names if n not in header]
            extra = [n for n in header if n not in names]
            raise SchemaError(
                f"{path}: columns differ from the {record_type.__name__} schema v{SCHEMA_VERSION} "
                f"(missing {missing}, unexpected {extra}); re-run `lunet evaluate` with this lunet"
            )
        out = []
        for line, row in enumerate(reader, start=2):
            if len(row) != len(names):
                raise SchemaError(f"{path}: line {line} has {len(row)} cells, expected {len(names)}")
            values = {n: _decode(t, types[n], f"{path}: line {line}, column {n}") for n, t in zip(names, row)}
            out.append(record_type(**values))
    return out


def record_from(record_type: type[Record], values: Mapping[str, object]) -> Record:
    """A record from a mapping holding (at least) its required fields; keys it lacks keep their defaults.

    Values of ``float``, ``int`` and ``str`` fields are converted to those types (numpy scalars included).

    Raises:
        SchemaError: a key of ``values`` is not a field of ``record_type`` (a metric without a column).
    """
    extra = set(values) - set(columns(record_type))
    if extra:
        raise SchemaError(f"{record_type.__name__} has no field for {sorted(extra)}")
    types = _types(record_type)
    plain = {
        k: types[k](v) if types[k] in (float, int, str) else v for k, v in values.items()
    }  # numpy → builtin
    return record_type(**plain)  # type: ignore[arg-type]


def check_tables(tables: Mapping[str, object], source: str) -> None:
    """Raise :class:`SchemaError` unless ``tables`` (a ``tables.json``) has this :data:`SCHEMA_VERSION`."""
    version = tables.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"{source}: schema_version {version!r}, this lunet reads {SCHEMA_VERSION}; "
            "re-run `lunet evaluate` with this lunet"
        )
