"""Evaluation of predicted sequences (``lunet predict --sequence``) against CAMUS sequence references.

Per frame (where the reference has ``*_half_sequence_gt``): Dice, ``d_m`` and ``d_H`` of LV_Endo and LV_Epi
(:func:`lunet.evaluation.segmentation.segmentation_scores`). Per sequence: the ED/ES frame error against
``Info_<view>.cfg`` (predicted − reference, in frames and in ms at the cfg frame rate), and two temporal
consistency scores:

- *roughness* of the LV area curve: RMS of its second difference over its mean (``√mean(Δ²A) / mean(A)``);
  reported for the prediction, the reference, and their ratio (1 = as smooth as the reference);
- *jump share*: the share of interior frames whose LV contour is more than ``jump_mm`` (2 mm) from the
  contours of *both* neighbours (mean contour distance ``d_m``): a flicker, not the motion of the wall;
- the CAMUS authors' check (:mod:`lunet.evaluation.temporal`, Painchaud et al. 2022): frames whose shape
  attributes (LV area, base width, length, orientation; myocardium area; epicardium centre) depart from the
  mean of their neighbours' by more than the published thresholds (``temporal_flagged_frames``, 1-based),
  for the prediction and the reference.

Per patient with both views: EF from the sequence (the predicted masks at its detected ED/ES frames) against
EF from the reference ED/ES masks, both by :func:`lunet.evaluation.clinical.patient_volumes` in one
convention, and the cfg EF.
Files (in ``out_dir``): ``sequence_per_frame.csv``, ``sequence_per_sequence.csv``, ``sequence_patients.csv``
and ``sequence.json`` (means and the curves, read by the report).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from lunet.data.labels import Label

logger = logging.getLogger(__name__)

#: The phantom's multi-beat cines (``lunet synth --cycles N``): not CAMUS half sequences, not scored here.
PHANTOM_CINE = re.compile(r"_cine\.(nii\.gz|nii|mhd)$", re.I)
#: A contour further than this from both neighbours' contours is a jump (mm).
JUMP_MM = 2.0
SEQUENCE_FILE = "sequence.json"


def area_roughness(area: np.ndarray) -> float:
    """RMS second difference of an area curve over its mean (dimensionless; NaN under 3 frames or mean 0)."""
    area = np.asarray(area, dtype=np.float64)
    if area.size < 3 or not np.mean(area) > 0:
        return float("nan")
    return float(np.sqrt(np.mean(np.diff(area, n=2) ** 2)) / np.mean(area))


def jump_share(labels: np.ndarray, spacing: tuple[float, float], jump_mm: float = JUMP_MM) -> float:
    """Share of interior frames whose LV contour is over ``jump_mm`` from both neighbours' (NaN if T < 3).

    Args:
        labels: ``(T, rows, cols)`` label maps. spacing: ``(row_mm, col_mm)``. jump_mm: threshold in mm.
    """
    from lunet.evaluation.segmentation import mean_absolute_distance_mm

    lv = np.asarray(labels) == Label.LV
    if lv.shape[0] < 3:
        return float("nan")
    steps = np.array([mean_absolute_distance_mm(lv[t], lv[t + 1], spacing) for t in range(len(lv) - 1)])
    steps = np.where(np.isfinite(steps), steps, np.inf)  # one empty mask beside a full one: a jump
    jumps = np.minimum(steps[:-1], steps[1:]) > jump_mm
    return float(np.mean(jumps))


def frame_error(predicted: int | None, reference: int | None, frame_ms: float | None) -> tuple[float, float]:
    """``(frames, ms)`` of predicted − reference frame (NaN when either is missing or the rate unknown)."""
    if predicted is None or reference is None:
        return float("nan"), float("nan")
    frames = float(predicted - reference)
    return frames, frames * frame_ms if frame_ms else float("nan")


def _csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of dict rows (columns in first-seen order; NaN and None as empty cells)."""
    import csv
    import io

    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v
                         for k, v in row.items()})  # fmt: skip
    return buffer.getvalue()


def _mean(rows: list[dict[str, Any]], key: str, absolute: bool = False) -> float:
    values = [float(r[key]) for r in rows if r.get(key) is not None and math.isfinite(float(r[key]))]
    values = [abs(v) for v in values] if absolute else values
    return float(np.mean(values)) if values else float("nan")


