"""Quality control of a predicted label map without ground truth (RU-Net, IUS 2019, Sec. III-B).

A prediction is flagged when a structure is empty, split into several components, has holes, or when its
simplicity or convexity falls below the lowest value seen on expert annotations (RU-Net Table I). The
extracted table is scrambled; our reading (:mod:`lunet.evaluation.outliers`) is LV Sp ≥ 0.741, LV Cx ≥ 0.960,
Myo Sp ≥ 0.529, Myo Cx ≥ 0.694. The paper segments LV_Endo and LV_Epi, and a thin open myocardial band has
a convexity near 0.3 even on expert masks, so the "Myo" bounds are applied to the LV_Epi shape (LV ∪
myocardium), as in :mod:`lunet.evaluation.outliers` (whose bounds are used). Empty and component checks
are made on the LV, the myocardium and LV_Epi; hole checks on the LV and LV_Epi.

The left atrium, for a model trained on it (``atrium=True``): ``la_empty`` (no LA pixel: every apical view
shows the atrium below the mitral plane), ``la_touches_image_border`` / ``la_touches_sector_border`` (the LA
cut by the image or the ultrasound sector: its area and volume are then too small; CAMUS atria often reach
the sector's far edge), and, per patient, ``la_volume_out_of_range`` (:data:`LA_VOLUME_RANGE_ML`, checked by
:func:`la_volume_flags` where both ES views give a volume).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lunet.data.labels import Label
from lunet.evaluation.outliers import OutlierThresholds

#: Plausible LA volume at end-systole in ml; outside it a prediction is flagged, not corrected. Normal adult
#: biplane LA volumes span 18–58 ml (men) and 22–52 ml (women) (Lang et al., "Recommendations for chamber
#: quantification", J Am Soc Echocardiogr 2005;18:1440–63, Table 6); the LA volume index is normal at 16–34
#: ml/m² and severely enlarged above 48 ml/m² (Lang et al., ASE/EACVI chamber quantification update, J Am
#: Soc Echocardiogr 2015;28:1–39, Sec. 4). The range is wide so that only nonsense is flagged: 10 ml is about
#: half the smallest normal adult atrium, 250 ml about twice a severely dilated one (48 ml/m² × 2.5 m²).
LA_VOLUME_RANGE_ML = (10.0, 250.0)


#: A patient's EF interval wider than this (EF points, hi − lo) is flagged ``ef_interval_wide``: 20 points
#: (±10 around the estimate) is more than twice the 41–49 % "mildly reduced" band of the ESC/ASE heart-failure
#: categories (reduced ≤ 40 %, mildly reduced 41–49 %, normal ≥ 50 %), so such an interval cannot place the
#: patient in, or next to, one category: read it as "EF not determined" rather than as a value.
EF_INTERVAL_WIDE_POINTS = 20.0


def interval_flags(ef_interval: Sequence[float | None], limit: float = EF_INTERVAL_WIDE_POINTS) -> list[str]:
    """Patient-level QC of an EF interval ``[lo, hi]`` (EF %): ``["ef_interval_wide"]`` when ``hi − lo`` is
    above ``limit`` points, else ``[]`` (also when the interval is undefined)."""
    lo, hi = (float("nan") if v is None else float(v) for v in ef_interval)
    return ["ef_interval_wide"] if math.isfinite(lo) and math.isfinite(hi) and hi - lo > limit else []


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
    atrium: bool = False,
) -> dict[str, object]:
    """Anatomical QC of one predicted label map.

    Args:
        label_map: (rows, cols) uint8 labels (``Label``).
        spacing: (row_mm, col_mm).
        thresholds: the outlier bounds; only the anatomical ones (Sp, Cx) apply here (default
            :func:`default_thresholds`).
        image: the (rows, cols) frame, for the sector-border check of :mod:`lunet.inference.sanity`.
        atrium: the model was trained on the left atrium: add ``structures["la"]`` (``area_mm2``,
            ``components``) and the LA flags of the module docstring.

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
    if atrium:
        la_info, la_flags = _atrium_checks(label_map, pixel_mm2, image)
        structures["la"] = la_info
        flags.extend(la_flags)
    return {
        "structures": structures,
        "sanity": sanity,
        "flags": flags,
        "qc_pass": not flags,
        "thresholds": thresholds.to_dict(),
        "reading": thresholds.describe(),
    }


def _atrium_checks(
    label_map: np.ndarray, pixel_mm2: float, image: np.ndarray | None
) -> tuple[dict[str, float | None], list[str]]:
    """LA area and components, and the LA flags of one frame (module docstring)."""
    from scipy import ndimage

    from lunet.inference.sanity import SanityBounds, sector_mask

    la = label_map == Label.LA
    _, components = ndimage.label(la)
    info: dict[str, float | None] = {"area_mm2": float(la.sum()) * pixel_mm2, "components": int(components)}
    if not la.any():
        return info, ["la_empty"]
    flags = []
    width = SanityBounds().border_px
    edge = np.ones(la.shape, dtype=bool)
    edge[width:-width, width:-width] = False
    if (la & edge).any():
        flags.append("la_touches_image_border")
    sector = sector_mask(image) if image is not None else None
    if sector is not None and "la_touches_image_border" not in flags:
        inside = ndimage.binary_erosion(sector, iterations=width + 1, border_value=0)
        if (la & ~inside).any():
            flags.append("la_touches_sector_border")
    return info, flags


def la_frame_flags(
    label_map: np.ndarray, spacing: tuple[float, float], image: np.ndarray | None = None
) -> list[str]:
    """The LA flags of one frame (``la_empty``, ``la_touches_image_border``, ``la_touches_sector_border``;
    module docstring), as :func:`qc_report` gives them with ``atrium=True``.

    Args:
        label_map: (rows, cols) labels of a model trained on the LA. spacing: (row_mm, col_mm).
        image: the (rows, cols) frame, for the sector-border check.
    """
    return _atrium_checks(np.asarray(label_map), float(spacing[0]) * float(spacing[1]), image)[1]


def la_volume_flags(volume_ml: float, bounds: tuple[float, float] = LA_VOLUME_RANGE_ML) -> list[str]:
    """``["la_volume_out_of_range"]`` when a finite LA volume (ml) is outside ``bounds``, else ``[]``."""
    if not math.isfinite(volume_ml):
        return []
    low, high = bounds
    return [] if low <= volume_ml <= high else ["la_volume_out_of_range"]
