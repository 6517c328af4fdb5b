"""Read what the report needs from a run folder: its config, its ``evaluation/`` outputs and its data.

The evaluation files follow ``docs/architecture.md``; column names are matched leniently (case and
separators ignored, a few spellings accepted) so that a renamed column does not break the report, and a
missing file leaves that part of the report empty with a note instead of failing.
Only the standard library and numpy are used (no pandas).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from lunet.config import flat_view
from lunet.report.columns import ReportInputError, parse_clinical, parse_per_image

logger = logging.getLogger(__name__)

EVALUATION_FILES = ("per_image.csv", "per_patient.csv", "clinical.csv", "tables.json")


@dataclass(frozen=True)
class RunData:
    """Everything the report shows about one run.

    Attributes:
        run_dir: the run folder. label: the name shown for the run (model name, made unique).
        config: ``config.json`` as a dict (empty when absent).
        per_image: rows ``{"model", "patient", "view", "instant", "<structure>": {"dice", "dm", "dh"}}``;
            d_m, d_H in mm.
        per_patient: raw rows of ``per_patient.csv``.
        clinical: rows ``{"model", "patient", "edv": (pred, ref), ...}`` with volumes in ml and EF in %.
        clinical_reference: the reference column used per quantity.
        tables: ``tables.json`` as a dict.
        boxes: ``(patient, view, instant) -> (x_min, y_min, x_max, y_max)`` normalised, from
            predictions/boxes.csv.
    """

    run_dir: Path
    label: str
    config: dict
    per_image: list[dict] = field(default_factory=list)
    per_patient: list[dict] = field(default_factory=list)
    clinical: list[dict] = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    clinical_reference: dict[str, str] = field(default_factory=dict)
    boxes: dict[tuple[str, str, str], tuple[float, float, float, float]] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """The model name from the config (or the folder name)."""
        return str(self.config.get("model") or self.run_dir.name)

    @property
    def models(self) -> list[str]:
        """Model rows of the evaluation in file order (``<model>-o1``, ``<model>-o2`` for two-output runs)."""
        return list(dict.fromkeys(row["model"] for row in self.per_image)) or [""]


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file with a header (an absent file gives no rows)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


def read_boxes(path: Path) -> dict[tuple[str, str, str], tuple[float, float, float, float]]:
    """``predictions/boxes.csv`` (``patient,view,instant,x_min,y_min,x_max,y_max``, normalised) as a dict."""
    boxes = {}
    for row in read_csv(path):
        try:
            key = (row["patient"], row["view"], row["instant"])
            boxes[key] = tuple(float(row[k]) for k in ("x_min", "y_min", "x_max", "y_max"))
        except (KeyError, ValueError) as err:
            raise ReportInputError(
                f"{path}: bad row {row} ({err}); expected patient,view,instant,x_min,..."
            ) from err
    return boxes  # type: ignore[return-value]


def read_json(path: Path) -> dict:
    """A JSON object from ``path`` ({} when absent)."""
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportInputError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise ReportInputError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def load_run(run_dir: Path, label: str | None = None) -> RunData:
    """Read a run folder whose ``evaluation/`` exists (see :func:`lunet.report.html.write_report`)."""
    evaluation = run_dir / "evaluation"
    config = flat_view(read_json(run_dir / "config.json"))
    clinical, reference = parse_clinical(
        read_csv(evaluation / "clinical.csv"), str(evaluation / "clinical.csv")
    )
    return RunData(
        run_dir=run_dir,
        label=label or str(config.get("model") or run_dir.name),
        config=config,
        per_image=parse_per_image(read_csv(evaluation / "per_image.csv"), str(evaluation / "per_image.csv")),
        per_patient=read_csv(evaluation / "per_patient.csv"),
        clinical=clinical,
        tables=read_json(evaluation / "tables.json"),
        clinical_reference=reference,
        boxes=read_boxes(run_dir / "predictions" / "boxes.csv"),
    )


def unique_labels(runs: list[Path], configs: list[dict]) -> list[str]:
    """Model names, with the run folder name appended where two runs share a model."""
    names = [str(c.get("model") or r.name) for r, c in zip(runs, configs)]
    return [f"{n} ({r.name})" if names.count(n) > 1 else n for n, r in zip(names, runs)]


def data_dir_of(config: dict, run_dir: Path) -> Path | None:
    """The data folder named by a run's config (``data`` / ``data_dir``, possibly nested), if it exists."""
    value = config.get("data", config.get("data_dir"))
    if isinstance(value, dict):
        value = value.get("root", value.get("path", value.get("dir", value.get("data_dir"))))
    if not value:
        return None
    path = Path(str(value)).expanduser()
    for candidate in (path, run_dir / path):
        if candidate.is_dir():
            return candidate
    return None


def is_synthetic(config: dict, data_dir: Path | None) -> bool:
    """True when the run's data is the synthetic phantom (config flag, or ``phantom_truth.json`` on disk)."""
    data = config.get("data")
    flags = [config.get("synthetic"), data.get("synthetic") if isinstance(data, dict) else None]
    if any(bool(f) for f in flags):
        return True
    if data_dir is None:
        return False
    for pattern in ("*/phantom_truth.json", "*/*/phantom_truth.json"):
        if next(data_dir.glob(pattern), None) is not None:
            return True
    return False