def sequence_predictions(pred_dir: str | os.PathLike[str]) -> list[Path]:
    """The sequence JSON files of a ``lunet predict --sequence`` output folder (empty list if none)."""
    folder = Path(pred_dir) / "sequences"
    return sorted(p for p in folder.glob("*.json")) if folder.is_dir() else []


def _score_sequence(record: dict[str, Any], pred_dir: Path, patient: Any) -> tuple[dict, list[dict], dict]:
    """(per-sequence row, per-frame rows, curves) of one predicted sequence."""
    from lunet.data.camus import check_label, read_sequence
    from lunet.evaluation.segmentation import segmentation_scores
    from lunet.evaluation.temporal import temporal_flags

    view = record["view"]
    pred_path = pred_dir / record["mask"]
    pred, spacing = read_sequence(pred_path)
    pred = check_label(pred, pred_path)
    info = patient.info.get(view) if patient is not None else None
    frame_ms = (
        1000.0 / info.frame_rate if info is not None and info.frame_rate else record.get("frame_time_ms")
    )
    row: dict[str, Any] = {"patient": record["patient_id"], "view": view, "frames": int(pred.shape[0])}
    for name, key, ref in (
        ("ed", "ed_frames", info.ed if info else None),
        ("es", "es_frames", info.es if info else None),
    ):
        predicted = record[key][0] if record.get(key) else None
        row[f"{name}_frame"], row[f"{name}_reference"] = predicted, ref
        row[f"{name}_error_frames"], row[f"{name}_error_ms"] = frame_error(predicted, ref, frame_ms)
    area = (pred == Label.LV).reshape(len(pred), -1).sum(1) * spacing[0] * spacing[1]
    masks = {
        (view, instant): (pred[row[f"{instant.lower()}_frame"] - 1] == Label.LV, spacing)
        for instant in ("ED", "ES")
        if row[f"{instant.lower()}_frame"] is not None
    }
    row.update(roughness=area_roughness(area), jump_share=jump_share(pred, spacing))
    flagged = temporal_flags(pred, spacing)["flagged_frames"]
    row.update(
        temporal_flagged=len(flagged), temporal_flag_share=len(flagged) / len(pred),
        temporal_flagged_frames=";".join(map(str, flagged)),
    )  # fmt: skip
    curves: dict[str, Any] = {"patient": row["patient"], "view": view, "pred_area_mm2": area.tolist(),
                              "ed_frames": record.get("ed_frames"), "es_frames": record.get("es_frames"),
                              "ref_ed": row["ed_reference"], "ref_es": row["es_reference"],
                              "temporal_flagged_frames": flagged, "masks": masks}  # fmt: skip
    frames: list[dict[str, Any]] = []
    gt_path = patient.files.get(f"{view}_sequence_gt") if patient is not None else None
    if gt_path is not None:
        ref, _ = read_sequence(gt_path)
        ref = check_label(ref, gt_path)
        if ref.shape != pred.shape:
            raise ValueError(
                f"{pred_path}: shape {pred.shape} differs from the reference {gt_path} {ref.shape}"
            )
        for t in range(len(pred)):
            frames.append({"patient": row["patient"], "view": view, "frame": t + 1,
                           **segmentation_scores(pred[t], ref[t], spacing)})  # fmt: skip
        ref_area = (ref == Label.LV).reshape(len(ref), -1).sum(1) * spacing[0] * spacing[1]
        ref_flagged = temporal_flags(ref, spacing)["flagged_frames"]
        row.update(ref_temporal_flagged=len(ref_flagged), ref_temporal_flag_share=len(ref_flagged) / len(ref))
        row.update(
            ref_roughness=area_roughness(ref_area), ref_jump_share=jump_share(ref, spacing),
            lv_endo_dice=_mean(frames, "lv_endo_dice"), lv_endo_mad_mm=_mean(frames, "lv_endo_mad_mm"),
            lv_endo_hd_mm=_mean(frames, "lv_endo_hd_mm"),
        )  # fmt: skip
        row["roughness_ratio"] = (
            row["roughness"] / row["ref_roughness"] if row["ref_roughness"] else float("nan")
        )
        curves["ref_area_mm2"] = ref_area.tolist()
    return row, frames, curves


