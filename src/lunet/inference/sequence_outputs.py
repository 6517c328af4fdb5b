"""Outputs of ``lunet predict --sequence``: mask series, JSON per sequence and patient, curve plot, GIF.

Under ``OUT``: ``masks/<name>.{nii.gz,mhd}`` (``(T, rows, cols)`` uint8 labels in the input's format;
NIfTI for DICOM), ``sequences/<name>.json``, ``sequences/<name>_curve.png``, ``sequences/<name>.gif``
(overlay animation, plays in any browser), ``patients/<patient_id>_sequence.json`` and ``_volume.png``
for a patient with both views, and ``sequences/summary.csv``. Frame numbers in every output are
**1-based, in the file's frame order**, as in the CAMUS cfg files.

A model trained on the left atrium (:func:`lunet.bundle.atrium_trained`) writes label 3 in the masks; each
sequence JSON then has ``la_area_mm2`` (per frame), ``la_area_max_mm2`` / ``la_area_max_frame``, ``la_es_qc``
(the LA flags of :mod:`lunet.inference.qc` on each ES frame), and ``la_volume_ml`` with ``la_volume_note``
(the patient's biplane volume, or null and why); the patient JSON has the fields of
:func:`lunet.inference.sequence.atrium_volumes` (LA volume at the detected ES and the largest over the cine).
An older model's outputs have none of these keys.

The patient JSON also carries the EF/EDV/ESV intervals of the bundle's ``calibration.json``
(``ef_interval_percent``, ``edv_interval_ml``, ``esv_interval_ml`` as ``[lo, hi]`` or ``[null, null]``,
``interval_level``, ``interval_score``, ``interval_passes``, ``interval_flags``, ``interval_note``;
:mod:`lunet.inference.sequence_intervals`), drawn in the volume plot's title. The calibration was made on
annotated ED/ES frames, not on the detected ones: ``interval_note`` says so.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lunet.inference.sequence import (
    SequenceOptions,
    SequenceResult,
    atrium_es_qc,
    atrium_volumes,
    biplane_volumes,
    predict_cine,
)
from lunet.inference.sequence_intervals import NO_MODEL_NOTE, SequenceIntervalSetup, patient_intervals
from lunet.inference.sequence_pictures import write_animation, write_curve_plot
from lunet.limits import SizeLimits

logger = logging.getLogger(__name__)

SUMMARY_FIELDS = (
    "name", "input", "status", "error", "frames", "kind", "direction", "ed_frames", "es_frames",
    "flagged_frames", "temporal_flagged_frames", "frame_time_ms", "json",
)  # fmt: skip


def sequence_record(result: SequenceResult, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON of one sequence (fields listed in the module docstring of ``docs`` and tested).

    ``temporal_flags``: the CAMUS authors' temporal-consistency check of the predicted masks
    (:func:`lunet.evaluation.temporal.temporal_flags`; frames 1-based). For a model trained on the LA: the
    LA keys of the module docstring, ``la_volume_ml`` null until :func:`predict_cine_groups` knows the
    patient's views.
    """
    from lunet.evaluation.temporal import temporal_flags

    cine, phases = result.cine, result.phases
    n = int(result.labels.shape[0])
    step = cine.frame_time_ms
    return {
        "input": str(cine.path), "patient_id": cine.patient_id, "view": cine.view,
        "frames": n, "shape": list(result.labels.shape[1:]), "spacing_mm": list(cine.spacing),
        "frame_time_ms": step, "timing_source": cine.timing_source,
        "time_ms": [k * step for k in range(n)] if step else None,
        "lv_area_mm2": result.lv_area_mm2.tolist(), "lv_area_smoothed_mm2": phases.smoothed.tolist(),
        "ed_frames": [f + 1 for f in phases.ed_frames], "es_frames": [f + 1 for f in phases.es_frames],
        "kind": phases.kind, "direction": phases.direction,
        "camus_orientation": cine.orientation or None, "orientation_source": cine.orientation_source or None,
        "reference_ed": cine.reference_ed, "reference_es": cine.reference_es,
        "flagged_frames": [f + 1 for f in phases.flagged],
        "beat_period_frames": phases.period_frames,
        "temporal_flags": temporal_flags(result.labels, cine.spacing),
        **_atrium_record(result),
        **(extra or {}),
    }  # fmt: skip


def _atrium_record(result: SequenceResult) -> dict[str, Any]:
    """The per-sequence LA keys of an LA-trained model (module docstring); ``{}`` for an older model."""
    if result.la_area_mm2 is None:
        return {}
    area = result.la_area_mm2
    return {
        "la_area_mm2": area.tolist(), "la_area_max_mm2": float(area.max()),
        "la_area_max_frame": int(np.argmax(area)) + 1, "la_es_qc": atrium_es_qc(result),
        "la_volume_ml": None,
        "la_volume_note": "the biplane area-length volume needs the 2CH and 4CH cines of one patient",
    }  # fmt: skip


