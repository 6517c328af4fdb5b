"""Plot series: one per evaluated model of each run (two-output runs give ``<model>-o1``, ``<model>-o2``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lunet.report.columns import outlier_counts
from lunet.report.readers import RunData


@dataclass(frozen=True)
class Series:
    """The rows of one model of one run, with the folder its predictions are in.

    Attributes:
        label: name in legends (the run's label, or the evaluation's model row name for multi-output runs).
        run: the run. model: the ``model`` value of its rows in the evaluation files.
        pred_dir: ``RUN/predictions`` (or ``RUN/predictions_o1`` for an ``-o1`` row).
    """

    label: str
    run: RunData
    model: str
    pred_dir: Path

    @property
    def per_image(self) -> list[dict]:
        """Per-image scores of this model."""
        return [row for row in self.run.per_image if row["model"] == self.model]

    @property
    def clinical(self) -> list[dict]:
        """Per-patient ``(pred, ref)`` clinical pairs of this model."""
        return [row for row in self.run.clinical if row["model"] == self.model]

    @property
    def outliers(self) -> tuple[dict[str, int], int]:
        """Outlier patient counts and the number of patients of this model."""
        rows = [row for row in self.run.per_patient if row.get("model", "") == self.model]
        return outlier_counts(rows), len(rows)

    @property
    def boxes(self) -> dict[tuple[str, str, str], tuple[float, float, float, float]]:
        """Predicted boxes: those of ``predictions/boxes.csv`` for the final output, none for ``-o1``."""
        return self.run.boxes if self.pred_dir == self.run.run_dir / "predictions" else {}


def series_of(runs: list[RunData]) -> list[Series]:
    """Every (run, model) pair, labelled uniquely, in run order then file order."""
    found = []
    for run in runs:
        models = run.models
        for model in models:
            label = run.label if len(models) == 1 or not model else model
            o1 = run.run_dir / "predictions_o1"
            pred_dir = o1 if model.endswith("-o1") and o1.is_dir() else run.run_dir / "predictions"
            found.append((label, run, model, pred_dir))
    labels = [label for label, *_ in found]
    return [
        Series(f"{label} ({run.run_dir.name})" if labels.count(label) > 1 else label, run, model, pred_dir)
        for label, run, model, pred_dir in found
    ]
