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

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lunet.evaluation.interval_calibration import (
    PASSES_FILE,
    VALUE_KEYS,
    IntervalCalibration,
    PatientPasses,
    calibrate_passes,
    write_calibration,
    write_passes,
)
from lunet.inference.tta import DEFAULT_PASSES, TtaPass, pass_labels

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LEVEL",
    "calibrate_after_training",
    "calibrate_run",
    "highest_level",
    "patient_passes",
    "reference_values",
]

#: The nominal coverage of ``lunet calibrate`` and of the calibration at the end of ``lunet train`` / ``cv``.
DEFAULT_LEVEL = 0.90

FRAMES = (("2CH", "ED"), ("2CH", "ES"), ("4CH", "ED"), ("4CH", "ES"))


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


def _check_unseen(member: Path, calibration_patients: Sequence[str]) -> None:
    """Refuse an ensemble member that trained on a calibration patient (its errors there would be too small,
    and the intervals too narrow): with ``lunet cv`` the other folds usually did. A bundle without fold
    lists cannot be checked and is taken with a warning."""
    from lunet.data.folds import read_fold_lists
    from lunet.evaluation.evaluate import run_settings

    folder = member if member.is_dir() else member.parent
    if not (folder / "folds").is_dir() or not (folder / "config.json").is_file():
        logger.warning(
            "%s: no fold lists; cannot check that it never trained on the calibration patients", member
        )
        return
    folds = read_fold_lists(folder / "folds")
    trained = set(folds[min(run_settings(folder).fold, len(folds)) - 1].train)
    seen = sorted(trained & set(calibration_patients))
    if seen:
        raise ValueError(
            f"{member}: trained on {len(seen)} of the calibration patients ({', '.join(seen[:3])} …); an "
            "ensemble member must never have seen them (lunet cv: calibrate on patients no fold trained on)"
        )


def calibrate_run(
    run_dir: str | os.PathLike[str],
    level: float = DEFAULT_LEVEL,
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
    for member in ensemble:
        _check_unseen(Path(member), fold.val)
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
    from lunet.run_files import weights_sha256

    calibration = replace(calibration, backend=predictors[0].backend, weights_sha256=weights_sha256(run_dir))
    write_passes(run_dir / PASSES_FILE, rows)
    path = write_calibration(run_dir, calibration)
    logger.info(
        "%s: %s score, EF ±%.2f %s at %.0f %% from %d validation patients",
        path, calibration.score, calibration.indices["ef_percent"].quantile,
        "SD" if calibration.needs_spread else "points", 100 * level, calibration.n_patients,
    )  # fmt: skip
    return calibration


def highest_level(n: int) -> float | None:
    """The highest level in steps of 0.05 that ``n`` calibration patients allow
    (``⌈level / (1 − level)⌉ ≤ n``), or None for ``n`` < 1."""
    if n < 1:
        return None
    return math.floor(20 * n / (n + 1) + 1e-9) / 20


def calibrate_after_training(
    run_dir: str | os.PathLike[str], level: float = DEFAULT_LEVEL, threads: int | None = None
) -> IntervalCalibration | None:
    """The calibration that ends ``lunet train`` (and each fold of ``lunet cv``, and the demo's runs).

    :func:`calibrate_run` with its defaults (7 passes, ``auto`` score, torch, the test patients' passes too)
    when the run's fold has at least :func:`lunet.evaluation.intervals.min_calibration_size` validation
    patients for ``level``; else one log line says why and how many are needed, and the run stays without
    ``calibration.json`` (not an error: ``lunet calibrate RUN --level L`` with a lower level still works).
    A calibration that fails on the data (a ``ValueError``, e.g. no finite EF because the model segments no
    LV yet) is logged as a warning with its reason, and the run stays without intervals too.

    Args:
        run_dir: the trained run folder (weights and predictions written).
        level: nominal coverage.
        threads: CPU threads of the predictor (None: torch's default).

    Returns:
        The calibration written, or None when the fold has too few validation patients.
    """
    from lunet.data.folds import read_fold_lists
    from lunet.evaluation.evaluate import run_settings
    from lunet.evaluation.intervals import min_calibration_size

    run_dir = Path(run_dir)
    settings = run_settings(run_dir)
    folds = read_fold_lists(run_dir / "folds")
    n = len(folds[min(settings.fold, len(folds)) - 1].val)
    need = min_calibration_size(level)
    if n < need:
        lower = highest_level(n)
        hint = f"; `lunet calibrate {run_dir} --level {lower:g}` works with {n}" if lower else ""
        logger.info(
            "%s: no EF/EDV/ESV intervals: %g %% intervals need at least %d validation patients, fold %d has "
            "%d%s", run_dir, 100 * level, need, settings.fold, n, hint,
        )  # fmt: skip
        _warn_if_stale(run_dir)
        return None
    try:
        return calibrate_run(run_dir, level, threads=threads)
    except ValueError as err:  # e.g. a model too little trained to give an LV: the training itself stands
        logger.warning("%s: no EF/EDV/ESV intervals: %s", run_dir, err)
        _warn_if_stale(run_dir)
        return None


def _warn_if_stale(run_dir: Path) -> None:
    """Warn when a ``calibration.json`` left from earlier weights (e.g. ``lunet calibrate --level`` before a
    ``--resume``) is older than ``model.safetensors``: predict and evaluate would still use it."""
    from lunet.evaluation.interval_calibration import CALIBRATION_FILE

    calibration, weights = run_dir / CALIBRATION_FILE, run_dir / "model.safetensors"
    if calibration.is_file() and weights.is_file() and calibration.stat().st_mtime < weights.stat().st_mtime:
        logger.warning(
            "%s predates the run's weights: its intervals belong to earlier weights; run "
            "`lunet calibrate %s` again or delete it", calibration, run_dir,
        )  # fmt: skip