def _atrium_volume_note(views: dict[str, SequenceResult], patient: dict[str, Any] | None) -> str:
    """Why a sequence's ``la_volume_ml`` is what it is (the patient's value, or null)."""
    if patient is not None:
        where = f"patients/{patient['patient_id']}_sequence.json"
        if math.isfinite(patient.get("la_volume_ml", math.nan)):
            return f"the patient's LA volume at the detected ES (biplane area-length of 2CH and 4CH): {where}"
        return f"null: no ES frame pair with an LA in both views (la_qc_flags in {where})"
    if not views:
        return (
            "null: no CAMUS patient and view in the file name (patientXXXX_2CH/4CH_...); the biplane "
            "area-length volume needs the 2CH and 4CH cines of one patient"
        )
    return (
        f"null: only the {'/'.join(sorted(views))} cine of this patient was predicted; the biplane "
        "area-length volume needs the 2CH and 4CH cines"
    )


def write_sequence(
    out: Path, name: str, result: SequenceResult, options: SequenceOptions, meta: dict[str, Any]
) -> dict[str, Any]:
    """All outputs of one sequence; returns its JSON record (paths relative to ``out``)."""
    from lunet.inference.writers import MASK_SUFFIX, output_path, write_json, write_mask

    root = out.resolve()
    mask = write_mask(
        output_path(out, "masks", name, MASK_SUFFIX[result.cine.kind]), result.labels, result.cine.spacing
    )
    files = {"mask": str(mask.relative_to(root))}
    files["curve_png"] = str(
        write_curve_plot(output_path(out, "sequences", name + "_curve", ".png"), [result]).relative_to(root)
    )
    if options.animation:
        files["animation"] = str(
            write_animation(output_path(out, "sequences", name, ".gif"), result).relative_to(root)
        )
    record = sequence_record(result, {**meta, **files})
    write_json(output_path(out, "sequences", name, ".json"), record)
    return record


def write_patient(
    out: Path,
    patient_id: str,
    views: dict[str, SequenceResult],
    meta: dict[str, Any],
    ef_convention: str = "geometric",
    intervals: SequenceIntervalSetup | None = None,
    predictor: Any = None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """``patients/<id>_sequence.json`` and ``_volume.png`` of a patient with both views.

    ``intervals`` (:func:`lunet.inference.sequence_intervals.interval_setup`): the JSON gets the interval
    keys (the extra TTA passes of a ``normalised`` calibration run with ``predictor``, ``batch_size`` frames
    per call); None: no interval keys.
    """
    from lunet.inference.writers import output_path, write_json

    a2c, a4c = views["2CH"], views["4CH"]
    volumes = biplane_volumes(a2c, a4c, ef_convention)
    if intervals is not None:
        point = {k: volumes[k] for k in ("edv_ml", "esv_ml", "ef_percent")}
        volumes.update(patient_intervals(intervals, a2c, a4c, point, predictor, ef_convention, batch_size))
    if all(v.la_area_mm2 is not None for v in views.values()):  # a model trained on the left atrium
        volumes.update(atrium_volumes(a2c, a4c))
    plot = write_curve_plot(
        output_path(out, "patients", f"{patient_id}_volume", ".png"), list(views.values()), volumes
    )
    record = {"patient_id": patient_id, **meta, **volumes, "plot": str(plot.relative_to(out.resolve()))}
    write_json(output_path(out, "patients", f"{patient_id}_sequence", ".json"), record)
    return record


def _summary(path: Path, rows: list[dict[str, Any]]) -> None:
    from lunet.io import write_text_atomic

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: ";".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)
                for k, v in row.items()
            }
        )
    write_text_atomic(path, buffer.getvalue())


def predict_sequences(
    model_path: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: SequenceOptions | None = None,
    spacing: tuple[float, float] | None = None,
    backend: str = "auto",
    device: str = "cpu",
    threads: int | None = None,
    limits: SizeLimits | None = None,
) -> list[dict[str, Any]]:
    """Segment whole cines and write their outputs (module docstring); returns one summary row per sequence.

    The patients' intervals come from ``model_path``'s ``calibration.json`` unless ``options.intervals`` is
    False (:func:`lunet.inference.sequence_intervals.interval_setup`).

    Args:
        model_path: run folder, bundle or checkpoint. inputs: cine files and folders (every cine under a
            folder, whatever its name; :func:`lunet.inference.sequence_io.expand_sequence_inputs`).
        out_dir: output folder. options: :class:`SequenceOptions`.
        spacing: ``(row_mm, col_mm)`` for DICOM without calibration.
        backend, device, threads: as ``lunet predict``.
        limits: size limits of each input file (``--max-pixels``, ``--max-frames``, ``--max-decoded-mb``).
    """
    from lunet.inference.backends import load_predictor
    from lunet.inference.sequence_intervals import interval_setup
    from lunet.inference.sequence_io import expand_sequence_inputs

    options = options or SequenceOptions()
    predictor = load_predictor(model_path, backend, device, threads)
    setup = interval_setup(model_path, predictor.backend, options.intervals)
    groups, errors = expand_sequence_inputs(inputs, limits)
    rows: list[dict[str, Any]] = [
        {"name": "", "input": raw, "status": "error", "error": msg} for raw, msg in errors
    ]
    return predict_cine_groups(predictor, groups, out_dir, options, spacing, limits, rows, setup)


