"""``lunet predict``: stream images through a trained model and write masks, overlays, QC and volumes.

Per frame: read (any supported format) → :func:`lunet.data.preprocess.prepare_image` (bilinear resize to the
model's S×S, then ``normalize_intensity``, as in training; for LU-Net with ``crop_grid="native"`` also at 2S,
the crop source, as in the training cache) → model → probabilities back on the original grid
(:func:`lunet.models.postprocess.frame_prediction`, the rule of the run's own predictions: the S×S logits
resized bilinearly, ``align_corners=False``, or the ROI pasted from its box) → argmax. Labels written: 0 BG,
1 LV, 2 MYO and, for a model trained on the left atrium (``model.json`` ``labels``,
:attr:`lunet.bundle.Bundle.atrium`), 3 LA, with its area, its QC (:mod:`lunet.inference.qc`) and the
patient's ``la_volume_ml``; a model trained on LV and myocardium only (every bundle written before the LA)
predicts 0–2 as it always did.

Frames go through in batches; each batch is written and dropped before the next is read, so memory is bounded
by the batch, whatever the number of inputs.
An unreadable input is logged, listed in ``summary.csv`` with its error, and skipped.

A cine (a multi-frame NIfTI/MHD/DICOM) is predicted as a whole sequence by default (``cines="sequence"``:
every frame, LV area curve, ED/ES, ``sequences/<name>.json``, as ``lunet predict --sequence``); with
``frames`` given, or ``cines="frames"``, the chosen frames are predicted as separate images.

Outputs under ``OUT``: ``masks/<name>.{nii.gz,mhd,png}``, ``overlays/<name>.png``, ``json/<name>.json``,
``patients/<patient_id>.json`` (EDV/ESV/EF when a patient's 2CH/4CH ED/ES are all predicted, with their
intervals when the bundle has a ``calibration.json``: :mod:`lunet.inference.patients`), ``summary.csv``;
for cines the outputs of :mod:`lunet.inference.sequence_outputs` (``sequences/summary.csv`` among them).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lunet.inference.inputs import network_inputs
from lunet.inference.readers import InputItem, LoadedImage, expand_inputs, read_item
from lunet.inference.sequence import SequenceOptions
from lunet.limits import DEFAULT_LIMITS, SizeLimits
from lunet.models.postprocess import FramePrediction, frame_prediction

if TYPE_CHECKING:
    from lunet.evaluation.outliers import OutlierThresholds
    from lunet.inference.patients import PatientAccumulator

logger = logging.getLogger(__name__)
__all__ = ["PredictOptions", "PredictResult", "network_inputs", "predict_paths"]

SUMMARY_FIELDS = (
    "name", "input", "frame", "status", "error", "backend", "rows", "cols", "row_mm", "col_mm",
    "lv_area_mm2", "myo_area_mm2", "lv_epi_area_mm2", "la_area_mm2", "box_x_min", "box_y_min", "box_x_max",
    "box_y_max",
    "qc_pass", "qc_flags", "mask", "overlay", "json",
)  # fmt: skip


@dataclass(frozen=True)
class PredictOptions:
    """Options of :func:`predict_paths` (CLI flags of ``lunet predict``)."""

    spacing: tuple[float, float] | None = None  # (row_mm, col_mm) for inputs without their own
    backend: str = "auto"
    batch_size: int = 8
    overlay: bool = True
    frames: tuple[int, ...] | None = None
    device: str = "cpu"
    threads: int | None = None
    progress: bool = True
    limits: SizeLimits = DEFAULT_LIMITS  # checked on every header before decoding
    region: int | None = None  # the DICOM B-mode region to segment (None: each one)
    ef_convention: str = "geometric"  # Simpson convention of the patients' EDV/ESV/EF ("camus", "camus-arc")
    cines: str = "sequence"  # multi-frame inputs: "sequence" (whole-sequence outputs) or "frames" (images)
    sequence: SequenceOptions = field(default_factory=SequenceOptions)  # for cines="sequence"
    intervals: bool = True  # EF/EDV/ESV intervals from the bundle's calibration.json (TTA passes if needed)


@dataclass
class PredictResult:
    """What a prediction run did: counts, the summary rows, the files of the patients."""

    out_dir: Path
    backend: str
    n_done: int = 0
    n_failed: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    patients: list[Path] = field(default_factory=list)
    sequences: list[dict[str, Any]] = field(default_factory=list)  # rows of sequences/summary.csv (cines)

    @property
    def n_sequences_done(self) -> int:
        """Cines predicted as sequences."""
        return sum(row["status"] == "ok" for row in self.sequences)

    @property
    def n_sequences_failed(self) -> int:
        """Cines that could not be predicted as sequences."""
        return len(self.sequences) - self.n_sequences_done


def _batches(items: Sequence[InputItem], size: int) -> Iterator[Sequence[InputItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class WriteContext:
    """What every frame of one :func:`predict_paths` call is written with.

    Attributes:
        out_dir: output folder. backend: the back-end that ran (``torch``, ``onnx``, ``int8``).
        model: registry name of the model. overlay: write ``overlays/<name>.png``.
        thresholds: QC bounds (:func:`lunet.inference.qc.default_thresholds`).
        patients: gathers each CAMUS patient's four frames into its volumes (and their intervals).
        atrium: the model was trained on the left atrium (label 3 written, its area, QC and volume).
    """

    out_dir: Path
    backend: str
    model: str
    overlay: bool
    thresholds: OutlierThresholds
    patients: PatientAccumulator
    atrium: bool = False


def _write_one(
    loaded: LoadedImage,
    name: str,
    frame: FramePrediction,
    ctx: WriteContext,
    pass_masks: Sequence[np.ndarray] = (),
    member_masks: Sequence[Sequence[np.ndarray]] = (),
) -> dict[str, Any]:
    """Masks, overlay, JSON of one frame (``frame``: its prediction on the original grid); returns its summary
    row. ``pass_masks``: the frame's LV masks of the extra TTA passes (:func:`_pass_masks`), for its patient's
    EF interval; ``member_masks``: an ensemble's, per fold model its LV masks (unaugmented pass first)."""
    from lunet.inference.qc import qc_report
    from lunet.inference.writers import (
        MASK_SUFFIX,
        areas_mm2,
        box_report,
        output_path,
        write_json,
        write_mask,
        write_overlay,
    )

    out_dir = ctx.out_dir
    item, spacing, shape = loaded.item, loaded.spacing, loaded.image.shape
    label, box = frame.labels, frame.box
    row: dict[str, Any] = {
        "name": name, "input": str(item.path), "frame": item.frame, "status": "ok", "error": "",
        "backend": ctx.backend, "rows": shape[0], "cols": shape[1],
        "row_mm": spacing[0], "col_mm": spacing[1],
    }  # fmt: skip
    record: dict[str, Any] = {
        "input": str(item.path), "frame": item.frame, "model": ctx.model, "backend": ctx.backend,
        "shape": list(shape), "spacing_mm": list(spacing), "patient_id": item.patient_id, "view": item.view,
        "instant": item.instant, "note": loaded.note,
    }  # fmt: skip
    if label is not None:
        mask_path = write_mask(output_path(out_dir, "masks", name, MASK_SUFFIX[item.kind]), label, spacing)
        qc = qc_report(label, spacing, ctx.thresholds, loaded.image, atrium=ctx.atrium)
        areas = areas_mm2(label, spacing, atrium=ctx.atrium)
        record.update(
            mask=mask_path.relative_to(out_dir.resolve()), areas_mm2=areas, qc=qc, qc_pass=qc["qc_pass"]
        )
        row.update(
            lv_area_mm2=areas["lv"], myo_area_mm2=areas["myo"], lv_epi_area_mm2=areas["lv_epi"],
            la_area_mm2=areas.get("la"), qc_pass=qc["qc_pass"], qc_flags=";".join(qc["flags"]),
            mask=record["mask"],
        )  # fmt: skip
    if box is not None:
        record["box"] = box_report(box, shape, spacing)
        row.update(zip(("box_x_min", "box_y_min", "box_x_max", "box_y_max"), box.tolist()))
    if ctx.overlay:
        empty = np.zeros(shape, dtype=np.uint8)
        path = write_overlay(output_path(out_dir, "overlays", name, ".png"), loaded.image,
                             empty if label is None else label, box)  # fmt: skip
        record["overlay"] = row["overlay"] = path.relative_to(out_dir.resolve())
    json_path = write_json(output_path(out_dir, "json", name, ".json"), record)
    row["json"] = json_path.relative_to(out_dir.resolve())
    if label is not None and item.patient_id and item.frame is None:
        if ctx.atrium:
            ctx.patients.add_atrium(item.patient_id, item.view, item.instant, label, spacing)
        ctx.patients.add(
            item.patient_id, item.view, item.instant, label == 1, spacing, name, row["qc_pass"], pass_masks,
            member_masks,
        )  # fmt: skip
    return row


