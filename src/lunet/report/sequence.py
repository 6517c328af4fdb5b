"""The report's "Whole sequences" section: each run's ``evaluation/sequence.json`` as a table and LV curves.

Shown only for runs whose evaluation holds ``sequence.json`` (written by
:func:`lunet.evaluation.sequence.evaluate_sequences`). The table gives, per run: sequences and frames
scored, LV_Endo Dice / d_m / d_H over all annotated frames, mean |ED| and |ES| frame errors (frames and ms)
against the cfg, the area-curve roughness relative to the reference's, the share of frames whose contour
jumps, and the EF error of the sequence (detected ED/ES) against the reference ED/ES masks. The figure draws
predicted and reference LV area curves of the first sequences, predicted ED ▲ / ES ▼, reference ED/ES dotted.
"""

from __future__ import annotations

import html
import json
import logging
import math
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: (key in the summary, column header, digits)
COLUMNS = (
    ("sequences", "sequences", 0), ("frames", "frames", 0), ("lv_endo_dice", "LV Dice", 3),
    ("lv_endo_mad_mm", "LV d_m mm", 2), ("lv_endo_hd_mm", "LV d_H mm", 2),
    ("ed_abs_error_frames", "|ED err| frames", 2), ("ed_abs_error_ms", "|ED err| ms", 1),
    ("es_abs_error_frames", "|ES err| frames", 2), ("es_abs_error_ms", "|ES err| ms", 1),
    ("roughness_ratio", "roughness / ref", 2), ("jump_share", "jumps", 3), ("ref_jump_share", "ref jumps", 3),
    ("ef_mae", "EF MAE %", 1), ("patients_with_ef", "patients (EF)", 0),
)  # fmt: skip
MAX_CURVES = 4


def read_sequence_evaluation(run_dir: Path) -> dict[str, Any] | None:
    """``RUN/evaluation/sequence.json`` or None (absent or unreadable, logged)."""
    path = Path(run_dir) / "evaluation" / "sequence.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        logger.warning("%s: unreadable (%s); no sequence section for this run", path, err)
        return None
    return data if isinstance(data, dict) and isinstance(data.get("summary"), dict) else None


def _cell(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def curves_figure(curves: list[dict[str, Any]]) -> bytes | None:
    """PNG of up to :data:`MAX_CURVES` sequences' predicted and reference LV area curves (None if none)."""
    from lunet.report.plots import figure_png, new_figure

    curves = [c for c in curves if c.get("pred_area_mm2")][:MAX_CURVES]
    if not curves:
        return None
    figure = new_figure(3.2 * len(curves), 2.8)
    for index, curve in enumerate(curves):
        ax = figure.add_subplot(1, len(curves), index + 1)
        pred = curve["pred_area_mm2"]
        x = range(1, len(pred) + 1)
        ax.plot(x, pred, "-", color="#1f77b4", label="predicted")
        if curve.get("ref_area_mm2"):
            ax.plot(x, curve["ref_area_mm2"], "-", color="#555555", alpha=0.7, label="reference")
        for key, marker in (("ed_frames", "^"), ("es_frames", "v")):
            frames = [f for f in curve.get(key) or [] if 1 <= f <= len(pred)]
            ax.plot(frames, [pred[f - 1] for f in frames], marker, color="#d62728", markersize=7)
        for key in ("ref_ed", "ref_es"):
            if curve.get(key):
                ax.axvline(curve[key], color="#555555", linestyle=":", linewidth=1)
        ax.set_title(f"{curve.get('patient', '')} {curve.get('view', '')}", fontsize=8)
        ax.set_xlabel("frame (1-based)", fontsize=7)
        ax.tick_params(labelsize=6)
        if index == 0:
            ax.set_ylabel("LV area (mm²)", fontsize=7)
            ax.legend(fontsize=6)
    return figure_png(figure)


def temporal_flags_lines(found: list[tuple[Any, bool, dict[str, Any]]]) -> list[str]:
    """One line per run of the CAMUS authors' temporal check (``temporal_flag_share`` in the summary)."""

    def percent(value: object) -> str:
        return _cell(100 * value, 1) + " %" if isinstance(value, (int, float)) else "–"

    lines = []
    for run, _, data in found:
        summary = data["summary"]
        if "temporal_flag_share" not in summary:
            continue  # an evaluation written before the check existed
        flagged, total = summary.get("sequences_temporally_flagged"), summary.get("sequences")
        lines.append(
            f'<p class="note">Temporal check ({html.escape(run.label)}; the CAMUS authors\' attributes and '
            f"published thresholds, Painchaud et al. 2022): {_cell(flagged, 0)} of {_cell(total, 0)} "
            f"sequences flagged, {percent(summary['temporal_flag_share'])} of frames (reference "
            f"{percent(summary.get('ref_temporal_flag_share'))}).</p>"
        )
    return lines


def sequence_section(runs: list[Any], synthetic: list[bool]) -> str:
    """HTML of the section ("" when no run has a sequence evaluation).

    Args:
        runs: :class:`lunet.report.readers.RunData` (``run_dir``, ``label``). synthetic: per run.
    """
    from lunet.report.plots import png_img

    found = [
        (run, s, data) for run, s in zip(runs, synthetic) if (data := read_sequence_evaluation(run.run_dir))
    ]
    if not found:
        return ""
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in COLUMNS)
    rows = []
    for run, is_synthetic, data in found:
        summary = data["summary"]
        tag = " (SYNTHETIC)" if is_synthetic or summary.get("synthetic") else ""
        cells = "".join(f"<td>{_cell(summary.get(key), digits)}</td>" for key, _, digits in COLUMNS)
        rows.append(f"<tr><td>{html.escape(run.label + tag)}</td>{cells}</tr>")
    parts = [
        '<h2 id="sequences">Whole sequences</h2>',
        f'<div class="wrap"><table id="sequence-table"><tr><th>run</th>{head}</tr>{"".join(rows)}</table>'
        "</div>",
        '<p class="note">Every annotated frame of the half sequences; ED/ES errors are predicted − '
        "reference frames (Info_*.cfg), in frames and ms at the cfg frame rate; roughness: RMS second "
        "difference of the LV area curve over its mean, relative to the reference curve's; jumps: share of "
        f"frames whose LV contour is over {found[0][2]['summary'].get('jump_mm', 2.0)} mm (d_m) from both "
        "neighbours'; EF MAE: EF from the detected ED/ES frames against EF from the reference ED/ES masks "
        "(Simpson biplane).</p>",
    ]
    parts.extend(temporal_flags_lines(found))
    png = curves_figure(found[0][2].get("curves") or [])
    if png:
        parts.append(
            f"<h3>LV area curves ({html.escape(found[0][0].label)})</h3>" + png_img(png, "LV area curves")
        )
        parts.append(
            '<p class="note">Predicted (blue) and reference (grey) LV area; predicted ED ▲ and ES ▼ in red, '
            "reference ED/ES dotted.</p>"
        )
    return "\n".join(parts)
