"""``lunet calibrate``: EF/EDV/ESV intervals of a run, calibrated on its validation patients.

For each validation patient of the run's fold (never a test patient) the four frames (2CH/4CH × ED/ES) go
through every test-time augmentation pass (:mod:`lunet.inference.tta`) of every model (the run, plus any
ensemble members, e.g. the other folds of ``lunet cv``); each pass gives EDV, ESV and EF by Simpson's
biplane rule (:func:`lunet.evaluation.clinical.patient_volumes`). The point estimate is the first model's
unaugmented pass (the run's usual figure), the spread the SD over all passes. The reference is the
phantom's analytic truth when there is one, else the ``Info_*.cfg`` values (CAMUS), else Simpson on the
reference masks. Split-conformal calibration (:mod:`lunet.evaluation.intervals`) then gives the quantile
written to ``RUN/calibration.json`` (:mod:`lunet.evaluation.interval_calibration`), next to the weights, so
``lunet predict`` with the run or its exported bundle gives intervals. The per-pass values of the validation
and test patients go to ``RUN/calibration_passes.csv`` (``lunet evaluate`` reads the test patients' spreads
from it for ``clinical.csv``).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lunet.evaluation.interval_calibration import (
    INDICES,
    SPREAD_FLOORS,
    IntervalCalibration,
    calibrate_indices,
    choose_score,
    write_calibration,
)
from lunet.inference.tta import DEFAULT_PASSES, TtaPass, pass_labels

logger = logging.getLogger(__name__)

__all__ = [
    "PASSES_FILE",
    "PatientPasses",
    "calibrate_passes",
    "calibrate_run",
    "patient_passes",
    "read_passes",
    "reference_values",
]

PASSES_FILE = "calibration_passes.csv"
FRAMES = (("2CH", "ED"), ("2CH", "ES"), ("4CH", "ED"), ("4CH", "ES"))
VALUE_KEYS = ("edv_ml", "esv_ml", "ef_percent")


@dataclass
class PatientPasses:
    """EDV/ESV/EF of one patient under every pass.

    Attributes:
        patient: id.
        values: ``(passes, 3)`` EDV (ml), ESV (ml), EF (%) per pass (models × TTA passes, the first model's
            identity pass first); NaN where a mask is degenerate.
        names: ``model<k>:<pass>`` per row.
        seconds: wall time of the patient's passes (model calls, inverse maps and Simpson).
    """

    patient: str
    values: np.ndarray
    names: list[str]
    seconds: float = math.nan

    def point(self) -> dict[str, float]:
        """The first model's unaugmented pass: ``{"edv_ml", "esv_ml", "ef_percent"}``."""
        return dict(zip(VALUE_KEYS, (float(v) for v in self.values[0])))

    def spread(self) -> dict[str, float]:
        """SD (ddof 1) over the finite passes of each index (NaN with fewer than two)."""
        out = {}
        for j, key in enumerate(VALUE_KEYS):
            column = self.values[:, j]
            finite = column[np.isfinite(column)]
            out[key] = float(np.std(finite, ddof=1)) if finite.size > 1 else math.nan
        return out


def patient_passes(
    predictors: Sequence[Any],
    record: Any,
    passes: Sequence[TtaPass] = DEFAULT_PASSES,
    simpson: Any = None,
    batch_size: int = 8,
) -> PatientPasses:
    """Predict one patient's four ED/ES frames under every pass of every predictor.

    Args:
        predictors: :class:`lunet.inference.backends.Predictor` objects (the first gives the point estimate).
        record: a :class:`lunet.data.camus.PatientRecord` with 2CH and 4CH at ED and ES.
        passes: TTA passes (the identity first).
        simpson: :class:`lunet.evaluation.simpson.SimpsonOptions` (``geometric`` when None).
        batch_size: frames per model call.

    Returns:
        :class:`PatientPasses`.
    """
    from lunet.evaluation.clinical import patient_volumes
    from lunet.inference.inputs import network_inputs

    start = time.perf_counter()
    frames = [record.load(view, instant) for view, instant in FRAMES]
    rows, names = [], []
    for k, predictor in enumerate(predictors):
        inputs = [network_inputs(f.image, f.spacing, predictor) for f in frames]
        shapes = [f.image.shape for f in frames]
        for tta in passes:
            labels = pass_labels(predictor, inputs, shapes, tta, batch_size)
            masks = {
                key: (np.asarray(label) == 1, tuple(f.spacing))
                for key, label, f in zip(FRAMES, labels, frames)
                if label is not None
            }
            volumes = patient_volumes(masks, simpson)
            rows.append([volumes[key] for key in VALUE_KEYS])
            names.append(f"model{k}:{tta.name}")
    return PatientPasses(record.patient_id, np.asarray(rows, dtype=np.float64), names,
                         time.perf_counter() - start)  # fmt: skip


