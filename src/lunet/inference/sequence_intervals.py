"""EF/EDV/ESV intervals of a patient predicted from cines (``patients/<id>_sequence.json``).

The interval is the one ``lunet predict`` gives for single images (:mod:`lunet.inference.patients`): the
bundle's ``calibration.json`` (:mod:`lunet.evaluation.interval_calibration`, split-conformal at its level),
applied to the sequence's own EDV, ESV and EF (Simpson biplane on the detected ED/ES frames of both views,
mean over beats: :func:`lunet.inference.sequence.biplane_volumes`):

- ``absolute`` score: point ± the calibrated quantile, clipped (EF to [0, 100] %, volumes to ≥ 0 ml); no
  extra model calls.
- ``normalised`` score: the calibration's test-time augmentation passes (:mod:`lunet.inference.tta`) run on
  the detected ED and ES frames of both views (4 frames per beat); each pass gives EDV/ESV/EF by the same
  biplane Simpson, beat by beat and averaged over beats as the point is; the spread is the SD (ddof 1) over
  the finite values of all passes, the unaugmented one included (as
  :meth:`lunet.evaluation.interval_calibration.PatientPasses.spread`). The unaugmented pass is the sequence's
  own labels (time-smoothed when ``--temporal-sigma`` is set); the augmented passes are frame by frame.

The calibration was made on the *annotated* ED/ES frames of the run's validation patients, predicted as single
images; here it is applied at the ED/ES frames the sequence *detects*, for which its coverage was not measured
(:data:`DETECTED_FRAMES_NOTE`, written in ``interval_note``). The refusals are predict's, one rule:
:func:`lunet.inference.interval_setup.interval_setup` (re-exported here with :class:`SequenceIntervalSetup`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lunet.data.labels import Label
from lunet.inference.interval_setup import IntervalSetup, interval_setup

if TYPE_CHECKING:
    from lunet.inference.sequence import SequenceResult
    from lunet.inference.tta import TtaPass

logger = logging.getLogger(__name__)

__all__ = [
    "DETECTED_FRAMES_NOTE",
    "NO_MODEL_NOTE",
    "SequenceIntervalSetup",
    "interval_setup",
    "pass_volumes",
    "patient_intervals",
]

#: Written in ``interval_note`` of every patient whose intervals come from a calibration.
DETECTED_FRAMES_NOTE = (
    "calibrated on the annotated ED/ES frames of the run's validation patients (single images); applied here "
    "to the ED/ES frames detected in the cines (mean over beats), for which its coverage was not measured"
)
#: ``interval_note`` when the caller gave no model folder (no ``calibration.json`` could be read).
NO_MODEL_NOTE = "no model folder given to the sequence outputs: no calibration.json read, intervals null"


#: The setup of :mod:`lunet.inference.interval_setup` (the name this module has always exported).
SequenceIntervalSetup = IntervalSetup


def _beat_frames(a2c: SequenceResult, a4c: SequenceResult) -> list[dict[tuple[str, str], int]]:
    """Per beat, the 0-based frame of each (view, instant), paired as :func:`biplane_volumes` pairs them."""
    from lunet.inference.sequence import _beats

    return [
        {("2CH", "ED"): ed2, ("2CH", "ES"): es2, ("4CH", "ED"): ed4, ("4CH", "ES"): es4}
        for (ed2, es2), (ed4, es4) in zip(_beats(a2c.phases), _beats(a4c.phases))
    ]


def _mean_over_beats(beats: Sequence[dict[str, float]]) -> dict[str, float]:
    """EDV/ESV/EF as :func:`lunet.inference.sequence.biplane_volumes` reports them: each the mean of its
    finite values over beats (NaN without one)."""
    out = {}
    for key in ("edv_ml", "esv_ml", "ef_percent"):
        finite = [b[key] for b in beats if math.isfinite(b[key])]
        out[key] = float(np.mean(finite)) if finite else math.nan
    return out


def pass_volumes(
    predictor: Any,
    a2c: SequenceResult,
    a4c: SequenceResult,
    passes: Sequence[TtaPass],
    ef_convention: str = "geometric",
    batch_size: int = 8,
) -> list[dict[str, float]]:
    """EDV (ml), ESV (ml) and EF (%) of a patient under each extra TTA pass (module docstring).

    Args:
        predictor: the :class:`lunet.predictor.Predictor` that segmented the cines.
        a2c, a4c: the two views' results (frames, spacing, detected phases).
        passes: the extra passes (not the unaugmented one).
        ef_convention: Simpson convention, as the sequence JSON's.
        batch_size: frames per model call.

    Returns:
        One ``{"edv_ml", "esv_ml", "ef_percent"}`` per pass (means over beats; NaN where degenerate).
    """
    from lunet.evaluation.clinical import SimpsonOptions, patient_volumes
    from lunet.inference.inputs import network_inputs
    from lunet.inference.tta import pass_labels

    options = SimpsonOptions.for_convention(ef_convention)
    beats = _beat_frames(a2c, a4c)
    results = {"2CH": a2c, "4CH": a4c}
    wanted = sorted({(view, frame) for beat in beats for (view, _), frame in beat.items()})
    if not passes or not wanted:
        return [dict.fromkeys(("edv_ml", "esv_ml", "ef_percent"), math.nan) for _ in passes]
    inputs = [
        network_inputs(results[v].cine.frames[f], results[v].cine.spacing, predictor) for v, f in wanted
    ]
    shapes = [results[v].cine.frames.shape[1:] for v, _ in wanted]
    out = []
    for each in passes:
        labels = dict(zip(wanted, pass_labels(predictor, inputs, shapes, each, batch_size)))
        per_beat = []
        for beat in beats:
            masks = {}
            for (view, instant), frame in beat.items():
                label, result = labels[(view, frame)], results[view]
                empty = np.zeros(result.cine.frames.shape[1:], dtype=bool)
                masks[(view, instant)] = (empty if label is None else label == Label.LV, result.cine.spacing)
            per_beat.append(patient_volumes(masks, options))
        out.append(_mean_over_beats(per_beat))
    return out


def _spreads(values: Sequence[dict[str, float]]) -> dict[str, float]:
    """SD (ddof 1) over the finite passes of each index (NaN with fewer than two)."""
    out = {}
    for key in ("edv_ml", "esv_ml", "ef_percent"):
        column = np.array([v[key] for v in values], dtype=np.float64)
        finite = column[np.isfinite(column)]
        out[key] = float(np.std(finite, ddof=1)) if finite.size > 1 else math.nan
    return out


def patient_intervals(
    setup: SequenceIntervalSetup,
    a2c: SequenceResult,
    a4c: SequenceResult,
    values: dict[str, float],
    predictor: Any = None,
    ef_convention: str = "geometric",
    batch_size: int = 8,
) -> dict[str, Any]:
    """The interval keys of a patient's ``_sequence.json``.

    Args:
        setup: from :func:`interval_setup`.
        a2c, a4c: the two views' results.
        values: the sequence's ``{"edv_ml", "esv_ml", "ef_percent"}`` (the point estimates).
        predictor: the model, for the extra passes of a ``normalised`` calibration.
        ef_convention, batch_size: as :func:`pass_volumes`.

    Returns:
        ``ef_interval_percent``, ``edv_interval_ml``, ``esv_interval_ml`` (``[lo, hi]``, ``[None, None]``
        without a calibration; NaN bounds where undefined), ``interval_level``, ``interval_score``,
        ``interval_passes`` (passes the spread was taken over; 1 for ``absolute``), ``interval_note`` and
        ``interval_flags`` (:func:`lunet.inference.qc.interval_flags`).
    """
    from lunet.evaluation.interval_calibration import INTERVAL_COLUMNS
    from lunet.inference.qc import interval_flags

    cal = setup.calibration
    bounds: dict[str, float] = {}
    n_passes = 1
    if cal is not None:
        spreads = None
        if cal.needs_spread and setup.passes and predictor is not None:
            passes = [values, *pass_volumes(predictor, a2c, a4c, setup.passes, ef_convention, batch_size)]
            n_passes = len(passes)
            spreads = _spreads(passes)
        bounds = cal.intervals(values, spreads)
    out: dict[str, Any] = {}
    for lo, hi in INTERVAL_COLUMNS.values():
        stem, unit = lo.split("_lo_")
        out[f"{stem}_interval_{unit}"] = [bounds.get(lo), bounds.get(hi)] if bounds else [None, None]
    out["interval_level"] = None if cal is None else cal.level
    out["interval_score"] = None if cal is None else cal.score
    out["interval_passes"] = n_passes
    notes = [setup.note] if setup.note else []
    if cal is not None:
        notes.append(DETECTED_FRAMES_NOTE)
    out["interval_note"] = "; ".join(notes)
    out["interval_flags"] = interval_flags(out["ef_interval_percent"])
    return out
