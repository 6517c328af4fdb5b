"""Evaluate prediction folders against CAMUS references and write the evaluation files.

Outputs in ``out_dir``: ``per_image.csv``, ``per_patient.csv``, ``clinical.csv``, ``tables.md``,
``tables.json`` (see :mod:`lunet.evaluation.tables`). Predictions are ``patientXXXX_{2CH,4CH}_{ED,ES}.nii.gz``
(or ``.nii``/``.mhd``) label maps on the reference image grid, flat or in patient folders. References are read
with :func:`lunet.data.camus.scan_camus`; a prediction without a reference gets shape scores only.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lunet.boxes import DEFAULT_BOX_MARGIN, read_boxes_csv
from lunet.config import flat_view
from lunet.data.labels import Label
from lunet.evaluation.atrium import patient_la_volumes
from lunet.evaluation.clinical import SimpsonOptions, patient_volumes
from lunet.evaluation.display import tables_markdown
from lunet.evaluation.interval_calibration import IntervalCalibration, run_intervals, with_intervals
from lunet.evaluation.outliers import (
    ANATOMICAL_BOUND_SOURCES,
    OutlierThresholds,
    image_flags,
    patient_records,
)
from lunet.evaluation.paper import paper_comparison
from lunet.evaluation.predicted_intervals import (
    PredictedIntervals,
    read_predicted_intervals,
    with_predicted_intervals,
)
from lunet.evaluation.records import score_image
from lunet.evaluation.references import Key, References
from lunet.evaluation.schema import (
    FILES,
    ClinicalRecord,
    ImageRecord,
    PatientRecord,
    record_from,
    write_records,
)
from lunet.evaluation.tables import build_tables
from lunet.io import json_safe, write_text_atomic

logger = logging.getLogger(__name__)

PRED_FILE = re.compile(r"^(patient\d{4})_(2CH|4CH)_(ED|ES)(_gt)?\.(nii\.gz|nii|mhd)$", re.IGNORECASE)


class EvaluationError(ValueError):
    """Bad evaluation input; the message names the file and what is wrong."""


def find_predictions(pred_dir: str | os.PathLike[str]) -> dict[Key, Path]:
    """``{(patient, view, instant): path}`` of the label files under ``pred_dir`` (searched recursively)."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise EvaluationError(f"{pred_dir}: prediction folder not found")
    found: dict[Key, Path] = {}
    for path in sorted(pred_dir.rglob("patient*")):
        match = PRED_FILE.match(path.name)
        if not match or not path.is_file():
            continue
        key = (match.group(1).lower(), match.group(2).upper(), match.group(3).upper())
        if key in found:
            raise EvaluationError(f"{path}: a second prediction for {'_'.join(key)} (first: {found[key]})")
        found[key] = path
    if not found:
        raise EvaluationError(
            f"{pred_dir}: no patientXXXX_{{2CH,4CH}}_{{ED,ES}}.nii.gz/.mhd prediction files"
        )
    return found


def _read_prediction(path: Path, ref_shape: tuple[int, ...] | None) -> tuple[np.ndarray, tuple[float, float]]:
    from lunet.data.camus import check_label, read_frame

    array, spacing = read_frame(path)
    labels = check_label(array, path)
    if ref_shape is not None and labels.shape != tuple(ref_shape):
        raise EvaluationError(
            f"{path}: prediction shape {labels.shape} differs from the reference image shape "
            f"{tuple(ref_shape)}; "
            "predictions must be on the original image grid"
        )
    return labels, spacing


