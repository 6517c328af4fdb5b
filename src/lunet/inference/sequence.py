"""Whole-sequence segmentation: every frame of a cine, LV area curve, ED/ES per beat, biplane volumes, EF.

Frames go through the model in batches exactly as single images do (:func:`lunet.inference.inputs.
network_inputs`, then :func:`lunet.models.postprocess.frame_scores` and ``labels_on_grid``).
``temporal_sigma > 0`` smooths the class probabilities along time (Gaussian of that many frames, on the
network's S×S grid, or on the frames' grid for LU-Net's ROI composed there) before the argmax; it is off by
default (``bench/bench_sequence.py`` measures whether it helps). Phases come from the LV area
curve (:mod:`lunet.inference.sequence_phases`). With both views of a patient, EDV/ESV use Simpson's biplane
rule (:func:`lunet.evaluation.clinical.simpson_biplane_ml`) on the detected ED and ES frames of each view
(beat k of one view with beat k of the other), and the volume curve is computed on a common phase axis.

A model trained on the left atrium (:func:`lunet.bundle.atrium_trained`) keeps label 3 in every frame, as
single-image predict does (LU-Net's LA from o1, :func:`lunet.models.postprocess.frame_labels`); a model
trained on LV and myocardium only (every bundle written before the LA) labels 0–2, its untrained LA channel
merged into the background. For an LA-trained model the result carries the LA area curve, and with both
views :func:`atrium_volumes` gives the LA volume by the biplane area–length rule of
:mod:`lunet.evaluation.atrium` at the detected ES frames and its maximum over the cine.
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
        ef_convention: Simpson convention of EDV/ESV/EF (``geometric``, ``camus`` or ``camus-arc``, as
            ``lunet predict``).
        intervals: EF/EDV/ESV intervals in the patient JSON from the bundle's ``calibration.json``
            (:mod:`lunet.inference.sequence_intervals`; False: ``--no-intervals``).
    """

    kind: str = "auto"
    temporal_sigma: float = 0.0
    phase_sigma: float = 1.0
    batch_size: int = 8
    animation: bool = True
    ef_convention: str = "geometric"
    intervals: bool = True


@dataclass(frozen=True, eq=False)
class SequenceResult:
    """One view's cine with its predicted labels ``(T, rows, cols)`` uint8, LV area curve and phases.

    ``la_area_mm2``: ``(T,)`` LA area in mm² of each frame for a model trained on the left atrium, else
    ``None`` (its labels hold no LA).
    """

    cine: Cine
    labels: np.ndarray
    lv_area_mm2: np.ndarray
    phases: Phases
    la_area_mm2: np.ndarray | None = None


def segment_frames(
    predictor: Any,
    frames: np.ndarray,
    spacing: tuple[float, float],
    batch_size: int = 8,
    temporal_sigma: float = 0.0,
    atrium: bool | None = None,
) -> np.ndarray:
    """Labels of every frame.

    Args:
        predictor: a :class:`lunet.predictor.Predictor` (``(B,1,S,S) → {"logits"}`` or, with the crop source,
            ``→ {"roi_logits", "box"}``, and LU-Net's ``"coarse_logits"`` (o1) when trained on the LA;
            :func:`lunet.models.postprocess.frame_scores` reads them).
        frames: ``(T, rows, cols)`` images. spacing: ``(row_mm, col_mm)``.
        batch_size: frames per call. temporal_sigma: probability smoothing along time in frames (0: off).
        atrium: keep label 3 (a model trained on the left atrium); ``None``: from the predictor's bundle
            (:func:`lunet.bundle.atrium_trained` of ``predictor.meta``; a predictor without ``meta``: no).

    Returns:
        uint8 ``(T, rows, cols)`` label maps on the frames' grid (0–3 with ``atrium``, else 0–2).
    """
    from lunet.inference.inputs import network_inputs
    from lunet.models.postprocess import frame_scores, labels_on_grid

    if atrium is None:
        atrium = predicts_atrium(predictor)
    shape = frames.shape[1:]
    scores_list: list[np.ndarray] = []
    coarse: list[np.ndarray] = []
    for start in range(0, frames.shape[0], max(1, batch_size)):
        inputs = [network_inputs(f, spacing, predictor) for f in frames[start : start + batch_size]]
        out = predictor(*(np.stack(arrays)[:, None] for arrays in zip(*inputs)))
        if "logits" not in out and "roi_logits" not in out:
            raise ValueError(f"model {predictor.model_name!r} has no segmentation output")
        if atrium and "coarse_logits" in out:  # LU-Net's o1: the source of its LA outside the box
            coarse.append(np.asarray(out["coarse_logits"], dtype=np.float32))
        # S×S logits as they are, or LU-Net's ROI composed on the frames' grid (log p)
        scores_list.extend(frame_scores(out, i, shape, atrium) for i in range(len(inputs)))
    scores = _smoothed(np.stack(scores_list), temporal_sigma)
    labels = np.empty((scores.shape[0], *shape), dtype=np.uint8)  # filled in place: no list + stack copy
    for t, scores_t in enumerate(scores):
        labels[t] = labels_on_grid(scores_t, shape, atrium=atrium)
    if coarse:  # as frame_labels: LA where the composed labels are background and o1 says LA
        for t, scores_t in enumerate(_smoothed(np.concatenate(coarse), temporal_sigma)):
            la = labels_on_grid(scores_t, shape, atrium=True) == Label.LA
            labels[t][la & (labels[t] == Label.BG)] = Label.LA
    return labels


