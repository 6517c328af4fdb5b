"""Tables I–IV of LU-Net (TUFFC 2020) from per-image, per-patient and clinical records.

- Table I, localization, all patients: IoU, errors on x_c, y_c, h, w (mm), BB out (# and % of images).
- Table II, segmentation, good + medium quality: Dice, d_m, d_H of LV_Endo and LV_Epi; geometric outliers.
- Table III, clinical, good + medium quality: corr, bias ± 1.96·SD (loa), MAE of EDV, ESV, EF, per reference,
  with 95 % bootstrap confidence intervals of corr and MAE (``corr_ci``, ``mae_ci``: ``[low, high]``;
  :mod:`lunet.evaluation.agreement`); its title names the Simpson convention (``ef_convention``).
- Table IV, all patients: d_m, d_H of both structures; geometric, anatomical and both outliers.

Values are mean ± SD (SD with ddof=1) over images, NaN skipped. Outliers are given per image (the papers'
denominators: 2000 images for 500 patients) and per patient (the papers' definition). Patients of unknown
quality count as good/medium. JSON schema: ``{"tableK": {"title", "rows": [{"model", metric: {"mean",
"sd"}}]}}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lunet.evaluation.agreement import CI_METHOD, agreement, agreement_ci
from lunet.evaluation.outliers import OutlierThresholds, anatomical_outlier, geometric_outlier

SYNTHETIC_NOTE = "SYNTHETIC phantom data — not CAMUS"
SEG_METRICS = tuple(f"{s}_{m}" for s in ("lv_endo", "lv_epi") for m in ("dice", "mad_mm", "hd_mm"))
DIST_METRICS = tuple(f"{s}_{m}" for s in ("lv_endo", "lv_epi") for m in ("mad_mm", "hd_mm"))
BOX_METRICS = ("box_iou", "box_xc_mm", "box_yc_mm", "box_h_mm", "box_w_mm")
CLINICAL_INDICES = ("edv_ml", "esv_ml", "ef_percent")

Row = Mapping[str, object]


def _stat(values: Sequence[object]) -> dict[str, float]:
    arr = np.asarray([float(v) for v in values], dtype=np.float64)  # type: ignore[arg-type]
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"mean": math.nan, "sd": math.nan, "n": 0}
    sd = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return {"mean": float(arr.mean()), "sd": sd, "n": int(arr.size)}


def _count(flags: Sequence[bool]) -> dict[str, float]:
    n = len(flags)
    k = int(sum(bool(f) for f in flags))
    return {"count": k, "total": n, "percent": 100.0 * k / n if n else math.nan}


def _models(rows: Sequence[Row]) -> list[str]:
    return list(dict.fromkeys(str(r["model"]) for r in rows))


def _good_medium(row: Row) -> bool:
    return str(row.get("quality", "")).lower() != "poor"


def _outlier_counts(
    images: Sequence[Row], patients: Sequence[Row], th: OutlierThresholds, kinds: Sequence[str]
):
    out: dict[str, object] = {}
    scored = [r for r in images if "lv_endo_mad_mm" in r]
    for kind in kinds:
        if kind == "geometric":
            flags = [geometric_outlier(r, th) for r in scored]
        elif kind == "anatomical":
            flags = [anatomical_outlier(r, th) for r in images]
        else:
            flags = [geometric_outlier(r, th) and anatomical_outlier(r, th) for r in scored]
        out[f"{kind}_outliers_images"] = _count(flags)
        out[f"{kind}_outliers_patients"] = _count([bool(p[kind]) for p in patients])
    return out


def build_tables(
    per_image: Sequence[Row],
    per_patient: Sequence[Row],
    clinical: Sequence[Row],
    thresholds: OutlierThresholds | None = None,
    synthetic: bool = False,
    ef_convention: str = "geometric",
    ci_seed: int = 0,
) -> dict[str, object]:
    """Tables I–IV as JSON-ready dicts (see the module docstring); every row has a ``model`` key.

    ``ef_convention`` names the Simpson convention of the clinical values; ``ci_seed`` seeds the bootstrap.
    """
    thresholds = thresholds or OutlierThresholds()
    suffix = f" [{SYNTHETIC_NOTE}]" if synthetic else ""
    tables: dict[str, object] = {
        "synthetic": synthetic,
        "data_note": SYNTHETIC_NOTE if synthetic else "",
        "thresholds": thresholds.to_dict(),
        "thresholds_text": thresholds.describe(),
    }
    t1, t2, t3, t4 = [], [], [], []
    for model in _models(per_image):
        images = [r for r in per_image if r["model"] == model]
        patients = [p for p in per_patient if p["model"] == model]
        gm_images = [r for r in images if _good_medium(r)]
        gm_patients = [p for p in patients if _good_medium(p)]
        n_patients = len({r["patient"] for r in images})
        boxed = [r for r in images if math.isfinite(float(r.get("box_iou", math.nan)))]  # type: ignore[arg-type]
        if boxed:
            row1: dict[str, object] = {"model": model, "patients": n_patients}
            row1.update({m.removeprefix("box_"): _stat([r[m] for r in boxed]) for m in BOX_METRICS})
            row1["bb_out"] = _count([bool(float(r["bb_out"])) for r in boxed])  # type: ignore[arg-type]
            t1.append(row1)
        scored_gm = [r for r in gm_images if "lv_endo_mad_mm" in r]
        if scored_gm:
            row2: dict[str, object] = {"model": model, "patients": len({r["patient"] for r in scored_gm})}
            row2.update({m: _stat([r[m] for r in scored_gm]) for m in SEG_METRICS})
            row2.update(_outlier_counts(scored_gm, gm_patients, thresholds, ["geometric"]))
            t2.append(row2)
        scored = [r for r in images if "lv_endo_mad_mm" in r]
        row4: dict[str, object] = {"model": model, "patients": n_patients}
        if scored:
            row4.update({m: _stat([r[m] for r in scored]) for m in DIST_METRICS})
        kinds = ["geometric", "anatomical", "both"] if scored else ["anatomical"]
        row4.update(_outlier_counts(images, patients, thresholds, kinds))
        t4.append(row4)
        gm_clinical = [c for c in clinical if c["model"] == model and _good_medium(c)]
        for reference in ("simpson", "cfg", "truth"):
            if not any(math.isfinite(float(c.get(f"{reference}_edv_ml", math.nan))) for c in gm_clinical):  # type: ignore[arg-type]
                if not any(
                    math.isfinite(float(c.get(f"{reference}_ef_percent", math.nan))) for c in gm_clinical
                ):  # type: ignore[arg-type]
                    continue
            row3: dict[str, object] = {"model": model, "reference": reference}
            for index in CLINICAL_INDICES:
                pred = [float(c.get(index, math.nan)) for c in gm_clinical]  # type: ignore[arg-type]
                ref = [float(c.get(f"{reference}_{index}", math.nan)) for c in gm_clinical]  # type: ignore[arg-type]
                a = agreement(np.asarray(pred), np.asarray(ref))
                ci = agreement_ci(np.asarray(pred), np.asarray(ref), seed=ci_seed)
                row3[index] = {"mean": a.bias, "sd": a.sd, "corr": a.corr, "bias": a.bias,
                               "loa_low": a.loa_low, "loa_high": a.loa_high, "mae": a.mae, "n": a.n,
                               "corr_ci": [ci.corr_low, ci.corr_high], "mae_ci": [ci.mae_low, ci.mae_high],
                               }  # fmt: skip
            t3.append(row3)
    tables["table1"] = {"title": "Table I: localization accuracy, all patients" + suffix, "rows": t1}
    tables["table2"] = {
        "title": "Table II: segmentation accuracy, good + medium quality patients" + suffix,
        "rows": t2,
    }
    tables["table3"] = {
        "title": f"Table III: clinical metrics, good + medium quality patients (Simpson: {ef_convention} "
        f"convention; [95 % CI]: {CI_METHOD})" + suffix,
        "rows": t3,
        "ef_convention": ef_convention,
        "ci": {"confidence": 0.95, "method": CI_METHOD, "n_resamples": 2000, "seed": ci_seed},
    }
    tables["table4"] = {
        "title": "Table IV: segmentation accuracy and outliers, all patients" + suffix,
        "rows": t4,
    }
    return tables


def _ms(stat: object, digits: int = 1) -> str:
    if not isinstance(stat, Mapping) or not math.isfinite(float(stat["mean"])):
        return "–"
    sd = float(stat["sd"])
    return (
        f"{stat['mean']:.{digits}f} ± {sd:.{digits}f}" if math.isfinite(sd) else f"{stat['mean']:.{digits}f}"
    )


def _cnt(stat: object) -> str:
    if not isinstance(stat, Mapping) or not stat["total"]:
        return "–"
    return f"{stat['count']} ({stat['percent']:.1f} %)"


def _ci(bounds: object, digits: int) -> str:
    """`` [low, high]`` of a confidence interval, or nothing when it is missing or undefined."""
    if not isinstance(bounds, Sequence) or len(bounds) != 2:
        return ""
    low, high = (math.nan if b is None else float(b) for b in bounds)
    return f" [{low:.{digits}f}, {high:.{digits}f}]" if math.isfinite(low) and math.isfinite(high) else ""


def _table(title: str, header: Sequence[str], lines: Sequence[Sequence[str]]) -> list[str]:
    out = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return [*out, ""] if lines else [*out[:2], "(no data)", ""]


def tables_markdown(tables: Mapping[str, Any]) -> str:
    """Markdown of :func:`build_tables` output (mean ± SD; outliers as # (%) of images / patients)."""
    lines = ["# Evaluation tables", ""]
    if tables.get("synthetic"):
        lines += [
            f"**{SYNTHETIC_NOTE}.** These numbers are not comparable with the papers' CAMUS results.",
            "",
        ]
    lines += [f"Outlier thresholds: {tables['thresholds_text']}.", ""]
    t1, t2, t3, t4 = (tables[k] for k in ("table1", "table2", "table3", "table4"))

    errors = ("xc_mm", "yc_mm", "h_mm", "w_mm")
    rows1 = [
        [r["model"], _ms(r["iou"], 3), *(_ms(r[k]) for k in errors), _cnt(r["bb_out"])] for r in t1["rows"]
    ]
    header1 = ["model", "IoU", "x_c mm", "y_c mm", "h mm", "w mm", "BB out (images)"]
    lines += _table(t1["title"], header1, rows1)

    rows2 = []
    for r in t2["rows"]:
        cells = [r["model"], *(_ms(r[m], 3 if m.endswith("dice") else 1) for m in SEG_METRICS)]
        rows2.append([*cells, _cnt(r["geometric_outliers_images"]), _cnt(r["geometric_outliers_patients"])])
    header2 = ["model", "Endo D", "Endo d_m mm", "Endo d_H mm", "Epi D", "Epi d_m mm", "Epi d_H mm"]
    lines += _table(t2["title"], [*header2, "geo. (images)", "geo. (patients)"], rows2)

    rows3 = []
    for r in t3["rows"]:
        cells = [r["model"], r["reference"]]
        for index in CLINICAL_INDICES:
            s = r[index]
            corr = f"{s['corr']:.3f}{_ci(s.get('corr_ci'), 3)}"
            cells += [
                corr,
                f"{s['bias']:.1f} ± {1.96 * s['sd']:.1f}",
                f"{s['mae']:.1f}{_ci(s.get('mae_ci'), 1)}",
            ]
        rows3.append(cells)
    header3 = [f"{i} {m}" for i in ("EDV", "ESV", "EF") for m in ("corr", "loa", "mae")]
    lines += _table(t3["title"], ["model", "reference", *header3], rows3)

    rows4 = []
    for r in t4["rows"]:
        kinds = ("geometric", "anatomical", "both")
        counts = [
            f"{_cnt(r.get(f'{k}_outliers_images'))} / {_cnt(r.get(f'{k}_outliers_patients'))}" for k in kinds
        ]
        rows4.append([r["model"], *(_ms(r.get(m)) for m in DIST_METRICS), *counts])
    header4 = ["model", "Endo d_m mm", "Endo d_H mm", "Epi d_m mm", "Epi d_H mm"]
    lines += _table(
        t4["title"], [*header4, *(f"{k} images / patients" for k in ("geo.", "ana.", "both"))], rows4
    )
    lines += [
        "Table III references: simpson = Simpson's biplane on the reference masks (ours); "
        "cfg = values of the "
        "Info_*.cfg files; truth = analytic phantom values (synthetic data only).",
        "",
    ]
    return "\n".join(lines)