def score_model(
    model: str,
    pred_dir: Path,
    refs: References,
    boxes: Mapping[Key, np.ndarray] | None = None,
    box_margin: float = DEFAULT_BOX_MARGIN,
    atrium: bool | None = None,
) -> tuple[list[tuple[ImageRecord, bool]], list[ClinicalRecord]]:
    """Image records (outlier flags not yet set; with whether a reference exists) and clinical records of
    one model's prediction folder.

    ``atrium``: the model was trained on the left atrium (its LA is scored: ``la_*`` and ``la_esv_ml``);
    ``None``: when one of its predictions holds label 3; ``False``: LA columns NaN.
    """
    images: list[tuple[ImageRecord, bool]] = []
    lv_masks: dict[str, dict[tuple[str, str], tuple[np.ndarray, tuple[float, float]]]] = {}
    label_maps: dict[str, dict[tuple[str, str], tuple[np.ndarray, tuple[float, float]]]] = {}
    ref_maps: dict[str, dict[tuple[str, str], tuple[np.ndarray, tuple[float, float]]]] = {}
    any_atrium = False
    for key, path in sorted(find_predictions(pred_dir).items()):
        ref, ref_spacing = refs.label(key)
        pred, pred_spacing = _read_prediction(path, None if ref is None else ref.shape)
        spacing = ref_spacing or pred_spacing
        if ref_spacing is not None and not np.allclose(ref_spacing, pred_spacing, rtol=1e-3):
            logger.warning("%s: spacing %s differs from the reference's %s; using the reference's",
                           path, pred_spacing, ref_spacing)  # fmt: skip
        box = None if boxes is None else boxes.get(key)
        values: dict[str, object] = {"model": model, "patient": key[0], "view": key[1], "instant": key[2]}
        values["quality"] = refs.quality(key[0])
        scores = score_image(pred, ref, spacing, box, box_margin, atrium=atrium is not False)
        any_atrium = any_atrium or bool((pred == Label.LA).any())
        if "bb_out" in scores:
            scores["bb_out"] = None if math.isnan(scores["bb_out"]) else bool(scores["bb_out"])
        for name in ("components", "holes"):
            scores.update({k: int(v) for k, v in scores.items() if k.endswith(name)})
        values.update(scores)
        values.update({f"ref_{k}": v for k, v in refs.shape(key).items()})
        images.append((record_from(ImageRecord, values), ref is not None))
        lv_masks.setdefault(key[0], {})[(key[1], key[2])] = (pred == Label.LV, spacing)
        if key[2] == "ES":  # the LA volume is measured at end-systole
            label_maps.setdefault(key[0], {})[(key[1], key[2])] = (pred, spacing)
            if ref is not None:
                ref_maps.setdefault(key[0], {})[(key[1], key[2])] = (ref, spacing)
    scored_atrium = atrium if atrium is not None else any_atrium
    if not scored_atrium:  # a model that never outputs the LA: its LA columns stay NaN, never a Dice of 0
        images = [(replace(r, la_dice=math.nan, la_mad_mm=math.nan, la_hd_mm=math.nan), h) for r, h in images]
    clinical = []
    for patient, masks in lv_masks.items():
        entry: dict[str, object] = {"model": model, "patient": patient, "quality": refs.quality(patient)}
        entry.update(patient_volumes(masks, refs.simpson))
        entry.update(refs.clinical(patient))
        if scored_atrium:
            entry["la_esv_ml"] = patient_la_volumes(label_maps.get(patient, {}))["la_esv_ml"]
        entry["ref_la_esv_ml"] = patient_la_volumes(ref_maps.get(patient, {}))["la_esv_ml"]
        clinical.append(record_from(ClinicalRecord, entry))
    return images, clinical


def _resolve_bounds(
    source: str,
    thresholds: OutlierThresholds,
    refs: References,
    keys: set[Key],
    network_size: int | None,
) -> OutlierThresholds:
    """The outlier bounds of one evaluation (see :mod:`lunet.evaluation.outliers` for the sources)."""
    if source == "auto":
        source = "paper" if not refs.synthetic else "resampled" if network_size else "reference"
    if source == "paper":
        return thresholds
    if source == "resampled" and not network_size:
        raise EvaluationError(
            "anatomical bounds 'resampled' need the network input size (--network-size, or a run's config)"
        )
    return refs.anatomical_bounds(keys, thresholds, network_size if source == "resampled" else None)