def predict_cine_groups(
    predictor: Any,
    groups: Sequence[Sequence[Path]],
    out_dir: str | os.PathLike[str],
    options: SequenceOptions | None = None,
    spacing: tuple[float, float] | None = None,
    limits: SizeLimits | None = None,
    rows: list[dict[str, Any]] | None = None,
    intervals: SequenceIntervalSetup | None = None,
) -> list[dict[str, Any]]:
    """Segment groups of cines (a patient's views, or one file) with a loaded predictor; write the outputs.

    Args:
        predictor: from :func:`lunet.inference.backends.load_predictor`.
        groups: lists of cine files (:func:`lunet.inference.sequence_io.group_cines`).
        out_dir, options, spacing, limits: as :func:`predict_sequences`.
        rows: summary rows already known (inputs refused before reading), written first.
        intervals: where the patients' intervals come from
            (:func:`lunet.inference.sequence_intervals.interval_setup` of the model's folder); None: null
            intervals with :data:`lunet.inference.sequence_intervals.NO_MODEL_NOTE` (no folder to read
            ``calibration.json`` from), or the ``--no-intervals`` note when ``options.intervals`` is False.

    Returns:
        The rows of ``sequences/summary.csv`` (one per input, ``status`` ``ok`` or ``error``).
    """
    from lunet.inference.sequence_io import read_cine
    from lunet.inference.writers import NameRegistry, output_path, write_json

    options = options or SequenceOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "model": predictor.model_name,
        "backend": predictor.backend,
        "temporal_sigma": options.temporal_sigma,
    }
    if intervals is None:
        note = NO_MODEL_NOTE if options.intervals else "intervals not asked for (--no-intervals)"
        intervals = SequenceIntervalSetup(None, (), note)
    names = NameRegistry()
    rows = list(rows or [])
    for group in groups:
        views: dict[str, SequenceResult] = {}
        atria: list[tuple[str, dict[str, Any]]] = []  # (name, JSON record) of an LA-trained model's cines
        for path in group:
            name = names.claim(path.name.split(".")[0])
            try:
                result = predict_cine(predictor, read_cine(path, spacing, limits), options)
                record = write_sequence(out, name, result, options, meta)
            except (ValueError, OSError, MemoryError) as err:
                logger.error("skipping %s: %s", path, err)
                rows.append(
                    {
                        "name": name,
                        "input": str(path),
                        "status": "error",
                        "error": f"{type(err).__name__}: {err}",
                    }
                )
                continue
            rows.append({
                **record, "name": name, "status": "ok", "error": "", "json": f"sequences/{name}.json",
                "temporal_flagged_frames": record["temporal_flags"]["flagged_frames"],
            })  # fmt: skip
            if result.cine.patient_id and result.cine.view:
                views[result.cine.view] = result
            if result.la_area_mm2 is not None:
                atria.append((name, record))
        patient = None
        if set(views) == {"2CH", "4CH"}:
            patient_id = views["2CH"].cine.patient_id or "patient"
            patient = write_patient(out, patient_id, views, meta, options.ef_convention, intervals,
                                    predictor, options.batch_size)  # fmt: skip
            logger.info("%s: EF %.1f %% from the sequences", patient["patient_id"], patient["ef_percent"])
        if atria:  # each cine's JSON says the patient's LA volume, or why it has none
            note = _atrium_volume_note(views, patient)
            volume = patient.get("la_volume_ml") if patient is not None else None
            for name, record in atria:
                record.update(la_volume_ml=volume, la_volume_note=note)
                write_json(output_path(out, "sequences", name, ".json"), record)
    _summary(out / "sequences" / "summary.csv", rows)
    return rows


def predict_run_test_sequences(run_dir: str | os.PathLike[str]) -> Path:
    """Segment the half sequences of a run's test patients with the run's model (no animations).

    Writes ``RUN/predictions_sequence`` (the layout of :func:`predict_sequences`), which
    :func:`lunet.evaluation.sequence.evaluate_run_sequences` scores.

    Raises:
        ValueError: none of the test patients has a sequence file.
    """
    from lunet.data.camus import scan_camus
    from lunet.data.folds import read_fold_lists
    from lunet.evaluation.evaluate import run_settings
    from lunet.inference.sequence_io import SEQUENCE_NAME

    run_dir = Path(run_dir)
    settings = run_settings(run_dir)
    test = set(read_fold_lists(run_dir / "folds")[settings.fold - 1].test)
    folders = [p.directory for p in scan_camus(settings.data).patients if p.patient_id in test]
    files = [  # the CAMUS (half) sequences only, not the phantom's multi-beat *_cine
        path
        for folder in folders
        for path in sorted(folder.iterdir())
        if (match := SEQUENCE_NAME.match(path.name)) and match.group(3).lower() != "cine"
    ]
    if not files:
        raise ValueError(f"{settings.data}: none of the run's {len(test)} test patients has a sequence file")
    out = run_dir / "predictions_sequence"
    predict_sequences(run_dir, files, out, SequenceOptions(animation=False))
    return out
