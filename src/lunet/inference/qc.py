"""Quality control of a predicted label map without ground truth (RU-Net, IUS 2019, Sec. III-B).

A prediction is flagged when a structure is empty, split into several components, has holes, or when its
simplicity or convexity falls below the lowest value seen on expert annotations (RU-Net Table I). The
extracted table is scrambled; our reading (:mod:`lunet.evaluation.outliers`) is LV Sp ≥ 0.741, LV Cx ≥ 0.960,
Myo Sp ≥ 0.529, Myo Cx ≥ 0.694. The paper segments LV_Endo and LV_Epi, and a thin open myocardial band has
a convexity near 0.3 even on expert masks, so the "Myo" bounds are applied to the LV_Epi shape (LV ∪
myocardium), as in :mod:`lunet.evaluation.outliers` (whose bounds are used). Empty and component checks
are made on the LV, the myocardium and LV_Epi; hole checks on the LV and LV_Epi.
"""

from __future__ import annotations

import math

import numpy as np

from lunet.data.labels import Label
from lunet.evaluation.outliers import OutlierThresholds


def default_thresholds() -> OutlierThresholds:
    """The outlier bounds of ``lunet evaluate`` (:class:`lunet.evaluation.outliers.OutlierThresholds`)."""
    return OutlierThresholds()


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def qc_report(
    label_map: np.ndarray,
    spacing: tuple[float, float],
    thresholds: OutlierThresholds | None = None,
    image: np.ndarray | None = None,
) -> dict[str, object]:
    """Anatomical QC of one predicted label map.

    Args:
        label_map: (rows, cols) uint8 labels (``Label``).
        spacing: (row_mm, col_mm).
        thresholds: the outlier bounds; only the anatomical ones (Sp, Cx) apply here (default
            :func:`default_thresholds`).
        image: the (rows, cols) frame, for the sector-border check of :mod:`lunet.inference.sanity`.

    Returns:
        ``{"structures": {"lv"|"myo"|"lv_epi": {"area_mm2", "simplicity", "convexity", "components",
        "holes"}},
        "sanity": {measures of :func:`lunet.inference.sanity.sanity_checks`}, "flags": [names of failed
        checks, shape and sanity], "qc_pass": bool, "thresholds": {...}, "reading": str}``.
        Scores of empty structures are ``None`` (JSON null).
    """
    from lunet.evaluation.shape import shape_scores
    from lunet.inference.sanity import sanity_checks

    thresholds = thresholds or default_thresholds()
    label_map = np.asarray(label_map)
    masks = {
        "lv": label_map == Label.LV,
        "myo": label_map == Label.MYO,
        "lv_epi": (label_map == Label.LV) | (label_map == Label.MYO),
    }
    pixel_mm2 = float(spacing[0]) * float(spacing[1])
    structures: dict[str, dict[str, float | None]] = {}
    flags: list[str] = []
    for name, mask in masks.items():
        area = float(mask.sum()) * pixel_mm2
        scores = shape_scores(mask, spacing, name)
        structures[name] = {
            "area_mm2": area,
            "simplicity": _finite(scores[f"{name}_simplicity"]),
            "convexity": _finite(scores[f"{name}_convexity"]),
            "components": int(scores[f"{name}_components"]),
            "holes": int(scores[f"{name}_holes"]),
        }
        if area == 0:
            flags.append(f"{name}_empty")
            continue
        if scores[f"{name}_components"] > 1:
            flags.append(f"{name}_components")
        if name != "myo" and scores[f"{name}_holes"] > 0:  # a myocardium closed at the base encloses the LV
            flags.append(f"{name}_holes")
    for prefix, (sp_min, cx_min) in thresholds.shape_bounds().items():
        name = "lv_epi" if prefix == "epi" else prefix
        sp, cx = structures[name]["simplicity"], structures[name]["convexity"]
        if sp is not None and sp < sp_min:
            flags.append(f"{name}_simplicity")
        if cx is not None and cx < cx_min:
            flags.append(f"{name}_convexity")
    sanity_flags, sanity = sanity_checks(label_map, spacing, image)  # borders, LV area, enclosure
    flags.extend(sanity_flags)
    return {
        "structures": structures,
        "sanity": sanity,
        "flags": flags,
        "qc_pass": not flags,
        "thresholds": thresholds.to_dict(),
        "reading": thresholds.describe(),
    }
