"""``lunet calibrate`` on a cross-validation run: CV+ intervals for the ensemble of its fold models.

Every patient of a ``lunet cv`` is tested by exactly one fold, whose model never saw it. Its passes under that
model (the test rows of ``fold_K/calibration_passes.csv``, written by each fold's own calibration; predicted
here when missing) give the out-of-fold conformity scores of :mod:`lunet.evaluation.cv_plus`, written to
``RUN/calibration.json`` with ``"method": "cv+"``. ``lunet predict --model RUN`` then runs every fold model
(:mod:`lunet.inference.ensemble`) and reports the CV+ interval around the ensemble's estimate.

``lunet cv`` runs this after gathering (:func:`calibrate_cv_after_gathering`), when the folds together test
enough patients for the level.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lunet.evaluation.cv_plus import CvPlusCalibration, calibrate_cv_plus
from lunet.evaluation.interval_calibration import (
    PASSES_FILE,
    PatientPasses,
    read_calibration,
    read_passes,
    write_calibration,
)
from lunet.inference.calibrate import DEFAULT_LEVEL, patient_passes, reference_values
from lunet.inference.tta import DEFAULT_PASSES, TtaPass

logger = logging.getLogger(__name__)

__all__ = ["OutOfFold", "calibrate_cv_after_gathering", "calibrate_cv_run", "out_of_fold_passes"]


def _stored_test_passes(fold_dir: Path, names: Sequence[str], backend: str) -> dict[str, PatientPasses]:
    """The fold's own test patients' passes from its calibration, when they are the passes asked for (same
    names, one model, same back-end); else ``{}``."""
    path = fold_dir / PASSES_FILE
    calibration = read_calibration(fold_dir)
    if not path.is_file() or calibration is None or calibration.models != 1 or calibration.backend != backend:
        return {}
    wanted = [f"model0:{name}" for name in names]
    return {pid: p for pid, p in read_passes(path, "test").items() if p.names == wanted}


@dataclass
class OutOfFold:
    """Every patient of a cross-validation under the fold model that held it out.

    Attributes:
        members: the fold folders, by fold number. passes: ``(member index, PatientPasses)`` per patient.
        truths: the patients' reference EDV/ESV/EF, same order. references: the data's
            :class:`lunet.evaluation.references.References` (its Simpson convention made the values).
    """

    members: list[Path]
    passes: list[tuple[int, PatientPasses]]
    truths: list[dict[str, float]]
    references: Any


def out_of_fold_passes(
    run_dir: str | os.PathLike[str],
    passes: Sequence[TtaPass] = DEFAULT_PASSES,
    backend: str = "torch",
    threads: int | None = None,
) -> OutOfFold:
    """Each fold's test patients through its own model's passes (stored ones reused, see the module).

    Raises:
        ValueError: fewer than two trained folds, or folds trained on different data.
    """
    from lunet.data.folds import read_fold_lists
    from lunet.evaluation.evaluate import run_settings
    from lunet.evaluation.references import References
    from lunet.inference.backends import load_predictor
    from lunet.run_files import cv_members

    run_dir = Path(run_dir)
    members = cv_members(run_dir)
    if len(members) < 2:
        raise ValueError(f"{run_dir}: not a cross-validation with two or more trained folds (fold_K/)")
    if not passes or not passes[0].identity:
        raise ValueError("the first pass must be the identity (it gives the point estimate)")
    names = [p.name for p in passes]
    refs: Any = None
    data: Path | None = None
    found = OutOfFold(members, [], [], None)
    for k, fold_dir in enumerate(members):
        settings = run_settings(fold_dir)
        if data is None:
            data, refs = Path(settings.data).resolve(), References(settings.data)
        elif Path(settings.data).resolve() != data:
            raise ValueError(f"{fold_dir}: trained on {settings.data}, the other folds on {data}")
        test = read_fold_lists(fold_dir / "folds")[settings.fold - 1].test
        stored = _stored_test_passes(fold_dir, names, backend)
        predictor = None
        for pid in test:
            record = refs.records.get(pid.lower())
            if record is None:
                logger.warning("%s: not in %s; left out of the CV+ calibration", pid, settings.data)
                continue
            result = stored.get(record.patient_id)
            if result is None:
                predictor = predictor or load_predictor(fold_dir, backend, threads=threads)
                result = patient_passes([predictor], record, passes, refs.simpson)
            found.passes.append((k, result))
            found.truths.append(reference_values(refs, record.patient_id))
        logger.info("%s: %d test patients (%d predicted now)", fold_dir.name, len(test),
                    len(set(test) - set(stored)))  # fmt: skip
    found.references = refs
    return found


def calibrate_cv_run(
    run_dir: str | os.PathLike[str],
    level: float = DEFAULT_LEVEL,
    score: str = "auto",
    passes: Sequence[TtaPass] = DEFAULT_PASSES,
    backend: str = "torch",
    threads: int | None = None,
) -> CvPlusCalibration:
    """CV+ calibration of a cross-validation's ensemble, written to ``RUN/calibration.json``.

    Args:
        run_dir: the ``lunet cv`` folder (``fold_K/`` trained runs).
        level: nominal coverage.
        score: ``auto``, ``absolute`` or ``normalised``.
        passes: the TTA passes every fold model runs (the identity first).
        backend: prediction back-end of the passes (``torch``, ``onnx``, ``int8``).
        threads: CPU threads.

    Raises:
        ValueError: fewer than two trained folds, folds on different data, or too few patients.
    """
    found = out_of_fold_passes(run_dir, passes, backend, threads)
    calibration = calibrate_cv_plus(
        found.passes, found.truths, [m.name for m in found.members], level, score, [p.name for p in passes],
        found.references.simpson.convention,
    )  # fmt: skip
    from lunet.run_files import weights_sha256

    shas = {m.name: weights_sha256(m) for m in found.members}
    calibration = replace(calibration, backend=backend, weights_sha256=shas)
    path = write_calibration(run_dir, calibration)
    logger.info(
        "%s: CV+ over %d folds, %s score, %d out-of-fold patients, %.0f %%",
        path, calibration.models, calibration.score, calibration.n_patients, 100 * level,
    )  # fmt: skip
    return calibration


def calibrate_cv_after_gathering(
    run_dir: str | os.PathLike[str], level: float = DEFAULT_LEVEL, threads: int | None = None
) -> CvPlusCalibration | None:
    """The step that ends ``lunet cv`` once its folds are gathered: :func:`calibrate_cv_run`, defaults.

    A calibration that fails on the data (too few out-of-fold patients for ``level``, a fold whose model
    segments no LV yet) is logged with its reason and the run stays without ensemble intervals (not an error:
    the folds and their predictions stand; ``lunet calibrate RUN --level L`` works by hand).
    """
    try:
        return calibrate_cv_run(run_dir, level, threads=threads)
    except ValueError as err:
        logger.warning("%s: no ensemble (CV+) intervals: %s", run_dir, err)
        return None
