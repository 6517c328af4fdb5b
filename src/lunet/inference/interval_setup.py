"""Which EF/EDV/ESV interval calibration a prediction run uses, and why not: the one rule of ``lunet predict``
for images, cines (:mod:`lunet.inference.sequence_intervals`) and a cross-validation's ensemble.

:func:`interval_setup` reads the model's ``calibration.json`` (:mod:`lunet.evaluation.interval_calibration`)
and refuses what would not hold its level, with a note (logged once, written as ``interval_note``):

- ``--no-intervals``: none read, no extra passes;
- no ``calibration.json``: null intervals (``lunet calibrate RUN``);
- an ensemble (``members``: the folds of ``lunet cv``) whose folder holds no CV+ calibration of exactly those
  folds: null;
- one model with an ensemble's calibration (``models`` > 1): null;
- a calibration that recorded other weights (SHA-256 of ``model.safetensors``, of each fold for an ensemble)
  than the model has now: null (retrained since; ``lunet calibrate`` again);
- a ``normalised`` calibration measured with INT8 used with another back-end (or the reverse): intervals,
  with a note (INT8's passes spread 4× torch's on the phantom).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lunet.inference.tta import TtaPass

logger = logging.getLogger(__name__)

__all__ = ["IntervalSetup", "interval_setup"]


@dataclass(frozen=True)
class IntervalSetup:
    """What the patients of one prediction run get their intervals from.

    Attributes:
        calibration: the calibration (split-conformal, or CV+ for an ensemble), or None (null intervals).
        passes: the extra TTA passes to run (after the unaugmented one; empty for ``absolute``).
        note: why there are no intervals, or why they may not hold their level ("" when nothing to say).
    """

    calibration: Any
    passes: tuple[TtaPass, ...] = ()
    note: str = ""


def interval_setup(
    model_path: str | os.PathLike[str], backend: str, enabled: bool = True, members: Sequence[str] = ()
) -> IntervalSetup:
    """The interval setup of a bundle, or of a cross-validation's ensemble (module docstring).

    Args:
        model_path: run folder, bundle file or checkpoint (its folder holds ``calibration.json``), or the
            ``lunet cv`` folder of an ensemble.
        backend: the back-end that predicts (``torch``, ``onnx``, ``int8``).
        enabled: False for ``--no-intervals``.
        members: the ensemble's fold folders' names (``fold_1`` …); empty for one model.

    Raises:
        lunet.evaluation.interval_calibration.CalibrationFileError: an unreadable ``calibration.json``.
    """
    from lunet.evaluation.interval_calibration import CALIBRATION_FILE, read_calibration
    from lunet.inference.tta import passes_by_name
    from lunet.run_files import run_folder

    if not enabled:
        return IntervalSetup(None, (), "intervals not asked for (--no-intervals)")
    folder = run_folder(model_path)
    path = folder / CALIBRATION_FILE
    calibration, note = read_calibration(folder), ""
    if calibration is None:
        how = "`lunet calibrate RUN` (CV+ over its folds)" if members else "`lunet calibrate RUN`"
        note = f"no {CALIBRATION_FILE} in {folder}: EF/EDV/ESV intervals are null (run {how})"
    elif members and (calibration.method != "cv+" or list(calibration.members) != list(members)):
        note = (f"{path} is not the CV+ calibration of this ensemble's folds ({', '.join(members)}): null "
                f"intervals; run `lunet calibrate {folder}`")  # fmt: skip
        calibration = None
    elif not members and calibration.models > 1:
        note = (f"{path} was calibrated on an ensemble of {calibration.models} models; predict runs one "
                "model, so its intervals would not hold their level: null")  # fmt: skip
        calibration = None
    elif stale := _stale_members(calibration, folder, model_path, members):
        note = (f"{path} was calibrated for other weights than {', '.join(stale)} has now (retrained "
                "since?): its intervals would not hold their level: null; run "
                f"`lunet calibrate {folder}`")  # fmt: skip
        calibration = None
    elif calibration.needs_spread and (calibration.backend == "int8") != (backend == "int8"):
        note = (f"{path} was calibrated with the {calibration.backend} back-end, this run predicts with "
                f"{backend}: the passes' spread differs (INT8's was 4x torch's on the phantom), so the "
                "intervals may not hold their level; run "
                f"`lunet calibrate RUN --backend {backend}`")  # fmt: skip
    if note:
        logger.info("%s", note)
    spread = calibration is not None and calibration.needs_spread
    extra = passes_by_name(calibration.passes)[1:] if spread else ()
    return IntervalSetup(calibration, tuple(extra), note)


def _stale_members(
    calibration: Any, folder: Path, model_path: str | os.PathLike[str], members: Sequence[str]
) -> list[str]:
    """The models whose ``model.safetensors`` differs from the one the calibration recorded (SHA-256): the
    folder itself (``"the model"``) or the named folds. A calibration that recorded none (written before
    the check), or a prediction from a checkpoint, is not checked."""
    from lunet.run_files import weights_sha256

    recorded = calibration.weights_sha256
    if not recorded or Path(model_path).suffix == ".ckpt":
        return []
    if members:
        return [m for m in members if recorded.get(m) and recorded[m] != weights_sha256(folder / m)]
    current = weights_sha256(folder)
    return [str(folder)] if current and current != recorded else []
