"""Tables I–IV of LU-Net (TUFFC 2020) from the evaluation records; ``tables.json`` (schema in ``schema.py``).

- Table I, localization, all patients: IoU, errors on x_c, y_c, h, w (mm), BB out (# and % of images).
- Table II, segmentation, good + medium quality: Dice, d_m, d_H of LV_Endo and LV_Epi; geometric outliers.
- Table III, clinical, good + medium quality: corr, bias ± 1.96·SD (loa), MAE of EDV, ESV, EF, per reference,
  with 95 % bootstrap confidence intervals of corr and MAE (``corr_ci``, ``mae_ci``: ``[low, high]``;
  :mod:`lunet.evaluation.agreement`); its title names the Simpson convention (``ef_convention``).
- Table IV, all patients: d_m, d_H of both structures; geometric, anatomical and both outliers.
- ``table2_quality`` / ``table3_quality``: Tables II and III per image quality (Good, Medium, Poor).
- ``table_la``: the left atrium (CAMUS label 3; in no paper's table), Table II's style, good + medium quality:
  Dice, d_m, d_H of the LA over images, and the agreement (corr, bias ± 1.96·SD, MAE; ml) of the LA volume
  at end-systole with the same rule on the reference masks (``la_esv_ml``); one row per model that was
  trained on the LA (finite ``la_dice``). Tables I–IV never read the LA.

Values are mean ± SD (SD with ddof=1) over images, NaN skipped. Outlier counts (:mod:`outliers`): per image
— the papers' published column (``geometric_images``: either structure; ``anatomical_images``;
``both_images``) — and per patient, LU-Net's written rule, per structure (``geometric_lv_endo_patients``,
``geometric_lv_epi_patients``) and either (``geometric_patients``). Patients of unknown quality count as
good/medium.

``tables.json`` keys: ``schema_version``, ``synthetic``, ``data_note``, ``thresholds`` (the bounds used,
:class:`OutlierThresholds` fields), ``thresholds_text``, ``clinical_reference`` (the reference of the report's
clinical plots), ``table1`` … ``table4``, ``table2_quality``, ``table3_quality``, ``table_la`` (each
``{"title", "subset", "rows"}``), ``paper`` (:mod:`lunet.evaluation.paper`). Row keys: ``model`` and the
metric names above; a statistic is ``{"mean", "sd", "n"}``, a count ``{"count", "total", "percent"}``, an
agreement the fields of :class:`lunet.evaluation.clinical.Agreement`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict

import numpy as np

from lunet.evaluation.agreement import CI_METHOD, agreement, agreement_ci
from lunet.evaluation.outliers import OutlierThresholds
from lunet.evaluation.schema import (
    CLINICAL_INDICES,
    CLINICAL_REFERENCES,
    SCHEMA_VERSION,
    ClinicalRecord,
    ImageRecord,
    PatientRecord,
)

SYNTHETIC_NOTE = "SYNTHETIC phantom data — not CAMUS"
SEG_METRICS = tuple(f"{s}_{m}" for s in ("lv_endo", "lv_epi") for m in ("dice", "mad_mm", "hd_mm"))
DIST_METRICS = tuple(f"{s}_{m}" for s in ("lv_endo", "lv_epi") for m in ("mad_mm", "hd_mm"))
#: Columns of the LA table (``table_la``), from :class:`ImageRecord`.
LA_METRICS = ("la_dice", "la_mad_mm", "la_hd_mm")
BOX_METRICS = ("box_iou", "box_xc_mm", "box_yc_mm", "box_h_mm", "box_w_mm")
QUALITIES = ("Good", "Medium", "Poor")
#: Order in which the report's clinical plots pick their reference: analytic truth, experts' cfg values,
#: Simpson on the reference masks.
PLOT_REFERENCE_ORDER = ("truth", "cfg", "simpson")
GOOD_MEDIUM = "good + medium quality patients"


def _stat(values: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"mean": math.nan, "sd": math.nan, "n": 0}
    sd = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return {"mean": float(arr.mean()), "sd": sd, "n": int(arr.size)}


def _count(flags: Sequence[bool | None]) -> dict[str, float]:
    known = [bool(f) for f in flags if f is not None]
    n, k = len(known), sum(known)
    return {"count": k, "total": n, "percent": 100.0 * k / n if n else math.nan}


def good_medium(quality: str) -> bool:
    """Whether a patient enters Tables II and III (not of Poor image quality)."""
    return quality.lower() != "poor"


def _geometric_counts(images: Sequence[ImageRecord], patients: Sequence[PatientRecord]) -> dict[str, object]:
    return {
        "geometric_images": _count([r.geometric for r in images]),
        "geometric_lv_endo_images": _count([r.geometric_lv_endo for r in images]),
        "geometric_lv_epi_images": _count([r.geometric_lv_epi for r in images]),
        "geometric_lv_endo_patients": _count([p.geometric_lv_endo for p in patients]),
        "geometric_lv_epi_patients": _count([p.geometric_lv_epi for p in patients]),
        "geometric_patients": _count([p.geometric for p in patients]),
    }


def _table2_row(model: str, images: Sequence[ImageRecord], patients: Sequence[PatientRecord]) -> dict:
    scored = [r for r in images if r.has_reference]
    row: dict[str, object] = {"model": model, "patients": len({r.patient for r in scored})}
    row.update({m: _stat([getattr(r, m) for r in scored]) for m in SEG_METRICS})
    row.update(_geometric_counts(scored, [p for p in patients if p.geometric is not None]))
    return row


def _la_row(model: str, images: Sequence[ImageRecord], clinical: Sequence[ClinicalRecord]) -> dict | None:
    """The LA row of one model (good + medium images), or None for a model not trained on the LA."""
    scored = [r for r in images if r.has_reference and math.isfinite(r.la_dice)]
    if not scored:
        return None
    row: dict[str, object] = {"model": model, "patients": len({r.patient for r in scored})}
    row.update({m: _stat([getattr(r, m) for r in scored]) for m in LA_METRICS})
    predicted = np.asarray([c.la_esv_ml for c in clinical], dtype=np.float64)
    reference = np.asarray([c.ref_la_esv_ml for c in clinical], dtype=np.float64)
    row["la_esv_ml"] = asdict(agreement(predicted, reference))
    return row


def _table4_row(model: str, images: Sequence[ImageRecord], patients: Sequence[PatientRecord]) -> dict:
    scored = [r for r in images if r.has_reference]
    row: dict[str, object] = {"model": model, "patients": len({r.patient for r in images})}
    row.update({m: _stat([getattr(r, m) for r in scored]) for m in DIST_METRICS})
    row.update(_geometric_counts(scored, [p for p in patients if p.geometric is not None]))
    row["anatomical_images"] = _count([r.anatomical for r in images])
    row["anatomical_patients"] = _count([p.anatomical for p in patients])
    row["both_images"] = _count(
        [None if r.geometric is None else r.geometric and r.anatomical for r in images]
    )
    row["both_patients"] = _count([p.both for p in patients])
    return row


def _table3_rows(model: str, clinical: Sequence[ClinicalRecord], ci_seed: int) -> list[dict]:
    rows = []
    for reference in CLINICAL_REFERENCES:
        if not any(math.isfinite(c.value(reference, i)) for c in clinical for i in CLINICAL_INDICES):
            continue
        row: dict[str, object] = {"model": model, "reference": reference, "patients": len(clinical)}
        for index in CLINICAL_INDICES:
            predicted = np.asarray([getattr(c, index) for c in clinical], dtype=np.float64)
            ref = np.asarray([c.value(reference, index) for c in clinical], dtype=np.float64)
            ci = agreement_ci(predicted, ref, seed=ci_seed)
            row[index] = asdict(agreement(predicted, ref)) | {
                "corr_ci": [ci.corr_low, ci.corr_high], "mae_ci": [ci.mae_low, ci.mae_high],
            }  # fmt: skip
        rows.append(row)
    return rows


def _by_quality(models: Sequence[str], build: Callable[[str, str], list[dict]]) -> list[dict]:
    rows = []
    for model in models:
        for quality in QUALITIES:
            rows += [{"quality": quality, **row} for row in build(model, quality)]
    return rows


def clinical_plot_reference(clinical: Sequence[ClinicalRecord]) -> str | None:
    """The reference the report's clinical plots use: the first of :data:`PLOT_REFERENCE_ORDER` with a
    finite EF or EDV among ``clinical``, or None."""
    for reference in PLOT_REFERENCE_ORDER:
        if any(math.isfinite(c.value(reference, i)) for c in clinical for i in CLINICAL_INDICES):
            return reference
    return None


def build_tables(
    per_image: Sequence[ImageRecord],
    per_patient: Sequence[PatientRecord],
    clinical: Sequence[ClinicalRecord],
    thresholds: OutlierThresholds | None = None,
    synthetic: bool = False,
    ef_convention: str = "geometric",
    ci_seed: int = 0,
) -> dict[str, object]:
    """Tables I–IV (and the quality strata) as JSON-ready dicts; see the module docstring for the keys.

    ``ef_convention`` names the Simpson convention of the clinical values; ``ci_seed`` seeds the bootstrap.
    """
    thresholds = thresholds or OutlierThresholds()
    suffix = f" [{SYNTHETIC_NOTE}]" if synthetic else ""
    models = list(dict.fromkeys(r.model for r in per_image))
    images = {m: [r for r in per_image if r.model == m] for m in models}
    patients = {m: [p for p in per_patient if p.model == m] for m in models}
    volumes = {m: [c for c in clinical if c.model == m] for m in models}

    t1 = []
    for model in models:
        boxed = [r for r in images[model] if math.isfinite(r.box_iou)]
        if boxed:
            row1: dict[str, object] = {"model": model, "patients": len({r.patient for r in boxed})}
            row1.update({m.removeprefix("box_"): _stat([getattr(r, m) for r in boxed]) for m in BOX_METRICS})
            row1["bb_out"] = _count([r.bb_out for r in boxed])
            t1.append(row1)

    def t2(model: str, quality: str | None) -> list[dict]:
        keep = (lambda q: good_medium(q)) if quality is None else (lambda q: q == quality)
        rows = [r for r in images[model] if keep(r.quality) and r.has_reference]
        return [_table2_row(model, rows, [p for p in patients[model] if keep(p.quality)])] if rows else []

    def t3(model: str, quality: str | None) -> list[dict]:
        keep = (lambda q: good_medium(q)) if quality is None else (lambda q: q == quality)
        return _table3_rows(model, [c for c in volumes[model] if keep(c.quality)], ci_seed)

    la_rows = [
        _la_row(
            m,
            [r for r in images[m] if good_medium(r.quality)],
            [c for c in volumes[m] if good_medium(c.quality)],
        )
        for m in models
    ]
    t3_note = f"(Simpson: {ef_convention} convention; [95 % CI]: {CI_METHOD})"
    ci = {"confidence": 0.95, "method": CI_METHOD, "n_resamples": 2000, "seed": ci_seed}
    t3_keys = {"ef_convention": ef_convention, "ci": ci}
    gm_clinical = [c for c in clinical if good_medium(c.quality)]
    reference = clinical_plot_reference(gm_clinical)
    return {
        "schema_version": SCHEMA_VERSION,
        "synthetic": synthetic,
        "data_note": SYNTHETIC_NOTE if synthetic else "",
        "thresholds": thresholds.to_dict(),
        "thresholds_text": thresholds.describe(),
        "clinical_reference": reference,
        "table1": {"title": "Table I: localization accuracy, all patients" + suffix, "subset": "all patients",
                   "rows": t1},
        "table2": {"title": f"Table II: segmentation accuracy, {GOOD_MEDIUM}{suffix}", "subset": GOOD_MEDIUM,
                   "rows": [r for m in models for r in t2(m, None)]},
        "table3": {"title": f"Table III: clinical metrics, {GOOD_MEDIUM} {t3_note}{suffix}",
                   "subset": GOOD_MEDIUM, "rows": [r for m in models for r in t3(m, None)], **t3_keys},
        "table4": {"title": "Table IV: segmentation accuracy and outliers, all patients" + suffix,
                   "subset": "all patients",
                   "rows": [_table4_row(m, images[m], patients[m]) for m in models]},
        "table2_quality": {"title": "Table II by image quality" + suffix, "subset": "each quality",
                           "rows": _by_quality(models, t2)},
        "table3_quality": {"title": f"Table III by image quality {t3_note}{suffix}", "subset": "each quality",
                           "rows": _by_quality(models, t3), **t3_keys},
        "table_la": {"title": f"Left atrium (not in the papers), {GOOD_MEDIUM}: segmentation and ES volume "
                              f"(biplane area-length) vs the reference masks{suffix}",
                     "subset": GOOD_MEDIUM, "rows": [r for r in la_rows if r is not None]},
    }  # fmt: skip