def _patient_row(patient_id: str, patient: Any, predicted: dict, options: Any) -> dict[str, Any] | None:
    """EF from the sequence (masks at its detected ED/ES frames) and from the reference ED/ES masks."""
    from lunet.evaluation.clinical import patient_volumes

    if patient is None or len(predicted) < 4:
        return None
    reference = {}
    for view in ("2CH", "4CH"):
        for instant in ("ED", "ES"):
            image = patient.load(view, instant) if patient.path(view, instant, gt=True) else None
            if image is None or image.label is None:
                return None
            reference[(view, instant)] = (image.label == Label.LV, image.spacing)
    seq, ref = patient_volumes(predicted, options), patient_volumes(reference, options)
    return {
        "patient": patient_id, "ef_sequence": seq["ef_percent"], "edv_sequence_ml": seq["edv_ml"],
        "esv_sequence_ml": seq["esv_ml"], "ef_reference_masks": ref["ef_percent"],
        "edv_reference_ml": ref["edv_ml"], "esv_reference_ml": ref["esv_ml"], "ef_cfg": patient.ef_percent,
        "ef_error": seq["ef_percent"] - ref["ef_percent"], "ef_convention": options.convention,
    }  # fmt: skip


def evaluate_sequences(
    pred_dir: str | os.PathLike[str],
    ref_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    ef_convention: str | None = None,
) -> dict[str, Any]:
    """Score every predicted sequence of ``pred_dir`` against the CAMUS folder ``ref_dir``; write the files.

    ``ef_convention``: Simpson convention of both EFs (None: the data's default,
    :func:`lunet.evaluation.clinical.default_simpson_options`).

    Returns:
        The content of ``sequence.json``: ``summary`` (means; ``synthetic`` when the references are the
        phantom), ``sequences`` and ``patients`` rows, and ``curves`` (per sequence, for the report).

    Raises:
        ValueError: no sequence predictions, or a prediction whose shape differs from its reference.
    """
    from lunet.data.camus import scan_camus
    from lunet.evaluation.clinical import default_simpson_options
    from lunet.io import json_safe, write_text_atomic

    pred_dir, out = Path(pred_dir), Path(out_dir)
    records = [json.loads(p.read_text()) for p in sequence_predictions(pred_dir)]
    records = [r for r in records if r.get("patient_id") and r.get("view") and r.get("mask")]
    cines = [r for r in records if PHANTOM_CINE.search(str(r.get("input", "")))]
    if cines:
        logger.info(
            "%d multi-beat phantom cines (*_cine) not scored: their reference is not a CAMUS half sequence "
            "(bench/bench_sequence.py --multibeat scores them)", len(cines),
        )  # fmt: skip
        records = [r for r in records if r not in cines]
    if not records:
        raise ValueError(
            f"{pred_dir}: no CAMUS sequence predictions (sequences/*.json of lunet predict --sequence)"
        )
    dataset = scan_camus(ref_dir)
    by_id = {p.patient_id.lower(): p for p in dataset.patients}
    synthetic = any((p.directory / "phantom_truth.json").is_file() for p in dataset.patients)
    rows, frames, curves = [], [], []
    masks: dict[str, dict] = {}
    for record in records:
        row, frame_rows, curve = _score_sequence(record, pred_dir, by_id.get(record["patient_id"].lower()))
        rows.append(row)
        frames.extend(frame_rows)
        curves.append(curve)
        masks.setdefault(row["patient"], {}).update(curve.pop("masks"))
    options = default_simpson_options(synthetic, ef_convention)
    patients = [
        p for pid in sorted(masks) if (p := _patient_row(pid, by_id.get(pid.lower()), masks[pid], options))
    ]
    summary = {
        "synthetic": synthetic, "sequences": len(rows), "frames": len(frames),
        "lv_endo_dice": _mean(frames, "lv_endo_dice"), "lv_endo_mad_mm": _mean(frames, "lv_endo_mad_mm"),
        "lv_endo_hd_mm": _mean(frames, "lv_endo_hd_mm"), "lv_epi_dice": _mean(frames, "lv_epi_dice"),
        "ed_abs_error_frames": _mean(rows, "ed_error_frames", True),
        "es_abs_error_frames": _mean(rows, "es_error_frames", True),
        "ed_abs_error_ms": _mean(rows, "ed_error_ms", True),
        "es_abs_error_ms": _mean(rows, "es_error_ms", True),
        "roughness_ratio": _mean(rows, "roughness_ratio"), "jump_share": _mean(rows, "jump_share"),
        "ref_jump_share": _mean(rows, "ref_jump_share"), "jump_mm": JUMP_MM,
        "temporal_flag_share": _mean(rows, "temporal_flag_share"),
        "ref_temporal_flag_share": _mean(rows, "ref_temporal_flag_share"),
        "sequences_temporally_flagged": sum(r["temporal_flagged"] > 0 for r in rows),
        "ef_mae": _mean(patients, "ef_error", True), "patients_with_ef": len(patients),
    }  # fmt: skip
    result = {"summary": summary, "sequences": rows, "patients": patients, "curves": curves}
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "sequence_per_frame.csv", _csv(frames))
    write_text_atomic(out / "sequence_per_sequence.csv", _csv(rows))
    write_text_atomic(out / "sequence_patients.csv", _csv(patients))
    write_text_atomic(out / SEQUENCE_FILE, json.dumps(json_safe(result), indent=1, allow_nan=False) + "\n")
    logger.info("%d sequences evaluated (%s)", len(rows), "SYNTHETIC" if synthetic else "CAMUS")
    return result