def _smoothed(scores: np.ndarray, temporal_sigma: float) -> np.ndarray:
    """Log-probabilities smoothed along time (axis 0) by a Gaussian of ``temporal_sigma`` frames; the scores
    unchanged when it is 0 (``softmax(log p) = p``: :func:`labels_on_grid` then resizes ``p``)."""
    from scipy import ndimage

    if not (temporal_sigma > 0 and scores.shape[0] > 1):
        return scores
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    probs = ndimage.gaussian_filter1d(probs, temporal_sigma, axis=0, mode="nearest")
    return np.log(np.maximum(probs, 1e-12))


def predicts_atrium(predictor: Any) -> bool:
    """Whether ``predictor``'s model was trained on the left atrium (its bundle's ``model.json``
    ``labels``, :func:`lunet.bundle.atrium_trained`); a predictor without ``meta`` (a stand-in) does not."""
    from lunet.bundle import atrium_trained

    meta = getattr(predictor, "meta", None)
    return isinstance(meta, dict) and atrium_trained(meta)


def lv_area_curve(labels: np.ndarray, spacing: tuple[float, float], label: int = Label.LV) -> np.ndarray:
    """``(T,)`` area in mm² of ``label`` (default the LV cavity) in each ``(T, rows, cols)`` label map."""
    pixel_mm2 = float(spacing[0]) * float(spacing[1])
    return (np.asarray(labels) == label).reshape(labels.shape[0], -1).sum(axis=1) * pixel_mm2


def analyse(
    cine: Cine, labels: np.ndarray, options: SequenceOptions | None = None, atrium: bool = False
) -> SequenceResult:
    """Area curve and phases of a segmented cine (the unusable frames of ``cine`` are excluded from ED/ES);
    ``atrium`` (labels from a model trained on the LA): the LA area curve too."""
    options = options or SequenceOptions()
    area = lv_area_curve(labels, cine.spacing)
    la_area = lv_area_curve(labels, cine.spacing, Label.LA) if atrium else None
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
    return SequenceResult(cine, labels, area, phases, la_area)


def predict_cine(predictor: Any, cine: Cine, options: SequenceOptions | None = None) -> SequenceResult:
    """Segment every frame of ``cine`` and analyse its LV curve (and LA curve for an LA-trained model)."""
    options = options or SequenceOptions()
    atrium = predicts_atrium(predictor)
    labels = segment_frames(
        predictor, cine.frames, cine.spacing, options.batch_size, options.temporal_sigma, atrium
    )
    return analyse(cine, labels, options, atrium)


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


#: What the two LA volumes of :func:`atrium_volumes` are (written with them).
LA_NOTE = (
    "la_volume_ml: LA volume at the detected ventricular end-systole (ES frames of both views, mean over "
    "beats), as lunet predict gives it for single images; la_volume_max_ml: the largest LA volume over the "
    "cine (common phase axis of the two views), at la_max_frames (1-based) and la_max_phase (ED = k, ES = "
    "k + 0.5); the atrium is largest at or near ventricular end-systole"
)


