"""Report figures as PNG bytes: clinical agreement, distance box plots, outlier counts.

Figures are built with ``matplotlib.figure.Figure`` on the Agg canvas (imported lazily); no pyplot state is
touched, so nothing is left open and no display is needed. One colour per run, in run order.
"""

from __future__ import annotations

import io
import math

import numpy as np

#: Colours of the runs, in order (matplotlib's tab10).
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
QUANTITY_NAMES = {"edv_ml": ("EDV", "ml"), "esv_ml": ("ESV", "ml"), "ef_percent": ("EF", "%")}
#: Box-plot panels: ImageRecord field, title.
DISTANCE_PANELS = (
    ("lv_endo_mad_mm", "LV_Endo d_m"),
    ("lv_endo_hd_mm", "LV_Endo d_H"),
    ("lv_epi_mad_mm", "LV_Epi d_m"),
    ("lv_epi_hd_mm", "LV_Epi d_H"),
)


def colour(index: int) -> str:
    """Colour of the ``index``-th run."""
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def new_figure(width_in: float, height_in: float):
    """A figure on the Agg canvas, outside pyplot (so it needs no closing and no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def png_img(png: bytes, alt: str) -> str:
    """An ``<img>`` tag holding ``png`` as a base64 data URI."""
    import base64
    import html

    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def figure_png(figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes; the figure is cleared afterwards."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    figure.clear()
    return buffer.getvalue()


def _finite_pairs(pairs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pred, ref = pairs
    keep = np.isfinite(pred) & np.isfinite(ref)
    return pred[keep], ref[keep]


def clinical_intervals(records: list) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """``{index: (lo, hi)}`` of EDV, ESV (ml) and EF (%) from clinical records (``ef_lo_percent`` …), in
    record order; None when no record has a finite interval (a run without ``calibration.json``)."""
    from lunet.evaluation.interval_calibration import INTERVAL_COLUMNS

    out = {
        index: tuple(np.array([getattr(r, c) for r in records], dtype=np.float64) for c in names)
        for index, names in INTERVAL_COLUMNS.items()
    }
    return out if any(np.isfinite(lo).any() for lo, _ in out.values()) else None  # type: ignore[return-value]


def level_percent(level: float) -> str:
    """A nominal coverage level (0–1) as the report prints it: 0.9 → ``"90 %"``, 0.875 → ``"87.5 %"``."""
    return f"{100 * level:.4g} %"


def _draw_intervals(
    top,
    bottom,
    pred: np.ndarray,
    ref: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    colour_: str,
    level: float | None = None,
) -> str:
    """Vertical interval bars at each patient (correlation: around the prediction; Bland–Altman: around the
    difference); returns the legend text ``"; 90 % interval covers k/n"`` (the nominal ``level`` (0–1) as a
    number when it is given, else ``"; interval covers k/n"``)."""
    lo, hi = bounds
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return ""
    # bars from the estimate to each end; an interval not around its estimate (a clinical.csv written before
    # intervals always contained it) draws its nearer end at the estimate rather than failing
    err = np.maximum(np.vstack([pred[ok] - lo[ok], hi[ok] - pred[ok]]), 0.0)
    style = {"fmt": "none", "ecolor": colour_, "alpha": 0.35, "elinewidth": 0.8, "capsize": 0}
    top.errorbar(ref[ok], pred[ok], yerr=err, **style)
    bottom.errorbar((pred[ok] + ref[ok]) / 2, pred[ok] - ref[ok], yerr=err, **style)
    hits = int(((lo[ok] <= ref[ok]) & (ref[ok] <= hi[ok])).sum())
    name = f"{level_percent(level)} interval" if level is not None else "interval"
    return f"; {name} covers {hits}/{int(ok.sum())}"


def clinical_figure(
    runs: list[tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]],
    intervals: list[dict[str, tuple[np.ndarray, np.ndarray]] | None] | None = None,
    levels: list[float | None] | None = None,
) -> bytes | None:
    """Correlation (top) and Bland–Altman (bottom) plots of EDV, ESV and EF, one colour per run.

    Args:
        runs: ``(label, {index: (predicted, reference)})`` per run, indices ``edv_ml``, ``esv_ml`` (ml) and
            ``ef_percent`` (%); pairs with a NaN are left out.
        intervals: per run (same order), ``{index: (lo, hi)}`` aligned with its pairs
            (:func:`clinical_intervals`), or None: drawn as vertical bars, with the share of patients whose
            reference the interval contains in the legend.
        levels: per run (same order), the nominal level (0–1) of its intervals, named in the legend; None
            (or a shorter list): the legend names no level.

    Returns:
        PNG bytes, or None when no run has a finite pair.
    """
    from lunet.evaluation.agreement import agreement

    if not any(_finite_pairs(pairs)[0].size for _, values in runs for pairs in values.values()):
        return None
    figure = new_figure(12.0, 7.0)
    axes = figure.subplots(2, 3)
    for column, (quantity, (name, unit)) in enumerate(QUANTITY_NAMES.items()):
        top, bottom = axes[0, column], axes[1, column]
        low, high = math.inf, -math.inf
        for index, (label, values) in enumerate(runs):
            raw_pred, raw_ref = values[quantity]
            keep = np.isfinite(raw_pred) & np.isfinite(raw_ref)
            pred, ref = raw_pred[keep], raw_ref[keep]
            if pred.size == 0:
                continue
            stats = agreement(pred, ref)
            low = min(low, pred.min(), ref.min())
            high = max(high, pred.max(), ref.max())
            bounds = (intervals or [])[index] if index < len(intervals or []) else None
            covers = ""
            if bounds is not None and quantity in bounds:
                lo, hi = (np.asarray(b, dtype=np.float64)[keep] for b in bounds[quantity])
                level = (levels or [])[index] if index < len(levels or []) else None
                covers = _draw_intervals(top, bottom, pred, ref, (lo, hi), colour(index), level)
            top.scatter(
                ref, pred, s=12, alpha=0.7, color=colour(index),
                label=f"{label} (r={stats.corr:.3f}{covers})",
            )  # fmt: skip
            mean, diff = (pred + ref) / 2, pred - ref
            bottom.scatter(mean, diff, s=12, alpha=0.7, color=colour(index), label=label)
            for level, style in ((stats.bias, "-"), (stats.loa_low, "--"), (stats.loa_high, "--")):
                if np.isfinite(level):
                    bottom.axhline(level, color=colour(index), linestyle=style, linewidth=1)
        if math.isfinite(low):
            top.plot([low, high], [low, high], color="0.4", linewidth=1, linestyle=":")
        else:
            for ax in (top, bottom):
                ax.text(0.5, 0.5, "no finite predicted/reference pair", ha="center", transform=ax.transAxes)
        bottom.axhline(0.0, color="0.4", linewidth=1, linestyle=":")
        top.set(title=f"{name}: correlation", xlabel=f"reference ({unit})", ylabel=f"predicted ({unit})")
        bottom.set(
            title=f"{name}: Bland–Altman (bias, ±1.96 SD)",
            xlabel=f"mean of predicted and reference ({unit})",
            ylabel=f"predicted − reference ({unit})",
        )
        if top.get_legend_handles_labels()[0]:
            top.legend(fontsize=7, loc="upper left")
    return figure_png(figure)


def distance_boxplots(
    runs: list[tuple[str, list]], bounds: dict[str, tuple[float, float]] | None = None
) -> bytes | None:
    """Box plots of d_m and d_H (mm) per run for LV_Endo and LV_Epi over the given images.

    Args:
        runs: ``(label, image records)`` per run (:class:`lunet.evaluation.schema.ImageRecord`).
        bounds: optional geometric outlier bounds to draw, ``{"mad_mm": (ED, ES), "hd_mm": (ED, ES)}`` in mm.

    Returns:
        PNG bytes, or None when no run has distances.
    """
    data = {
        panel: [np.array([getattr(r, panel[0]) for r in rows if r.has_reference], dtype=np.float64)
                for _, rows in runs]
        for panel in DISTANCE_PANELS
    }  # fmt: skip
    if not any(np.isfinite(values).any() for series in data.values() for values in series):
        return None
    figure = new_figure(12.0, 3.8)
    axes = figure.subplots(1, len(DISTANCE_PANELS))
    labels = [label for label, _ in runs]
    for ax, panel in zip(axes, DISTANCE_PANELS):
        series = [values[np.isfinite(values)] for values in data[panel]]
        parts = ax.boxplot(series, patch_artist=True, widths=0.6, flierprops={"markersize": 3})
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=20, fontsize=8)
        for index, box in enumerate(parts["boxes"]):
            box.set(facecolor=colour(index), alpha=0.6)
        for level, instant in zip((bounds or {}).get(panel[0].split("_", 2)[2], ()), ("ED", "ES")):
            ax.axhline(level, color="red", linewidth=0.8, linestyle="--" if instant == "ED" else ":")
        missing = sum(int((~np.isfinite(values)).sum()) for values in data[panel])
        ax.set(title=panel[1] + (f" ({missing} NaN not shown)" if missing else ""), ylabel="mm")
    if bounds:
        figure.suptitle("red lines: geometric outlier bounds (dashed ED, dotted ES)", fontsize=8)
    return figure_png(figure)


def outlier_figure(runs: list[tuple[str, dict[str, int], int]]) -> bytes | None:
    """Grouped bars of outlier images (geometric, anatomical, both) per run, labelled with count and %.

    Args:
        runs: ``(label, counts, number of images)`` per run; counts keyed ``geometric``, ``anatomical``,
            ``both``.
    """
    kinds = [k for k in ("geometric", "anatomical", "both") if any(k in counts for _, counts, _ in runs)]
    if not kinds:
        return None
    figure = new_figure(7.0, 3.4)
    ax = figure.subplots()
    width = 0.8 / len(runs)
    for index, (label, counts, total) in enumerate(runs):
        x = np.arange(len(kinds)) + (index - (len(runs) - 1) / 2) * width
        heights = [counts.get(kind, 0) for kind in kinds]
        bars = ax.bar(x, heights, width=width, color=colour(index), label=label)
        texts = [f"{h} ({100 * h / total:.0f}%)" if total else str(h) for h in heights]
        ax.bar_label(bars, texts, fontsize=7)
    ax.set_xticks(range(len(kinds)), [f"{k} outliers" for k in kinds])
    ax.set(ylabel="images")
    ax.margins(y=0.2)
    ax.legend(fontsize=8)
    return figure_png(figure)