def _failure(item: InputItem | None, raw: str, name: str, err: BaseException | str) -> dict[str, Any]:
    """Summary row of an input that could not be predicted (inputs refused at expansion are logged there)."""
    message = str(err) if isinstance(err, str) else f"{type(err).__name__}: {err}"
    if item is not None:
        logger.error("skipping %s: %s", raw, message)
    frame = item.frame if item else None
    return {
        "name": name,
        "input": raw,
        "frame": frame,
        "status": "error",
        "error": message.replace("\n", " "),
    }


def _predict_cines(
    predictor: Any, cines: list[Path], out: Path, options: PredictOptions, intervals: Any = None
) -> list[dict[str, Any]]:
    """The cines among the inputs, predicted as whole sequences (``sequences/*.json``, ``summary.csv``);
    ``intervals``: predict's own interval setup
    (:class:`lunet.inference.interval_setup.IntervalSetup`), read once for images and cines."""
    from lunet.inference.sequence_io import group_cines
    from lunet.inference.sequence_outputs import predict_cine_groups

    for path in cines:
        logger.info("%s: a cine, predicted as a sequence (ED/ES, LV curve); --frames predicts frames", path)
    sequence = options.sequence
    if sequence.batch_size != options.batch_size:
        sequence = SequenceOptions(**{**sequence.__dict__, "batch_size": options.batch_size})
    return predict_cine_groups(
        predictor, group_cines(cines), out, sequence, options.spacing, options.limits, intervals=intervals
    )


