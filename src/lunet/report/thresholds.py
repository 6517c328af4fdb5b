"""Outlier bounds shown in the report: from the evaluation output, else from ``lunet.evaluation.outliers``.

Geometric bounds (RU-Net, IUS 2019, Table I): ED d_m 3.5 mm, d_H 8.2 mm; ES d_m 4.0 mm, d_H 8.8 mm.
Anatomical bounds, in our reading of that table's scrambled extraction (docs/method-notes): LV Sp 0.741,
Cx 0.960; Myo Sp 0.529, Cx 0.694.
"""

from __future__ import annotations

import re

from lunet.report.columns import metric_of

#: Fallback bounds, in the key names of ``lunet.evaluation.outliers.OutlierThresholds``; used only when
#: neither the evaluation output nor that module is available.
DEFAULT_THRESHOLDS: dict = {
    "ed_mad_mm": 3.5,
    "ed_hd_mm": 8.2,
    "es_mad_mm": 4.0,
    "es_hd_mm": 8.8,
    "lv_simplicity": 0.741,
    "lv_convexity": 0.960,
    "myo_simplicity": 0.529,
    "myo_convexity": 0.694,
}
DEFAULT_TEXT = (
    "geometric: d_m > 3.5 mm (ED) / 4.0 mm (ES) or d_H > 8.2 mm (ED) / 8.8 mm (ES); anatomical: "
    "LV Sp < 0.741, LV Cx < 0.96, Myo Sp < 0.529, Myo Cx < 0.694 "
    "(RU-Net Table I; anatomical values: our reading of RU-Net Table I)"
)


def outlier_thresholds(tables: dict) -> tuple[dict, str, str]:
    """The outlier bounds of one run: ``(bounds, one-line description, source)``.

    Looks for the ``thresholds`` (and ``thresholds_text``) keys of the run's ``tables.json``, then for the
    defaults of ``lunet.evaluation.outliers.OutlierThresholds``, then uses :data:`DEFAULT_THRESHOLDS`.
    """
    bounds = tables.get("thresholds")
    if isinstance(bounds, dict) and bounds:
        return dict(bounds), str(tables.get("thresholds_text", "")), "evaluation/tables.json"
    try:
        from lunet.evaluation.outliers import OutlierThresholds
    except ImportError:
        return (
            dict(DEFAULT_THRESHOLDS),
            DEFAULT_TEXT,
            "lunet.report defaults (lunet.evaluation not available)",
        )
    defaults = OutlierThresholds()
    return defaults.to_dict(), defaults.describe(), "lunet.evaluation.outliers defaults (not in tables.json)"


def geometric_bounds(thresholds: dict) -> dict[str, list[float]]:
    """``{"dm": [ED, ES], "dh": [ED, ES]}`` in mm from a (possibly nested) bounds dict, for the box plots.

    A number counts when its key path has an ``ed``/``es`` token and its key names a distance (``ed_mad_mm``,
    ``{"ED": {"d_H": 8.2}}``); a metric missing at ED is left out.
    """
    found: dict[tuple[str, str], float] = {}

    def walk(value: object, path: tuple[str, ...]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, str(key)))
            return
        if not path or not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        tokens = {t for part in path for t in re.split(r"[^a-z0-9]+", part.lower())}
        instant = next((i for i in ("ED", "ES") if i.lower() in tokens), None)
        metric = metric_of(path[-1])
        if instant and metric in ("dm", "dh"):
            found.setdefault((metric, instant), float(value))

    walk(thresholds, ())
    return {
        m: [found[(m, i)] for i in ("ED", "ES") if (m, i) in found]
        for m in ("dm", "dh")
        if (m, "ED") in found
    }