def atrium_es_qc(result: SequenceResult) -> list[dict[str, Any]]:
    """The LA flags of :func:`lunet.inference.qc.la_frame_flags` on each detected ES frame of a view:
    ``[{"frame": 1-based, "flags": [...]}]``."""
    from lunet.inference.qc import la_frame_flags

    return [
        {
            "frame": f + 1,
            "flags": la_frame_flags(result.labels[f], result.cine.spacing, result.cine.frames[f]),
        }
        for f in result.phases.es_frames
    ]


def atrium_volumes(a2c: SequenceResult, a4c: SequenceResult) -> dict[str, Any]:
    """LA volumes of a patient with both views, by biplane area–length
    (:func:`lunet.evaluation.atrium.la_volume_ml`), for labels of a model trained on the LA.

    Returns:
        ``{"la_volume_ml"``: mean over beats of the LA volume at the beat's detected ES frames (beat k of one
        view with beat k of the other, as :func:`biplane_volumes`; NaN without a beat where both views show
        an LA), ``"la_beats"``: ``[{"es_frames": {"2CH", "4CH"} (1-based), "la_volume_ml"}]``,
        ``"la_volume_max_ml"``: the largest LA volume on the common phase axis of the two views (NaN when
        no phase has an LA in both), ``"la_max_frames"`` ``{"2CH", "4CH"}`` (1-based) and ``"la_max_phase"``
        where it is (null without one), ``"la_volume_curve_ml"`` (N,) on that axis, ``"la_method"``,
        ``"la_note"`` (:data:`LA_NOTE`), ``"la_qc_flags"``: :func:`lunet.inference.qc.la_volume_flags` of
        ``la_volume_ml`` and the LA flags of every ES frame of both views (:func:`atrium_es_qc`, names
        without repeats)}.

    Raises:
        ValueError: a view's labels are not from a model trained on the LA (no ``la_area_mm2``).
    """
    from lunet.evaluation.atrium import METHOD, la_volume_ml
    from lunet.inference.qc import la_volume_flags

    for result in (a2c, a4c):
        if result.la_area_mm2 is None:
            raise ValueError(f"{result.cine.path}: the model was not trained on the left atrium")

    def volume(f2: int, f4: int) -> float:
        return la_volume_ml((a4c.labels[f4], a4c.cine.spacing), (a2c.labels[f2], a2c.cine.spacing))

    beats = [
        {"es_frames": {"2CH": es2 + 1, "4CH": es4 + 1}, "la_volume_ml": volume(es2, es4)}
        for (_, es2), (_, es4) in zip(_beats(a2c.phases), _beats(a4c.phases))
    ]
    finite = [b["la_volume_ml"] for b in beats if math.isfinite(b["la_volume_ml"])]
    at_es = float(np.mean(finite)) if finite else float("nan")
    grid, f2, f4 = common_phase_grid(
        frame_phases(a2c.labels.shape[0], a2c.phases), frame_phases(a4c.labels.shape[0], a4c.phases)
    )
    curve = np.array([volume(int(i), int(j)) for i, j in zip(f2, f4)], dtype=np.float64)
    largest: dict[str, Any] = {"la_volume_max_ml": float("nan"), "la_max_frames": None, "la_max_phase": None}
    if np.isfinite(curve).any():
        k = int(np.nanargmax(curve))
        largest = {
            "la_volume_max_ml": float(curve[k]),
            "la_max_frames": {"2CH": int(f2[k]) + 1, "4CH": int(f4[k]) + 1},
            "la_max_phase": float(grid[k]),
        }
    frame_flags = [f for r in (a2c, a4c) for q in atrium_es_qc(r) for f in q["flags"]]
    return {
        "la_volume_ml": at_es, "la_beats": beats, **largest, "la_volume_curve_ml": curve.tolist(),
        "la_method": METHOD, "la_note": LA_NOTE,
        "la_qc_flags": la_volume_flags(at_es) + list(dict.fromkeys(frame_flags)),
    }  # fmt: skip
