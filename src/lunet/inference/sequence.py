"""Whole-sequence segmentation: every frame of a cine, LV area curve, ED/ES per beat, biplane volumes, EF.

Frames go through the model in batches exactly as single images do (:func:`lunet.inference.inputs.
network_inputs`, then :func:`lunet.models.postprocess.frame_scores` and ``labels_on_grid``).
``temporal_sigma > 0`` smooths the class probabilities along time (Gaussian of that many frames, on the
network's S×S grid, or on the frames' grid for LU-Net's ROI composed there) before the argmax; it is off by
default (``bench/bench_sequence.py`` measures whether it helps). Phases come from the LV area
curve (:mod:`lunet.inference.sequence_phases`). With both views of a patient, EDV/ESV use Simpson's biplane
rule (:func:`lunet.evaluation.clinical.simpson_biplane_ml`) on the detected ED and ES frames of each view
(beat k of one view with beat k of the other), and the volume curve is computed on a common phase axis.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lunet.data.labels import Label
from lunet.inference.sequence_io import Cine
from lunet.inference.sequence_phases import Phases, common_phase_grid, detect_phases, frame_phases

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SequenceOptions:
    """Options of ``lunet predict --sequence``.

    Attributes:
        kind: ``"auto" | "half" | "cycle"``: what the cines are (``auto``: CAMUS files are half cycles, other
            files are judged from their curve).
        temporal_sigma: Gaussian smoothing of the probabilities along time, in frames (0: off).
        phase_sigma: Gaussian smoothing of the area curve before ED/ES detection, in frames.
        batch_size: frames per network call. animation: write the overlay GIF.
        ef_convention: Simpson convention of EDV/ESV/EF (``geometric`` or ``camus``, as ``lunet predict``).
    """

    kind: str = "auto"
    temporal_sigma: float = 0.0
    phase_sigma: float = 1.0
    batch_size: int = 8
    animation: bool = True
    ef_convention: str = "geometric"


@dataclass(frozen=True, eq=False)
class SequenceResult:
    """One view's cine with its predicted labels ``(T, rows, cols)`` uint8, LV area curve and phases."""

    cine: Cine
    labels: np.ndarray
    lv_area_mm2: np.ndarray
    phases: Phases


def segment_frames(
    predictor: Any,
    frames: np.ndarray,
    spacing: tuple[float, float],
    batch_size: int = 8,
    temporal_sigma: float = 0.0,
) -> np.ndarray:
    """Labels of every frame.

    Args:
        predictor: a :class:`lunet.bundle.Predictor` (``(B,1,S,S) → {"logits"}`` or, with the crop source,
            ``→ {"roi_logits", "box"}``; :func:`lunet.models.postprocess.frame_scores` reads either).
        frames: ``(T, rows, cols)`` images. spacing: ``(row_mm, col_mm)``.
        batch_size: frames per call. temporal_sigma: probability smoothing along time in frames (0: off).

    Returns:
        uint8 ``(T, rows, cols)`` label maps on the frames' grid.
    """
    from scipy import ndimage

    from lunet.inference.inputs import network_inputs
    from lunet.models.postprocess import frame_scores, labels_on_grid

    shape = frames.shape[1:]
    scores_list: list[np.ndarray] = []
    for start in range(0, frames.shape[0], max(1, batch_size)):
        inputs = [network_inputs(f, spacing, predictor) for f in frames[start : start + batch_size]]
        out = predictor(*(np.stack(arrays)[:, None] for arrays in zip(*inputs)))
        if "logits" not in out and "roi_logits" not in out:
            raise ValueError(f"model {predictor.model_name!r} has no segmentation output")
        # S×S logits as they are, or LU-Net's ROI composed on the frames' grid (log p)
        scores_list.extend(frame_scores(out, i, shape) for i in range(len(inputs)))
    scores = np.stack(scores_list)
    if temporal_sigma > 0 and scores.shape[0] > 1:
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        probs = ndimage.gaussian_filter1d(probs, temporal_sigma, axis=0, mode="nearest")
        scores = np.log(np.maximum(probs, 1e-12))  # softmax(log p) = p: labels_on_grid then resizes p
    labels = np.empty((scores.shape[0], *shape), dtype=np.uint8)  # filled in place: no list + stack copy
    for t, scores_t in enumerate(scores):
        labels[t] = labels_on_grid(scores_t, shape)
    return labels


def lv_area_curve(labels: np.ndarray, spacing: tuple[float, float]) -> np.ndarray:
    """``(T,)`` LV cavity area in mm² of each ``(T, rows, cols)`` label map."""
    pixel_mm2 = float(spacing[0]) * float(spacing[1])
    return (np.asarray(labels) == Label.LV).reshape(labels.shape[0], -1).sum(axis=1) * pixel_mm2