def reference_values(references: Any, patient: str) -> dict[str, float]:
    """The reference EDV/ESV/EF of a patient: phantom truth, else ``Info_*.cfg``, else Simpson on the
    reference masks (``references``: :class:`lunet.evaluation.references.References`)."""
    values = references.clinical(patient)
    out = {}
    for key in VALUE_KEYS:
        candidates = (values.get(f"{source}_{key}", math.nan) for source in ("truth", "cfg", "simpson"))
        out[key] = next((float(v) for v in candidates if math.isfinite(v)), math.nan)
    return out


def write_passes(path: Path, rows: Sequence[tuple[str, PatientPasses]]) -> Path:
    """``calibration_passes.csv``: ``patient, split, pass, edv_ml, esv_ml, ef_percent`` (atomic)."""
    from lunet.io import write_text_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("patient", "split", "pass", *VALUE_KEYS))
    for split, result in rows:
        for name, values in zip(result.names, result.values):
            writer.writerow((result.patient, split, name, *(repr(float(v)) for v in values)))
    write_text_atomic(path, buffer.getvalue())
    return path


def read_passes(path: str | os.PathLike[str], split: str | None = None) -> dict[str, PatientPasses]:
    """Per patient, the passes of a ``calibration_passes.csv`` (only ``split`` rows when given).

    Raises:
        ValueError: a file without the expected columns (the message names it).
    """
    path = Path(path)
    grouped: dict[str, tuple[list[str], list[list[float]]]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        expected = {"patient", "split", "pass", *VALUE_KEYS}
        if not expected <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: expected columns {sorted(expected)}, got {reader.fieldnames}")
        for row in reader:
            if split is not None and row["split"] != split:
                continue
            names, values = grouped.setdefault(row["patient"], ([], []))
            names.append(row["pass"])
            values.append([float(row[k]) for k in VALUE_KEYS])
    return {p: PatientPasses(p, np.asarray(v, dtype=np.float64), n) for p, (n, v) in grouped.items()}


def calibrate_passes(
    validation: Sequence[PatientPasses],
    truths: Sequence[dict[str, float]],
    level: float = 0.90,
    score: str = "auto",
    passes: Sequence[str] = tuple(p.name for p in DEFAULT_PASSES),
    models: int = 1,
    ef_convention: str = "geometric",
) -> IntervalCalibration:
    """The interval calibration from the validation patients' passes and their reference values.

    Args:
        validation: passes of each validation patient.
        truths: their reference ``{"edv_ml", "esv_ml", "ef_percent"}``, same order.
        level: nominal coverage.
        score: ``"absolute"``, ``"normalised"`` or ``"auto"`` (:func:`choose_score` on EF).
        passes: the TTA pass names (recorded).
        models: number of models (1, or the ensemble's size).
        ef_convention: the Simpson convention of the values (recorded).
    """
    if score not in ("auto", "absolute", "normalised"):
        raise ValueError(f"score must be auto, absolute or normalised, got {score!r}")
    estimates = {k: [p.point()[k] for p in validation] for k in INDICES}
    spreads = {k: [p.spread()[k] for p in validation] for k in INDICES}
    reference = {k: [t[k] for t in truths] for k in INDICES}
    choice: dict[str, object] = {}
    if score == "auto":
        score, widths = choose_score(
            estimates["ef_percent"], reference["ef_percent"], spreads["ef_percent"], level,
            SPREAD_FLOORS["ef_percent"],
        )  # fmt: skip
        choice = {
            **{f"loo_mean_ef_width_{k}": v for k, v in widths.items()},
            "rule": "leave-one-out on the validation patients: normalised if its mean EF width is smaller",
        }
    indices = calibrate_indices(estimates, reference, spreads if score == "normalised" else None, level)
    n_passes = len(validation[0].names) if validation else 0
    if score == "normalised" and n_passes < 2:
        raise ValueError("the normalised score needs at least two passes per patient")
    return IntervalCalibration(
        level=float(level), score=score, passes=tuple(passes), indices=indices, models=models,
        n_patients=len(validation), ef_convention=ef_convention, score_choice=choice,
    )  # fmt: skip


def calibrate_run(
    run_dir: str | os.PathLike[str],
    level: float = 0.90,
    score: str = "auto",
    passes: Sequence[TtaPass] = DEFAULT_PASSES,
    ensemble: Sequence[str | os.PathLike[str]] = (),
    backend: str = "torch",
    threads: int | None = None,
    test: bool = True,
) -> IntervalCalibration:
    """Calibrate a run's intervals on its validation patients and write ``RUN/calibration.json``.

    Args:
        run_dir: a trained run folder (``config.json``, ``folds/``, weights).
        level: nominal coverage (0.90 by default).
        score: ``"auto"`` (leave-one-out choice on the validation patients), ``"absolute"`` or
            ``"normalised"``.
        passes: the TTA passes (the identity first).
        ensemble: other bundles whose passes join the spread (e.g. the other folds of ``lunet cv``).
        backend: prediction back-end (``torch``, ``onnx``, ``int8``, ``auto``).
        threads: CPU threads.
        test: also predict the run's test patients' passes (for ``lunet evaluate``'s intervals).

    Returns:
        The calibration written.

    Raises:
        ValueError: no validation patients, or too few for the level.
    """
    from lunet.data.folds import read_fold_lists
    from lunet.evaluation.evaluate import run_settings
    from lunet.evaluation.references import References
    from lunet.inference.backends import load_predictor

    run_dir = Path(run_dir)
    settings = run_settings(run_dir)
    folds = read_fold_lists(run_dir / "folds")
    fold = folds[min(settings.fold, len(folds)) - 1]
    if not fold.val:
        raise ValueError(f"{run_dir / 'folds'}: the run's fold has no validation patients to calibrate on")
    if not passes or not passes[0].identity:
        raise ValueError("the first pass must be the identity (it gives the point estimate)")
    refs = References(settings.data)
    predictors = [load_predictor(p, backend, threads=threads) for p in (run_dir, *ensemble)]
    splits = [("validation", fold.val)] + ([("test", fold.test)] if test else [])
    rows: list[tuple[str, PatientPasses]] = []
    for split, patients in splits:
        for pid in patients:
            record = refs.records.get(pid.lower())
            if record is None:
                logger.warning("%s: not in %s; left out of the calibration", pid, settings.data)
                continue
            rows.append((split, patient_passes(predictors, record, passes, refs.simpson)))
        logger.info("%s: %d patients × %d passes", split, len(patients), len(passes) * len(predictors))
    validation = [r for s, r in rows if s == "validation"]
    calibration = calibrate_passes(
        validation, [reference_values(refs, r.patient) for r in validation], level, score,
        [p.name for p in passes], len(predictors), refs.simpson.convention,
    )  # fmt: skip
    write_passes(run_dir / PASSES_FILE, rows)
    path = write_calibration(run_dir, calibration)
    logger.info(
        "%s: %s score, EF ±%.2f %s at %.0f %% from %d validation patients",
        path, calibration.score, calibration.indices["ef_percent"].quantile,
        "SD" if calibration.needs_spread else "points", 100 * level, calibration.n_patients,
    )  # fmt: skip
    return calibration
