"""Predictions of a trained run on cached frames, written on the *original* image grid.

Layout (docs/architecture.md): ``OUT/predictions/patientXXXX/patientXXXX_{2CH,4CH}_{ED,ES}.nii.gz`` (uint8
labels, original shape and spacing), ``OUT/predictions/boxes.csv`` for models with a box
(``patient,view,instant,x_min,y_min,x_max,y_max``, normalised) and, for two-stage models, o1 under
``OUT/predictions_o1/`` with the same layout.

Back to the original grid, by the rule of ``lunet predict``
(:func:`lunet.models.postprocess.frame_labels`): the softmax probabilities ``(C, S, S)`` are resized
bilinearly (``align_corners=False``, the pixel-edge convention of the cache) to the original ``(rows, cols)``,
then the argmax is taken; for LU-Net and the oracle with ``crop_grid="native"`` the ROI is cropped from the
cache's crop source (2S) and its probabilities are pasted from the box straight onto the original grid. The
spacing written is the original one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lunet.boxes import enlarge_box, write_boxes_csv
from lunet.data.cache import CachedImages
from lunet.models.outputs import BoxOutput, LUNetOutput, final_logits, first_logits, predicted_box
from lunet.models.postprocess import frame_labels, labels_on_grid

logger = logging.getLogger(__name__)


def frame_name(entry: dict) -> tuple[str, str]:
    """(patient folder, file name) of a cache index entry."""
    pid = entry["patient_id"]
    return pid, f"{pid}_{entry['view']}_{entry['instant']}.nii.gz"


@torch.inference_mode()
def predict_rows(
    model: torch.nn.Module,
    cache: CachedImages,
    rows: Sequence[int],
    out_dir: str | Path,
    *,
    needs_reference_box: bool = False,
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
        needs_reference_box: the oracle: fed the reference box (box0 enlarged by the model's ``box_margin``).
        batch_size: frames per forward pass.
        device: torch device.
        atrium: the model was trained on the left atrium (label 3 in its Dice loss): the LA is written
            (label 3; LU-Net's from o1 outside its box, :func:`lunet.models.postprocess.frame_labels`), else
            merged into the background.

    Returns:
        ``out_dir / "predictions"``.
    """
    from lunet.data.camus_io import write_image
    from lunet.models.registry import box_margin_of
    from lunet.models.roi import uses_crop_source

    out_dir = Path(out_dir)
    pred_dir, o1_dir = out_dir / "predictions", out_dir / "predictions_o1"
    model = model.to(device).eval()
    native = uses_crop_source(model)
    boxes: dict[tuple[str, str, str], list[float]] = {}
    rows = [int(r) for r in rows]

    def stack(name: str, chunk: list[int]) -> torch.Tensor:
        return torch.from_numpy(np.stack([np.asarray(getattr(cache, name)[r]) for r in chunk])).to(device)

    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        image = stack("images", chunk)[:, None]
        kwargs = {"crop_source": stack("source_images", chunk)[:, None]} if native else {}
        if needs_reference_box:
            ref = enlarge_box(np.stack([np.asarray(cache.box0[r]) for r in chunk]), box_margin_of(model))  # type: ignore[attr-defined]
            out = model(image, torch.from_numpy(ref).float().to(device), **kwargs)
        else:
            out = model(image, **kwargs)
        box = predicted_box(out)
        outputs: dict[str, torch.Tensor] = {} if box is None else {"box": box}
        if native:
            outputs["roi_logits"] = out.roi_logits
        elif not isinstance(out, BoxOutput):
            outputs["logits"] = final_logits(out)
        if atrium and isinstance(out, LUNetOutput):  # the atrium lies outside the box: o1's
            outputs["coarse_logits"] = out.coarse_logits
        o1 = first_logits(out)
        for i, row in enumerate(chunk):
            entry = cache.index[row]  # type: ignore[attr-defined]
            shape = tuple(int(v) for v in cache.original_shape[row])  # type: ignore[attr-defined]
            spacing = tuple(float(v) for v in cache.original_spacing[row])  # type: ignore[attr-defined]
            folder, name = frame_name(entry)
            label = frame_labels(outputs, i, shape, atrium)
            if label is not None:
                write_image(pred_dir / folder / name, label, spacing)
            if o1 is not None:
                write_image(o1_dir / folder / name, labels_on_grid(o1[i], shape, atrium=atrium), spacing)
            if box is not None:
                boxes[(entry["patient_id"], entry["view"], entry["instant"])] = box[i].tolist()
    if boxes:
        write_boxes_csv(pred_dir / "boxes.csv", boxes)
    pred_dir.mkdir(parents=True, exist_ok=True)
    logger.info("%s: wrote predictions of %d frames", pred_dir, len(rows))
    return pred_dir
