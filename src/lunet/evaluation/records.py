"""Per-image records: every metric of one prediction in one flat dict (a CSV row).

Patient volumes: :func:`lunet.evaluation.clinical.patient_volumes`.
"""

from __future__ import annotations

import math

import numpy as np

from lunet.boxes import DEFAULT_BOX_MARGIN, reference_box
from lunet.data.labels import Label, Structure, structure_mask
from lunet.evaluation.localization import bb_out, box_errors_mm, box_iou
from lunet.evaluation.segmentation import atrium_scores, segmentation_scores
from lunet.evaluation.shape import shape_scores

#: Shape columns of the predicted structures: LV cavity, myocardium, epicardium (LV ∪ myocardium).
SHAPE_PREFIXES: dict[str, tuple[int, ...]] = {
    "lv": (int(Label.LV),),
    "myo": (int(Label.MYO),),
    "epi": (int(Label.LV), int(Label.MYO)),
}
BOX_COLUMNS = ("box_iou", "box_xc_mm", "box_yc_mm", "box_h_mm", "box_w_mm", "bb_out")


def score_image(
    pred_labels: np.ndarray,
    ref_labels: np.ndarray | None,
    spacing: tuple[float, float],
    pred_box: np.ndarray | None = None,
    box_margin: float = DEFAULT_BOX_MARGIN,
    atrium: bool = False,
) -> dict[str, float]:
    """All metrics of one predicted label map.

    Args:
        pred_labels: (rows, cols) predicted CAMUS labels.
        ref_labels: (rows, cols) reference labels on the same grid, or None (shape scores only).
        spacing: (row_mm, col_mm).
        pred_box: predicted normalised box ``(x_min, y_min, x_max, y_max)`` or None.
        box_margin: margin of the reference box the predicted box is compared with (LU-Net ``m``).
        atrium: the model was trained on the left atrium: score it (``la_dice``, ``la_mad_mm``,
            ``la_hd_mm``, :func:`lunet.evaluation.segmentation.atrium_scores`); otherwise those keys are
            absent (NaN in the record).

    Returns:
        Flat dict: segmentation scores (``lv_endo_dice`` …, ``la_dice`` … with ``atrium``), shape scores of
        the prediction (``lv_simplicity`` …)
        and, with a box and a reference, ``box_iou``, ``box_{xc,yc,h,w}_mm`` and ``bb_out`` (0/1).
    """
    pred_labels = np.asarray(pred_labels)
    row: dict[str, float] = {}
    if ref_labels is not None:
        row.update(segmentation_scores(pred_labels, ref_labels, spacing))
        if atrium:
            row.update(atrium_scores(pred_labels, ref_labels, spacing))
    for prefix, labels in SHAPE_PREFIXES.items():
        row.update(shape_scores(np.isin(pred_labels, labels), spacing, prefix))
    if pred_box is not None and ref_labels is not None:
        epi = np.asarray(structure_mask(np.asarray(ref_labels), Structure.LV_EPI))
        if epi.any():
            ref_box = reference_box(np.asarray(ref_labels), box_margin)
            row["box_iou"] = box_iou(pred_box, ref_box)
            errors = box_errors_mm(pred_box, ref_box, pred_labels.shape, spacing)
            row.update({f"box_{k}": v for k, v in errors.items()})
            row["bb_out"] = float(bb_out(pred_box, epi))
        else:
            row.update({key: math.nan for key in BOX_COLUMNS})
    return row
