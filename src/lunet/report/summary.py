"""The report's answer first: one row per model, the paired difference to the baseline, and a reading.

Per model (each run's final output; LU-Net's coarse ``-o1`` output is left to the folded tables): LV_Endo and
LV_Epi Dice and Hausdorff distance d_H (mm) over every scored image of all patients (Table IV's set), the
share of geometric outliers among images (the papers' count) and among patients (LU-Net's rule), and EF MAE
(%-points) and Pearson correlation over the good + medium quality patients (Table III's set) against the
evaluation's clinical reference (``tables.json["clinical_reference"]``: truth, else cfg, else simpson).

Paired difference to the baseline (the first model): over the patients both models scored, per patient the
mean of its images (Dice, d_H, outlier image share), its outlier flag, or its absolute EF error; the
difference is model − baseline of the mean over those patients (for the EF correlation: of the correlation
over them). Its 95 % interval is a bootstrap over patients (``scipy.stats.bootstrap``, paired, BCa,
2000 resamples, seed 0; percentile where BCa is undefined); fewer than 3 common patients give no interval.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lunet.evaluation.tables import good_medium
from lunet.report.series import Series

N_RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Metric:
    """A summary column: ``key``, header, unit, digits, whether higher is better, and its patient set."""

    key: str
    header: str
    unit: str
    digits: int
    higher_better: bool
    clinical: bool = False  # Table III's set (good + medium quality, EF) instead of all patients' images


METRICS = (
    Metric("lv_endo_dice", "LV_Endo Dice", "", 3, True),
    Metric("lv_epi_dice", "LV_Epi Dice", "", 3, True),
    Metric("lv_endo_hd_mm", "LV_Endo d_H", "mm", 2, False),
    Metric("lv_epi_hd_mm", "LV_Epi d_H", "mm", 2, False),
    Metric("outlier_images", "outlier images", "%", 1, False),
    Metric("outlier_patients", "outlier patients", "%", 1, False),
    Metric("ef_mae", "EF MAE", "%", 1, False, clinical=True),
    Metric("ef_corr", "EF corr", "", 3, True, clinical=True),
)


@dataclass(frozen=True)
class Difference:
    """Model − baseline over ``n`` common patients, with its bootstrap interval (NaN when undefined)."""

    value: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval is defined and does not contain zero."""
        return math.isfinite(self.low) and math.isfinite(self.high) and (self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class SummaryRow:
    """One model: its values per metric key, patients, and differences to the baseline (None for it)."""

    label: str
    values: dict[str, float]
    patients: int
    ef_patients: int
    differences: dict[str, Difference] | None


def _per_patient(series: Series, reference: str | None) -> dict[str, dict[str, float]]:
    """``{metric key: {patient: value}}`` of one model (module docstring)."""
    out: dict[str, dict[str, float]] = {m.key: {} for m in METRICS}
    images: dict[str, list] = {}
    for row in series.per_image:
        if row.has_reference:
            images.setdefault(row.patient, []).append(row)
    for patient, rows in images.items():
        for key in ("lv_endo_dice", "lv_epi_dice", "lv_endo_hd_mm", "lv_epi_hd_mm"):
            values = np.array([getattr(r, key) for r in rows], dtype=np.float64)
            if np.isfinite(values).any():
                out[key][patient] = float(np.nanmean(values))
        flags = [bool(r.geometric) for r in rows if r.geometric is not None]
        if flags:
            out["outlier_images"][patient] = 100.0 * float(np.mean(flags))
    for record in series.run.per_patient:
        if record.model == series.model and record.geometric is not None:
            out["outlier_patients"][record.patient] = 100.0 * bool(record.geometric)
    if reference:
        for c in series.run.clinical:
            if c.model == series.model and good_medium(c.quality):
                pred, ref = c.ef_percent, c.value(reference, "ef_percent")
                if math.isfinite(pred) and math.isfinite(ref):
                    out["ef_mae"][c.patient] = abs(pred - ref)
                    out["ef_corr"][c.patient] = pred  # paired with ``_ef_reference``
    return out


def _ef_reference(series: Series, reference: str | None) -> dict[str, float]:
    if not reference:
        return {}
    return {
        c.patient: c.value(reference, "ef_percent")
        for c in series.run.clinical
        if c.model == series.model and good_medium(c.quality)
    }


def _corr(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.mean(axis=axis, keepdims=True)
    y = y - y.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x * y).sum(axis=axis) / np.sqrt((x * x).sum(axis=axis) * (y * y).sum(axis=axis))


def paired_difference(
    data: Sequence[np.ndarray], statistic: Callable[..., np.ndarray], seed: int = SEED
) -> Difference:
    """``statistic(*data)`` and its 95 % bootstrap interval, resampling the patients (array entries) jointly.

    Args:
        data: arrays of the same length, one value per patient each (e.g. baseline and model).
        statistic: vectorised over the last axis, e.g. ``lambda a, b, axis=-1: (b - a).mean(axis)``.
        seed: seed of the resampling.

    Returns:
        :class:`Difference`; the interval is BCa, percentile where BCa is NaN, NaN with fewer than 3 patients
        or a constant statistic.
    """
    from scipy import stats

    arrays = [np.asarray(a, dtype=np.float64) for a in data]
    n = int(arrays[0].size)
    value = float(statistic(*arrays, axis=-1)) if n else math.nan
    low = high = math.nan
    if n >= 3 and math.isfinite(value):
        for method in ("BCa", "percentile"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # degenerate resamples: NaN, handled below
                result = stats.bootstrap(
                    tuple(arrays), statistic, paired=True, vectorized=True, confidence_level=CONFIDENCE,
                    n_resamples=N_RESAMPLES, method=method, random_state=np.random.default_rng(seed),
                )  # fmt: skip
            low, high = (float(v) for v in result.confidence_interval)
            if math.isfinite(low) and math.isfinite(high):
                break
    return Difference(value, low, high, n)


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return (b - a).mean(axis=axis)


def _corr_difference(a: np.ndarray, b: np.ndarray, ref: np.ndarray, axis: int = -1) -> np.ndarray:
    return _corr(b, ref, axis) - _corr(a, ref, axis)


def summary_series(series: list[Series]) -> list[Series]:
    """The models of the summary: every series but LU-Net's coarse outputs (``-o1``)."""
    kept = [s for s in series if not s.model.endswith("-o1")]
    return kept or series


def summary_rows(series: list[Series]) -> list[SummaryRow]:
    """One :class:`SummaryRow` per model of :func:`summary_series`; the first is the baseline."""
    chosen = summary_series(series)
    if not chosen:
        return []
    refs = [s.run.tables.get("clinical_reference") for s in chosen]
    per_patient = [_per_patient(s, r) for s, r in zip(chosen, refs)]
    ef_refs = [_ef_reference(s, r) for s, r in zip(chosen, refs)]
    rows = []
    for index, (one, values) in enumerate(zip(chosen, per_patient)):
        shown = _values(one, values, ef_refs[index])
        differences = None
        if index > 0:
            differences = {
                m.key: _difference(m.key, per_patient[0], values, ef_refs[0], ef_refs[index]) for m in METRICS
            }
        patients = len({r.patient for r in one.per_image if r.has_reference})
        rows.append(SummaryRow(_label(one, chosen), shown, patients, len(values["ef_mae"]), differences))
    return rows


def _label(series: Series, chosen: list[Series]) -> str:
    """The run's label for its final output (``lunet-o2`` → ``lunet``) when that stays unique."""
    if series.model.endswith("-o2") and sum(s.run is series.run for s in chosen) == 1:
        if not any(s.label == series.run.label for s in chosen if s is not series):
            return series.run.label
    return series.label


def _values(
    series: Series, values: dict[str, dict[str, float]], ef_ref: dict[str, float]
) -> dict[str, float]:
    """Values shown in the table: means over images (Dice, d_H, outlier images), patients, EF patients."""
    scored = [r for r in series.per_image if r.has_reference]
    shown: dict[str, float] = {}
    for key in ("lv_endo_dice", "lv_epi_dice", "lv_endo_hd_mm", "lv_epi_hd_mm"):
        v = np.array([getattr(r, key) for r in scored], dtype=np.float64)
        shown[key] = float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else math.nan
    flags = [bool(r.geometric) for r in scored if r.geometric is not None]
    shown["outlier_images"] = 100.0 * float(np.mean(flags)) if flags else math.nan
    patients = list(values["outlier_patients"].values())
    shown["outlier_patients"] = float(np.mean(patients)) if patients else math.nan
    errors = list(values["ef_mae"].values())
    shown["ef_mae"] = float(np.mean(errors)) if errors else math.nan
    keys = sorted(values["ef_corr"])
    pred = np.array([values["ef_corr"][k] for k in keys])
    ref = np.array([ef_ref[k] for k in keys])
    shown["ef_corr"] = float(_corr(pred, ref)) if len(keys) > 1 else math.nan
    return shown


def _difference(
    key: str,
    base: dict[str, dict[str, float]],
    model: dict[str, dict[str, float]],
    base_ref: dict[str, float],
    model_ref: dict[str, float],
) -> Difference:
    common = sorted(set(base[key]) & set(model[key]))
    a = np.array([base[key][p] for p in common])
    b = np.array([model[key][p] for p in common])
    if key != "ef_corr":
        return paired_difference((a, b), _mean_difference)
    common = [p for p in common if p in base_ref and base_ref[p] == model_ref.get(p)]
    a = np.array([base[key][p] for p in common])
    b = np.array([model[key][p] for p in common])
    return paired_difference((a, b, np.array([base_ref[p] for p in common])), _corr_difference)


def _number(value: float, digits: int) -> str:
    return "–" if not math.isfinite(value) else f"{value:.{digits}f}".replace("-", "−")


def _signed(value: float, digits: int) -> str:
    return "–" if not math.isfinite(value) else f"{value:+.{digits}f}".replace("-", "−")


def reading(rows: list[SummaryRow]) -> str:
    """One line from the numbers: which differences to the baseline have intervals excluding zero."""
    if len(rows) < 2:
        return f"One model ({rows[0].label}): no baseline to compare with." if rows else "No model evaluated."
    base = rows[0].label
    sentences = []
    for row in rows[1:]:
        assert row.differences is not None
        better, worse, unsure, undefined = [], [], [], []
        for m in METRICS:
            diff = row.differences[m.key]
            if not math.isfinite(diff.value):
                continue
            text = f"{m.header} {_signed(diff.value, m.digits)}{' ' + m.unit if m.unit else ''}"
            if not math.isfinite(diff.low):
                undefined.append(m.header)
            elif not diff.excludes_zero:
                unsure.append(m.header)
            elif (diff.value > 0) == m.higher_better:
                better.append(text)
            else:
                worse.append(text)
        parts = []
        if better:
            parts.append("better on " + ", ".join(better))
        if worse:
            parts.append("worse on " + ", ".join(worse))
        if not better and not worse:
            parts.append("no difference whose 95 % interval excludes zero")
        line = f"{row.label} vs {base}: " + "; ".join(parts)
        if unsure and (better or worse):
            line += f" (95 % intervals exclude zero); {', '.join(unsure)}: interval includes zero"
        if undefined:
            line += f"; {', '.join(undefined)}: no interval (too few patients)"
        sentences.append(line + ".")
    return " ".join(sentences)


def summary_html(series: list[Series]) -> str:
    """The summary table, its reading and its caption (``id="summary-table"``)."""
    rows = summary_rows(series)
    if not rows:
        return '<p class="note">No model was evaluated.</p>'
    head = "".join(
        f"<th>{html.escape(m.header)}{' (' + html.escape(m.unit) + ')' if m.unit else ''}</th>"
        for m in METRICS
    )
    body = []
    for index, row in enumerate(rows):
        name = html.escape(row.label) + (' <span class="d">baseline</span>' if index == 0 else "")
        cells = [
            f'<td class="model">{name}<br><span class="d">n = {row.patients} / {row.ef_patients}</span></td>'
        ]
        for m in METRICS:
            text = _number(row.values[m.key], m.digits)
            if row.differences is not None:
                diff = row.differences[m.key]
                interval = (
                    f"<br>[{_signed(diff.low, m.digits)}, {_signed(diff.high, m.digits)}]"
                    if math.isfinite(diff.low)
                    else ""
                )
                cls = "d sig" if diff.excludes_zero else "d"
                text += f'<br><span class="{cls}">Δ {_signed(diff.value, m.digits)}{interval}</span>'
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = (
        f'<div class="wrap"><table id="summary-table" class="summary"><thead><tr><th>model</th>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )
    caption = (
        '<p class="note">n = patients (images) / patients (EF). Dice, d_H and outlier shares: all '
        "patients (Table IV's set; outlier = a d_m or d_H of LV_Endo or LV_Epi out of bounds, per image as "
        "the papers count, per patient as LU-Net's rule). EF: good + medium quality patients (Table III's "
        f"set) against the {html.escape(_references(series))} reference. Δ = model − "
        f"{html.escape(rows[0].label)} over the patients both scored, mean of per-patient values, [95 % "
        f"interval: paired bootstrap over patients, BCa, {N_RESAMPLES} resamples]; <b>bold</b>: the interval "
        "excludes zero. LU-Net's coarse output (o1) is in the folded tables below.</p>"
    )
    return f'{table}<p class="reading" id="reading">{html.escape(reading(rows))}</p>{caption}'


def _references(series: list[Series]) -> str:
    names = {str(s.run.tables.get("clinical_reference") or "no") for s in summary_series(series)}
    return " / ".join(sorted(names))


__all__ = [
    "METRICS",
    "Difference",
    "SummaryRow",
    "paired_difference",
    "reading",
    "summary_html",
    "summary_rows",
]
