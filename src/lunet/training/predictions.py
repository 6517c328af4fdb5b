"""Predictions of a trained run on cached frames, written on the *original* image grid.

Layout (docs/architecture.md): ``OUT/predictions/patientXXXX/patientXXXX_{2CH,4CH}_{ED,ES}.nii.gz`` (uint8
labels, original shape and spacing), ``OUT/predictions/boxes.csv`` for models with a box
(``patient,view,instant,x_min,y_min,x_max,y_max``, normalised) and, for two-stage models, o1 under
``OUT/predictions_o1/`` with the same layout.

The same code as ``lunet predict --backend torch``: the model runs behind
:meth:`lunet.predictor.Predictor.from_model` and every frame goes back to its original grid by
:func:`lunet.models.postprocess.frame_prediction` (the softmax probabilities ``(C, S, S)`` resized bilinearly,
``align_corners=False``, the pixel-edge convention of the cache, to the original ``(rows, cols)``, then the
argmax; for LU-Net and the oracle with ``crop_grid="native"`` the ROI cropped from the cache's crop source
(2S) and its probabilities pasted from the box straight onto the original grid). Only the inputs differ: the
cache holds the frames already prepared (``prepare_image`` at S and 2S), and the oracle is fed its reference
box (``box0`` enlarged by the model's ``box_margin``). The spacing written is the original one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lunet.boxes import enlarge_box, write_boxes_csv
from lunet.data.cache import CachedImages
from lunet.models.postprocess import frame_prediction
from lunet.predictor import Predictor

logger = logging.getLogger(__name__)


def frame_name(entry: dict) -> tuple[str, str]:
    """(patient folder, file name) of a cache index entry."""
    pid = entry["patient_id"]
    return pid, f"{pid}_{entry['view']}_{entry['instant']}.nii.gz"


def predict_rows(
    model: torch.nn.Module,
    cache: CachedImages,
    rows: Sequence[int],
    out_dir: str | Path,
    *,
    needs_reference_box: bool | None = None,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    atrium: bool = False,
) -> Path:
    """Predict cache ``rows`` and write ``out_dir/predictions`` (+ ``boxes.csv``, ``predictions_o1``).

    Args:
        model: a lunet network (put in eval mode here).
        cache: the run's cache.
        rows: cache rows to predict.
        out_dir: run folder.
        needs_reference_box: ignored (the registry says which model takes the reference box: the oracle,
            fed box0 enlarged by its ``box_margin``); kept for callers that pass it.
        batch_size: frames per forward pass.
        device: torch device.
        atrium: the model was trained on the left atrium (label 3 in its Dice loss): the LA is written
            (label 3; LU-Net's from o1 outside its box, :func:`lunet.models.postprocess.frame_prediction`),
            else merged into the background.

    Returns:
        ``out_dir / "predictions"``.
    """
    from lunet.data.camus_io import write_image
    from lunet.models.registry import box_margin_of

    out_dir = Path(out_dir)
    pred_dir, o1_dir = out_dir / "predictions", out_dir / "predictions_o1"
    size = int(np.asarray(cache.images[0]).shape[-1]) if len(cache.images) else 0
    predictor = Predictor.from_model(model, size, device=str(device), atrium=atrium, first_stage=True)
    margin = box_margin_of(model)
    boxes: dict[tuple[str, str, str], list[float]] = {}
    rows = [int(r) for r in rows]

    def stack(name: str, chunk: list[int]) -> np.ndarray:
        return np.stack([np.asarray(getattr(cache, name)[r]) for r in chunk])

    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        source = stack("source_images", chunk)[:, None] if predictor.source_size else None
        ref = enlarge_box(stack("box0", chunk), margin) if "crop_box" in predictor.inputs else None
        outputs = predictor(stack("images", chunk)[:, None], source, ref)
        for i, row in enumerate(chunk):
            entry = cache.index[row]
            shape = tuple(int(v) for v in cache.original_shape[row])
            spacing = tuple(float(v) for v in cache.original_spacing[row])
            folder, name = frame_name(entry)
            frame = frame_prediction(outputs, i, shape, atrium)
            if frame.labels is not None:
                write_image(pred_dir / folder / name, frame.labels, spacing)
            if frame.coarse_labels is not None:
                write_image(o1_dir / folder / name, frame.coarse_labels, spacing)
            if frame.box is not None:
                boxes[(entry["patient_id"], entry["view"], entry["instant"])] = frame.box.tolist()
    if boxes:
        write_boxes_csv(pred_dir / "boxes.csv", boxes)
    pred_dir.mkdir(parents=True, exist_ok=True)
    logger.info("%s: wrote predictions of %d frames", pred_dir, len(rows))
    return pred_dir