def analyse(cine: Cine, labels: np.ndarray, options: SequenceOptions | None = None) -> SequenceResult:
    """Area curve and phases of a segmented cine (the unusable frames of ``cine`` are excluded from ED/ES)."""
    options = options or SequenceOptions()
    area = lv_area_curve(labels, cine.spacing)
    flagged = np.zeros(area.size, dtype=bool)
    flagged[list(cine.bad_frames)] = True
    kind = cine.hint if options.kind == "auto" else options.kind
    phases = detect_phases(area, kind=kind, flagged=flagged, sigma=options.phase_sigma)
    if phases.flagged:
        logger.warning(
            "%s: frames %s look corrupted; not used for ED/ES", cine.path, [f + 1 for f in phases.flagged]
        )
    if cine.orientation and phases.kind == "half" and cine.orientation != phases.direction:
        logger.warning(
            "%s: the LV curve runs %s but the CAMUS cfg/images say %s",
            cine.path,
            phases.direction,
            cine.orientation,
        )
    return SequenceResult(cine, labels, area, phases)


def predict_cine(predictor: Any, cine: Cine, options: SequenceOptions | None = None) -> SequenceResult:
    """Segment every frame of ``cine`` and analyse its LV curve."""
    options = options or SequenceOptions()
    labels = segment_frames(predictor, cine.frames, cine.spacing, options.batch_size, options.temporal_sigma)
    return analyse(cine, labels, options)


def _beats(phases: Phases) -> list[tuple[int, int]]:
    """(ED, ES) frame pairs: each ED with the first ES after it (a half sequence: its one pair)."""
    if phases.kind == "half":
        return [(phases.ed_frames[0], phases.es_frames[0])]
    pairs = []
    for ed in phases.ed_frames:
        later = [es for es in phases.es_frames if es > ed]
        if later:
            pairs.append((ed, later[0]))
    return pairs


def biplane_volumes(
    a2c: SequenceResult, a4c: SequenceResult, ef_convention: str = "geometric"
) -> dict[str, Any]:
    """Simpson biplane EDV/ESV/EF per beat and the volume curve of a patient with both views.

    EDV/ESV/EF of a beat: :func:`lunet.evaluation.clinical.patient_volumes` (the one definition) on the
    detected ED/ES frames, in ``ef_convention``; the volume curve: :func:`simpson_biplane_ml` per phase
    (per-instant disc height).

    Returns:
        ``{"beats": [{"ed_frames": {"2CH", "4CH"} (1-based), "es_frames", "edv_ml", "esv_ml", "ef_percent"}],
        "edv_ml", "esv_ml", "ef_percent"`` (means over beats, NaN without a complete beat),
        ``"phase"`` (N,) common phase axis (ED of beat k = k, its ES k + 0.5), ``"frames_2ch"`` and
        ``"frames_4ch"`` (N,) 1-based frame used at each phase, ``"volume_ml"`` (N,)}.
    """
    from lunet.evaluation.clinical import SimpsonOptions, patient_volumes, simpson_biplane_ml

    options = SimpsonOptions.for_convention(ef_convention)

    def volume(f2: int, f4: int) -> float:
        return simpson_biplane_ml(
            a2c.labels[f2] == Label.LV,
            a2c.cine.spacing,
            a4c.labels[f4] == Label.LV,
            a4c.cine.spacing,
            options,
        )

    beats = []
    for (ed2, es2), (ed4, es4) in zip(_beats(a2c.phases), _beats(a4c.phases)):
        frames = {
            ("2CH", "ED"): (a2c, ed2),
            ("2CH", "ES"): (a2c, es2),
            ("4CH", "ED"): (a4c, ed4),
            ("4CH", "ES"): (a4c, es4),
        }
        masks = {key: (r.labels[f] == Label.LV, r.cine.spacing) for key, (r, f) in frames.items()}
        beats.append({
            "ed_frames": {"2CH": ed2 + 1, "4CH": ed4 + 1}, "es_frames": {"2CH": es2 + 1, "4CH": es4 + 1},
            **patient_volumes(masks, options),
        })  # fmt: skip
    grid, f2, f4 = common_phase_grid(
        frame_phases(a2c.labels.shape[0], a2c.phases), frame_phases(a4c.labels.shape[0], a4c.phases)
    )
    curve = [volume(int(i), int(j)) for i, j in zip(f2, f4)]

    def mean(key: str) -> float:
        values = [b[key] for b in beats if math.isfinite(b[key])]
        return float(np.mean(values)) if values else float("nan")

    return {
        "beats": beats, "edv_ml": mean("edv_ml"), "esv_ml": mean("esv_ml"), "ef_percent": mean("ef_percent"),
        "ef_convention": options.convention, "phase": grid.tolist(), "frames_2ch": (f2 + 1).tolist(),
        "frames_4ch": (f4 + 1).tolist(), "volume_ml": curve,
    }  # fmt: skip