def evaluate_models(
    models: Mapping[str, str | os.PathLike[str]],
    ref_dir: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    boxes: Mapping[str, str | os.PathLike[str] | None] | None = None,
    box_margin: float | Mapping[str, float] = DEFAULT_BOX_MARGIN,
    thresholds: OutlierThresholds | None = None,
    simpson: SimpsonOptions | None = None,
    anatomical_bounds: str = "auto",
    network_size: int | None = None,
    atrium: bool | Mapping[str, bool] | None = None,
    intervals: Mapping[str, tuple[IntervalCalibration, Mapping[str, Mapping[str, float]]]] | None = None,
    predicted_intervals: Mapping[str, PredictedIntervals] | None = None,
) -> dict[str, object]:
    """Evaluate several prediction folders (one table row each) and write the evaluation files.

    Args:
        models: ``{row name: prediction folder}``.
        ref_dir: CAMUS-style reference folder (either release, or a synthetic one), or None (shape scores
            only).
        out_dir: destination of ``per_image.csv``, ``per_patient.csv``, ``clinical.csv``, ``tables.md/json``
            (:mod:`lunet.evaluation.schema`).
        boxes: ``{row name: boxes.csv}`` for models with a box.
        box_margin: margin of the reference boxes (0.05 for "-m5"), or ``{row name: margin}`` (rows not in it:
            :data:`lunet.boxes.DEFAULT_BOX_MARGIN`) when the models were trained with different margins.
        thresholds: outlier bounds (RU-Net Table I defaults).
        simpson: Simpson choices; None: ``camus`` on CAMUS data, ``geometric`` on the phantom
            (:func:`lunet.evaluation.clinical.default_simpson_options`).
        anatomical_bounds: one of :data:`lunet.evaluation.outliers.ANATOMICAL_BOUND_SOURCES`: ``"paper"``
            keeps the anatomical bounds of ``thresholds``; ``"reference"`` takes the lowest Sp and Cx of the
            evaluated images' reference masks; ``"resampled"`` the same after a round trip of the references
            through the ``network_size`` grid; ``"auto"``: ``"resampled"`` (``"reference"`` without a
            network size) on synthetic data, ``"paper"`` otherwise.
        network_size: the network input size ``S`` of the predictions (for ``"resampled"``).
        atrium: whether the models were trained on the left atrium (``la_*`` scores, ``la_esv_ml``), or
            ``{row name: bool}``; ``None`` (or a row not in the mapping): a model whose predictions hold
            label 3 somewhere (:func:`score_model`).
        intervals: ``{row name: (calibration, {patient: spreads})}``
            (:func:`lunet.evaluation.interval_calibration.run_intervals`): that row's ``clinical.csv`` gets
            ``ef_lo_percent`` … ``esv_hi_ml``; other rows keep NaN.
        predicted_intervals: ``{row name: intervals of lunet predict's patient JSONs}``
            (:func:`lunet.evaluation.predicted_intervals.read_predicted_intervals`): that row's patients with
            a JSON get its ``ef_lo_percent`` … ``esv_hi_ml`` (the others keep NaN).

    Returns:
        The tables dict written to ``tables.json``.
    """
    if anatomical_bounds not in ANATOMICAL_BOUND_SOURCES:
        raise ValueError(
            f"anatomical_bounds must be one of {ANATOMICAL_BOUND_SOURCES}, got {anatomical_bounds!r}"
        )
    refs = References(ref_dir, simpson)
    for name, given in (predicted_intervals or {}).items():
        if given.ef_convention is not None and given.ef_convention != refs.simpson.convention:
            raise EvaluationError(
                f"{given.folder}: the patients' EF/EDV/ESV (and their intervals) are in the "
                f"{given.ef_convention} Simpson convention, this evaluation of {name} uses "
                f"{refs.simpson.convention}: pass --ef-convention {given.ef_convention} (or predict with "
                f"--ef-convention {refs.simpson.convention})"
            )
    scored: list[tuple[ImageRecord, bool]] = []
    clinical: list[ClinicalRecord] = []
    for name, pred_dir in models.items():
        box_path = (boxes or {}).get(name)
        box_map = read_boxes_csv(box_path) if box_path and Path(box_path).is_file() else None
        margin = box_margin.get(name, DEFAULT_BOX_MARGIN) if isinstance(box_margin, Mapping) else box_margin
        la = atrium.get(name) if isinstance(atrium, Mapping) else atrium
        images, volumes = score_model(name, Path(pred_dir), refs, box_map, margin, la)
        if intervals and name in intervals:
            volumes = with_intervals(volumes, *intervals[name])
        if predicted_intervals and name in predicted_intervals:
            volumes = with_predicted_intervals(volumes, predicted_intervals[name])
        scored += images
        clinical += volumes
        logger.info("%s: %d images, %d patients scored", name, len(images), len(volumes))
    keys = {r.key for r, has_ref in scored if has_ref}
    thresholds = _resolve_bounds(
        anatomical_bounds, thresholds or OutlierThresholds(), refs, keys, network_size
    )
    per_image = [replace(r, **image_flags(r, thresholds, has_ref)) for r, has_ref in scored]
    per_patient = patient_records(per_image)
    tables = build_tables(
        per_image, per_patient, clinical, thresholds, synthetic=refs.synthetic,
        ef_convention=refs.simpson.convention,
    )  # fmt: skip
    margins = set(box_margin.values()) if isinstance(box_margin, Mapping) else {box_margin}
    tables["paper"] = paper_comparison(tables, margins.pop() if len(margins) == 1 else DEFAULT_BOX_MARGIN)
    out_dir = Path(out_dir)
    write_records(out_dir / FILES[ImageRecord], per_image, ImageRecord)
    write_records(out_dir / FILES[PatientRecord], per_patient, PatientRecord)
    write_records(out_dir / FILES[ClinicalRecord], clinical, ClinicalRecord)
    write_text_atomic(
        out_dir / "tables.json", json.dumps(json_safe(tables), indent=2, allow_nan=False) + "\n"
    )
    write_text_atomic(out_dir / "tables.md", tables_markdown(tables))
    return tables


