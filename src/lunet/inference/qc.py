"""Quality control of a predicted label map without ground truth (RU-Net, IUS 2019, Sec. III-B).

A prediction is flagged when a structure is empty, split into several components, has holes, or when its
simplicity or convexity falls below the lowest value seen on expert annotations (RU-Net Table I). The
extracted table is scrambled; our reading (docs: ``method-notes.md``) is LV Sp ≥ 0.741, LV Cx ≥ 0.960,
Myo Sp ≥ 0.529, Myo Cx ≥ 0.694. The paper segments LV_Endo and LV_Epi, and a thin open myocardial band has
a convexity near 0.3 even on expert masks, so the "Myo" bounds are applied to the LV_Epi shape (LV ∪
myocardium), as in :mod:`lunet.evaluation.outliers` (whose bounds are used). Empty and component checks
are made on the LV, the myocardium and LV_Epi; hole checks on the LV and LV_Epi.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from lunet.data.labels import Label


@dataclass(frozen=True)
class QCThresholds:
    """Lower bounds of the anatomical criteria (dimensionless, in (0, 1]).

    ``myo_structure`` is the shape the "Myo" bounds apply to: ``"lv_epi"`` (LV ∪ myocardium, default) or
    ``"myo"`` (the myocardium region).
    """

    lv_simplicity: float = 0.741
    lv_convexity: float = 0.960
    myo_simplicity: float = 0.529
    myo_convexity: float = 0.694
    myo_structure: str = "lv_epi"

    def __post_init__(self) -> None:
        if self.myo_structure not in ("lv_epi", "myo"):
            raise ValueError(f"myo_structure must be 'lv_epi' or 'myo', got {self.myo_structure!r}")

    def describe(self) -> str:
        """The reading used, written into every QC report."""
        return (
            f"RU-Net Table I (our reading of the scrambled table): LV Sp >= {self.lv_simplicity}, "
            f"LV Cx >= {self.lv_convexity}; Myo Sp >= {self.myo_simplicity}, Cx >= {self.myo_convexity} "
            f"measured on {self.myo_structure}"
        )


def default_thresholds() -> QCThresholds:
    """The anatomical bounds of :class:`lunet.evaluation.outliers.OutlierThresholds` (as the evaluation)."""
    try:
        from lunet.evaluation.outliers import OutlierThresholds
    except ImportError:
        return QCThresholds()
    bounds = OutlierThresholds()
    return QCThresholds(
        lv_simplicity=bounds.lv_simplicity,
        lv_convexity=bounds.lv_convexity,
        myo_simplicity=bounds.myo_simplicity,
        myo_convexity=bounds.myo_convexity,
        myo_structure="myo" if getattr(bounds, "myo_shape_structure", "epi") == "myo" else "lv_epi",
    )


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def qc_report(
    label_map: np.ndarray,
    spacing: tuple[float, float],
    thresholds: QCThresholds | None = None,
    image: np.ndarray | None = None,
) -> dict[str, object]:
    """Anatomical QC of one predicted label map.

    Args:
        label_map: (rows, cols) uint8 labels (``Label``).
        spacing: (row_mm, col_mm).
        thresholds: lower bounds of Sp and Cx (default :func:`default_thresholds`).
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
    bounds = {
        "lv": (thresholds.lv_simplicity, thresholds.lv_convexity),
        thresholds.myo_structure: (thresholds.myo_simplicity, thresholds.myo_convexity),
    }
    for name, (sp_min, cx_min) in bounds.items():
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
        "thresholds": asdict(thresholds),
        "reading": thresholds.describe(),
    }
