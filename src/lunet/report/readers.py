"""Read what the report needs from a run folder: its config, its ``evaluation/`` records and its boxes.

The evaluation files are read by exact name and column (:mod:`lunet.evaluation.schema`); a file that does
not follow the schema is an error that says to re-run ``lunet evaluate``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lunet.boxes import read_boxes_csv
from lunet.config import flat_view
from lunet.evaluation.evaluate import RunSettings, run_settings
from lunet.evaluation.schema import (
    FILES,
    ClinicalRecord,
    ImageRecord,
    PatientRecord,
    check_tables,
    read_records,
)


class ReportInputError(ValueError):
    """A run folder cannot be reported; the message names the file and what is wrong."""


@dataclass(frozen=True)
class RunData:
    """Everything the report shows about one run.

    Attributes:
        run_dir: the run folder. label: the name shown for the run (model name, made unique).
        config: ``config.json`` keyed by flag names (:func:`lunet.config.flat_view`). settings: what the
            evaluation read from it. outcome: ``training.json`` (epochs run, stop reason; {} if absent).
        per_image, per_patient, clinical: the records of ``evaluation/``.
        tables: ``evaluation/tables.json`` (schema version checked).
        boxes: ``{(patient, view, instant): (4,) box}`` normalised, from ``predictions/boxes.csv``.
    """

    run_dir: Path
    label: str
    config: dict
    settings: RunSettings
    outcome: dict = field(default_factory=dict)
    per_image: list[ImageRecord] = field(default_factory=list)
    per_patient: list[PatientRecord] = field(default_factory=list)
    clinical: list[ClinicalRecord] = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    boxes: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        """Model rows of the evaluation in file order (``<model>-o1``, ``<model>-o2`` for two-output runs)."""
        return list(dict.fromkeys(record.model for record in self.per_image))

    @property
    def synthetic(self) -> bool:
        """Whether the evaluation found synthetic (phantom) data."""
        return bool(self.tables["synthetic"])


def read_json(path: Path) -> dict:
    """A JSON object from ``path``."""
    if not path.is_file():
        raise ReportInputError(f"{path}: not found")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportInputError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise ReportInputError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def load_run(run_dir: Path, label: str) -> RunData:
    """Read a run folder whose ``evaluation/`` exists (see :func:`lunet.report.html.write_report`)."""
    evaluation = run_dir / "evaluation"
    tables = read_json(evaluation / "tables.json")
    check_tables(tables, str(evaluation / "tables.json"))
    boxes_csv = run_dir / "predictions" / "boxes.csv"
    return RunData(
        run_dir=run_dir,
        label=label,
        config=flat_view(read_json(run_dir / "config.json")),
        settings=run_settings(run_dir),
        outcome=read_json(run_dir / "training.json") if (run_dir / "training.json").is_file() else {},
        per_image=read_records(evaluation / FILES[ImageRecord], ImageRecord),
        per_patient=read_records(evaluation / FILES[PatientRecord], PatientRecord),
        clinical=read_records(evaluation / FILES[ClinicalRecord], ClinicalRecord),
        tables=tables,
        boxes=read_boxes_csv(boxes_csv) if boxes_csv.is_file() else {},
    )


def unique_labels(runs: list[Path]) -> list[str]:
    """Model names of the runs, with the run folder name appended where two runs share a model."""
    names = [run_settings(r).model for r in runs]
    return [f"{n} ({r.name})" if names.count(n) > 1 else n for n, r in zip(names, runs)]