def write_summary(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``summary.csv``: one row per input frame (errors included), columns :data:`SUMMARY_FIELDS`."""
    from lunet.io import write_text_atomic

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    write_text_atomic(path, buffer.getvalue())
    return path


def _pass_masks(
    predictor: Any, loaded: list[tuple[LoadedImage, str]], inputs: list[list[np.ndarray]], tta: tuple,
    batch_size: int,
) -> dict[int, list[np.ndarray]]:  # fmt: skip
    """LV masks of the extra TTA passes for the frames of a batch that enter a patient's EF
    (``{position in batch: [mask per pass]}``); nothing for other frames or without passes."""
    from lunet.inference.tta import pass_labels

    wanted = [i for i, (image, _) in enumerate(loaded) if image.item.patient_id and image.item.frame is None]
    if not tta or not wanted:
        return {}
    shapes = [loaded[i][0].image.shape for i in wanted]
    out: dict[int, list[np.ndarray]] = {i: [] for i in wanted}
    for each in tta:
        labels = pass_labels(predictor, [inputs[i] for i in wanted], shapes, each, batch_size)
        for i, label in zip(wanted, labels):
            if label is not None:
                out[i].append(label == 1)
    return out


def predict_paths(
    model_path: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: PredictOptions | None = None,
) -> PredictResult:
    """Predict every frame of ``inputs`` with the model at ``model_path``; write the outputs to ``out_dir``.

    Args:
        model_path: run folder, bundle or checkpoint; or a ``lunet cv`` folder, whose fold models then
            predict together (:mod:`lunet.inference.ensemble`; images only, cines are refused).
        inputs: files, folders, ``@list.txt`` (see :mod:`lunet.inference.readers`).
        out_dir: output folder (created).
        options: :class:`PredictOptions`.

    Returns:
        :class:`PredictResult`; unreadable inputs are counted in ``n_failed`` and listed in ``summary.csv``.
    """
    from tqdm import tqdm

    from lunet.bundle import atrium_trained
    from lunet.inference.backends import load_predictor
    from lunet.inference.ensemble import Ensemble, vote_frames
    from lunet.inference.interval_setup import interval_setup
    from lunet.inference.patients import PatientAccumulator
    from lunet.inference.qc import default_thresholds
    from lunet.inference.writers import NameRegistry
    from lunet.run_files import cv_members

    options = options or PredictOptions()
    if options.batch_size < 1:
        raise ValueError(f"batch size must be ≥ 1, got {options.batch_size}")
    if options.cines not in ("sequence", "frames"):
        raise ValueError(f"cines must be 'sequence' or 'frames', got {options.cines!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ensemble = None
    if cv_members(model_path):  # a `lunet cv` folder: the ensemble of its fold models
        ensemble = Ensemble.open(model_path, options.backend, options.device, options.threads)
        predictors = ensemble.members
    else:
        predictors = [load_predictor(model_path, options.backend, options.device, options.threads)]
    predictor = predictors[0]  # the input preparation, labels and back-end of every member
    cines: list[Path] | None = [] if options.cines == "sequence" else None
    items, errors = expand_inputs(inputs, options.frames, options.limits, options.region, cines)
    names = NameRegistry()
    result = PredictResult(out_dir=out, backend=predictor.backend)
    result.rows.extend(
        _failure(None, raw, names.claim(InputItem(Path(raw), "").stem), msg) for raw, msg in errors
    )
    members = ensemble.names if ensemble is not None else ()
    setup = interval_setup(model_path, predictor.backend, options.intervals, members)  # images and cines
    tta = setup.passes
    ctx = WriteContext(
        out, predictor.backend, predictor.model_name, options.overlay, default_thresholds(),
        PatientAccumulator(out, options.ef_convention, setup.calibration, setup.note, members),
        atrium_trained(predictor.meta),
    )  # fmt: skip
    with tqdm(total=len(items), unit="img", disable=not options.progress, desc="predict") as bar:
        for chunk in _batches(items, options.batch_size):
            loaded: list[tuple[LoadedImage, str]] = []
            inputs_arr: list[list[np.ndarray]] = []
            for item in chunk:
                frame_tag = f"_f{item.frame:04d}" if item.frame is not None else ""
                frame_tag += f"_r{item.region}" if item.region is not None else ""
                name = names.claim(item.stem + frame_tag)
                try:
                    image = read_item(item, options.spacing, options.limits)
                    inputs_arr.append(network_inputs(image.image, image.spacing, predictor))
                    loaded.append((image, name))
                except (ValueError, OSError, MemoryError) as err:
                    result.rows.append(_failure(item, str(item.path), name, err))
            if loaded:
                batch = [np.stack(arrays)[:, None] for arrays in zip(*inputs_arr)]
                outputs = [member(*batch) for member in predictors]
                passes = [_pass_masks(m, loaded, inputs_arr, tta, options.batch_size) for m in predictors]
                for index, (image, name) in enumerate(loaded):
                    try:
                        shape = image.image.shape
                        frames = [frame_prediction(o, index, shape, ctx.atrium) for o in outputs]
                        if ensemble is None:
                            row = _write_one(image, name, frames[0], ctx, passes[0].get(index, ()))
                        else:
                            member_masks = [
                                [f.labels == 1, *p.get(index, ())] for f, p in zip(frames, passes)
                                if f.labels is not None
                            ]  # fmt: skip
                            row = _write_one(image, name, vote_frames(frames), ctx, (), member_masks)
                        result.rows.append(row)
                    except (ValueError, OSError) as err:
                        result.rows.append(_failure(image.item, str(image.item.path), name, err))
            del loaded, inputs_arr
            bar.update(len(chunk))
    for pid, missing in ctx.patients.incomplete().items():
        logger.info("%s: no volumes (missing %s)", pid, ", ".join(missing))
    result.patients = ctx.patients.written
    if cines and ensemble is not None:
        message = (f"{model_path} is a cross-validation's ensemble, which predicts images only; predict "
                   "cines with one fold (--model RUN/fold_K), or frames with --frame-indices")  # fmt: skip
        result.rows.extend(_failure(None, str(path), names.claim(path.stem), message) for path in cines)
        logger.error("%d cines not predicted: %s", len(cines), message)
    elif cines:
        result.sequences = _predict_cines(predictor, cines, out, options, setup)
    result.n_failed = sum(row["status"] == "error" for row in result.rows)
    result.n_done = len(result.rows) - result.n_failed
    write_summary(out / "summary.csv", result.rows)
    logger.info(
        "%d frames predicted, %d failed; summary in %s", result.n_done, result.n_failed, out / "summary.csv"
    )
    return result