def summary_line(summary: dict[str, Any]) -> str:
    """One line of the sequence scores for the command line."""
    tag = " (SYNTHETIC)" if summary.get("synthetic") else ""
    parts = [
        f"{summary['sequences']} sequences{tag}: LV Dice {summary['lv_endo_dice']:.3f}",
        f"over {summary['frames']} frames;",
        f"|ED error| {summary['ed_abs_error_frames']:.2f} frames,",
        f"|ES error| {summary['es_abs_error_frames']:.2f} frames;",
        f"roughness ratio {summary['roughness_ratio']:.2f}; jumps {summary['jump_share']:.1%};",
        f"temporal check (CAMUS authors' thresholds): {summary['sequences_temporally_flagged']} of",
        f"{summary['sequences']} sequences flagged ({summary['temporal_flag_share']:.1%} of frames);",
        f"EF MAE {summary['ef_mae']:.1f} % ({summary['patients_with_ef']} patients)",
    ]
    return " ".join(parts)


def evaluate_folder_sequences(
    pred_dir: str | os.PathLike[str],
    ref_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    ef_convention: str | None = None,
) -> tuple[str, bool]:
    """The sequence part of ``lunet evaluate-folder``: ``(summary line or "", whether ED/ES files exist)``."""
    from lunet.evaluation.evaluate import EvaluationError, find_predictions

    if not sequence_predictions(pred_dir):
        return "", True
    line = summary_line(evaluate_sequences(pred_dir, ref_dir, out_dir, ef_convention)["summary"])
    try:
        find_predictions(pred_dir)
    except EvaluationError:
        return line, False
    return line, True


def evaluate_run_sequences(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    ef_convention: str | None = None,
) -> dict[str, Any] | None:
    """The sequence part of ``lunet evaluate RUN``: score ``RUN/predictions_sequence`` against the run's data.

    The sequences are segmented beforehand by
    :func:`lunet.inference.sequence_outputs.predict_run_test_sequences` (``lunet evaluate --sequences``).

    Args:
        run_dir: a run folder (``config.json``, as :func:`lunet.evaluation.evaluate.run_settings` reads it).
        out_dir: the evaluation folder.
        ef_convention: Simpson convention of the EFs (None: the data's default).

    Returns:
        The ``sequence.json`` content, or None when the run has no sequence predictions.
    """
    from lunet.evaluation.evaluate import run_settings

    pred = Path(run_dir) / "predictions_sequence"
    if not sequence_predictions(pred):
        return None
    return evaluate_sequences(pred, run_settings(run_dir).data, out_dir, ef_convention)