def evaluate_folder(
    pred_dir: str | os.PathLike[str],
    ref_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model_name: str = "prediction",
    boxes_csv: str | os.PathLike[str] | None = None,
    intervals_dir: str | os.PathLike[str] | PredictedIntervals | None = None,
    **kwargs: object,
) -> dict[str, object]:
    """Evaluate one prediction folder against ``ref_dir``; see :func:`evaluate_models` for the outputs.

    ``intervals_dir``: a ``lunet predict`` output folder (or its ``patients/`` folder, or what
    :func:`lunet.evaluation.predicted_intervals.read_predicted_intervals` read from one): its
    ``patients/<patient_id>.json`` give ``clinical.csv``'s ``ef_lo_percent`` … ``esv_hi_ml`` of those
    patients.
    """
    if intervals_dir is not None:
        given = intervals_dir
        if not isinstance(given, PredictedIntervals):
            given = read_predicted_intervals(given)
        kwargs["predicted_intervals"] = {model_name: given}
    return evaluate_models({model_name: pred_dir}, ref_dir, out_dir, {model_name: boxes_csv}, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunSettings:
    """What the evaluation needs from a run's ``config.json``: model name, data folder, box margin, network
    input size and test fold (``model``, ``data``, ``margin``, ``size``, ``fold`` of
    :func:`lunet.config.flat_view`, which reads either config format), and whether the run trained the left
    atrium (label 3 in ``dice_classes``; a config naming none predates the LA: False)."""

    model: str
    data: Path
    margin: float
    size: int | None
    fold: int = 1
    atrium: bool = False


def run_settings(run_dir: str | os.PathLike[str]) -> RunSettings:
    """Read :class:`RunSettings` from ``RUN/config.json`` (a relative ``data`` is taken from the run folder
    when it is not a folder from the working directory).

    Raises:
        EvaluationError: no ``config.json``, or one without a ``data`` entry.
    """
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise EvaluationError(f"{config_path}: not found; is {run_dir} a lunet run folder?")
    try:
        config = flat_view(json.loads(config_path.read_text()))
        data = Path(config["data"])
        margin = float(config.get("margin", DEFAULT_BOX_MARGIN))
        size = int(config["size"]) if config.get("size") else None
        fold = int(config.get("fold") or 1)
        atrium = int(Label.LA) in [int(c) for c in config.get("dice_classes") or ()]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise EvaluationError(f"{config_path}: not a JSON object with a 'data' entry") from None
    if not data.is_absolute() and not data.is_dir():
        data = run_dir / data
    return RunSettings(str(config.get("model", run_dir.name)), data, margin, size, fold, atrium)


def evaluate_run(
    run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None, **kwargs: object
) -> dict[str, object]:
    """Evaluate a run folder (``config.json`` as :func:`run_settings` reads it; ``predictions/``).

    Rows: the model name; with ``predictions_o1/`` the rows ``<model>-o1`` and ``<model>-o2``.
    The default ``out_dir`` is ``RUN/evaluation``. With ``RUN/calibration.json`` (``lunet calibrate``) the
    final row's ``clinical.csv`` holds the EF/EDV/ESV intervals.
    """
    run_dir = Path(run_dir)
    settings = run_settings(run_dir)
    name = settings.model
    models = {name: run_dir / "predictions"}
    boxes = {name: run_dir / "predictions" / "boxes.csv"}
    if (run_dir / "predictions_o1").is_dir():
        models = {f"{name}-o1": run_dir / "predictions_o1", f"{name}-o2": run_dir / "predictions"}
        boxes = {f"{name}-o2": run_dir / "predictions" / "boxes.csv"}
    out = Path(out_dir) if out_dir else run_dir / "evaluation"
    kwargs.setdefault("network_size", settings.size)
    kwargs.setdefault("atrium", settings.atrium)
    calibrated = run_intervals(run_dir)  # RUN/calibration.json of `lunet calibrate`
    if calibrated is not None:
        kwargs.setdefault("intervals", {list(models)[-1]: calibrated})
    return evaluate_models(models, settings.data, out, boxes, box_margin=settings.margin, **kwargs)  # type: ignore[arg-type]


def reference_volumes(
    data_dir: str | os.PathLike[str], simpson: SimpsonOptions | None = None
) -> dict[str, object]:
    """EDV, ESV (ml) and EF (%) by Simpson's biplane rule on each patient's reference masks.

    Returns:
        ``{"patients": {"patient0001": {"edv_ml", "esv_ml", "ef_percent"}}}`` (NaN where masks are missing).
    """
    refs = References(data_dir, simpson)
    patients = {}
    for pid in sorted(refs.records):
        values = refs.clinical(pid)
        patients[refs.records[pid].patient_id] = {k: values.get(f"simpson_{k}", math.nan) for k in
                                                  ("edv_ml", "esv_ml", "ef_percent")}  # fmt: skip
    return {"patients": patients}
