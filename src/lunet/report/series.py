"""Plot series: one per evaluated model of each run (two-output runs give ``<model>-o1``, ``<model>-o2``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lunet.evaluation.schema import CLINICAL_INDICES, ClinicalRecord, ImageRecord
from lunet.evaluation.tables import good_medium
from lunet.report.readers import RunData


@dataclass(frozen=True)
class Series:
    """The records of one model of one run, with the folder its predictions are in.

    Attributes:
        label: name in legends (the run's label, or the evaluation's model row name for multi-output runs).
        run: the run. model: the ``model`` value of its records.
        pred_dir: ``RUN/predictions`` (or ``RUN/predictions_o1`` for an ``-o1`` row).
    """

    label: str
    run: RunData
    model: str
    pred_dir: Path

    @property
    def per_image(self) -> list[ImageRecord]:
        """Image records of this model (all patients)."""
        return [r for r in self.run.per_image if r.model == self.model]

    @property
    def clinical(self) -> list[ClinicalRecord]:
        """Clinical records of this model's good + medium quality patients (Table III's set)."""
        return [r for r in self.run.clinical if r.model == self.model and good_medium(r.quality)]

    def clinical_pairs(self, reference: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{index: (predicted, reference)}`` of EDV, ESV (ml) and EF (%) over :attr:`clinical`."""
        rows = self.clinical
        return {
            index: (
                np.array([getattr(c, index) for c in rows], dtype=np.float64),
                np.array([c.value(reference, index) for c in rows], dtype=np.float64),
            )
            for index in CLINICAL_INDICES
        }

    @property
    def outliers(self) -> tuple[dict[str, int], int]:
        """Outlier images (the papers' count: geometric on either structure, anatomical, both) of this model
        and the number of images."""
        rows = self.per_image
        counts = {
            "geometric": sum(bool(r.geometric) for r in rows),
            "anatomical": sum(r.anatomical for r in rows),
            "both": sum(bool(r.geometric) and r.anatomical for r in rows),
        }
        return counts, len(rows)

    @property
    def boxes(self) -> dict[tuple[str, str, str], np.ndarray]:
        """Predicted boxes: those of ``predictions/boxes.csv`` for the final output, none for ``-o1``."""
        return self.run.boxes if self.pred_dir == self.run.run_dir / "predictions" else {}


def series_of(runs: list[RunData]) -> list[Series]:
    """Every (run, model) pair, labelled uniquely, in run order then file order."""
    found = []
    for run in runs:
        models = run.models
        for model in models:
            label = run.label if len(models) == 1 else model
            o1 = run.run_dir / "predictions_o1"
            pred_dir = o1 if model.endswith("-o1") and o1.is_dir() else run.run_dir / "predictions"
            found.append((label, run, model, pred_dir))
    labels = [label for label, *_ in found]
    return [
        Series(f"{label} ({run.run_dir.name})" if labels.count(label) > 1 else label, run, model, pred_dir)
        for label, run, model, pred_dir in found
    ]
