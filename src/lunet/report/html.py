"""One self-contained HTML report over one or more run folders.

The file embeds every figure as a base64 PNG data URI and its CSS inline; it needs no script, no server and
no network. Runs without an ``evaluation/`` folder are evaluated first (``lunet.evaluation.evaluate``).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lunet import __version__
from lunet.report.plots import level_percent, png_img
from lunet.report.readers import ReportInputError, RunData, load_run, unique_labels
from lunet.report.thresholds import geometric_bounds, thresholds_html

if TYPE_CHECKING:
    from lunet.report.series import Series

logger = logging.getLogger(__name__)

CONFIG_FIELDS = ("model", "fold", "epochs", "size", "margin")
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;
padding:0 16px;color:#222;overflow-wrap:anywhere}
h1{margin-bottom:4px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
.banner{background:#b00020;color:#fff;font-size:1.2em;font-weight:bold;padding:10px 16px;border-radius:6px}
.note{color:#555;font-size:.9em} .meta{color:#555} .reading{font-size:1.05em;font-weight:600;margin:6px 0}
.wrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.85em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;overflow-wrap:normal} th{background:#f0f0f0}
td:first-child,td:nth-child(2){text-align:left}
table.summary{font-size:.95em} table.summary td:nth-child(2){text-align:right}
table.summary th{vertical-align:bottom}
.d{font-size:.8em;color:#555;white-space:nowrap} .sig{color:#000;font-weight:bold}
details{margin:8px 0} summary{cursor:pointer;color:#1f4e99}
img{max-width:100%;height:auto;display:block;margin:8px 0}
pre{background:#f7f7f7;padding:8px;font-size:.8em;overflow-x:auto;white-space:pre-wrap}
@media print{
 body{max-width:none;margin:0;padding:0;font-size:10pt;color:#000}
 .banner{background:none;color:#b00020;border:2px solid #b00020}
 h2{break-after:avoid;page-break-after:avoid} h3{break-after:avoid}
 table,img,tr{break-inside:avoid;page-break-inside:avoid} .wrap{overflow:visible}
 table{font-size:7.5pt;max-width:100%} th,td{padding:1px 3px;overflow-wrap:anywhere} .d{white-space:normal}
 details>summary{list-style:none;font-weight:bold;color:#000}
 a{color:#000;text-decoration:none}
}
@page{size:A4;margin:15mm}
"""


def ensure_evaluation(run_dir: Path) -> None:
    """Run ``lunet.evaluation.evaluate.evaluate_run(run_dir, run_dir / "evaluation")`` if that is missing."""
    from lunet.evaluation.evaluate import evaluate_run

    if (run_dir / "evaluation").is_dir():
        return
    logger.info("%s: no evaluation/ folder, evaluating the run first", run_dir)
    evaluate_run(run_dir, run_dir / "evaluation")


def _runs_table(runs: list[RunData], data_dirs: list[Path]) -> str:
    columns = ("run", "folder", *CONFIG_FIELDS, "epochs run", "stopped by", "data", "synthetic")
    head = "".join(f"<th>{h}</th>" for h in columns)
    rows = []
    for run, data in zip(runs, data_dirs):
        cells = [run.label, str(run.run_dir)] + [str(run.config.get(f, "–")) for f in CONFIG_FIELDS]
        outcome = run.outcome  # lunet.training.outcome.TrainingOutcome
        cells += [str(outcome.get("epochs_run", "–")), str(outcome.get("stop_reason", "–")).replace("_", " ")]
        cells += [str(data) if data.is_dir() else f"{data} (not found)", "yes" if run.synthetic else "no"]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    details = "".join(
        f"<details><summary>config.json of {html.escape(run.label)}</summary>"
        f"<pre>{html.escape(json.dumps(run.config, indent=2, sort_keys=True))}</pre></details>"
        for run in runs
    )
    return (
        f'<div class="wrap"><table id="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"</table></div>{details}"
    )


def _figure_section(title: str, png: bytes | None, alt: str, caption: str) -> str:
    body = png_img(png, alt) if png else '<p class="note">No data for this figure.</p>'
    return f'<h3>{html.escape(title)}</h3>{body}<p class="note">{html.escape(caption)}</p>'


def build_html(runs: list[RunData], data_dirs: list[Path]) -> str:
    """The report's HTML text (see :func:`write_report`), in the page order of docs/architecture.md."""
    from lunet.report.sequence import sequence_section
    from lunet.report.series import series_of
    from lunet.report.summary import summary_html
    from lunet.report.tables import comparison_html, tables_html

    series = series_of(runs)
    labelled = [(run.label, run.tables) for run in runs]
    sections = [
        *_header(runs),
        '<h2 id="summary">The answer: each model against the baseline</h2>' + summary_html(series),
        *_gallery_sections(series, runs, data_dirs),
        '<h2 id="paper">Ours beside the papers</h2>' + comparison_html(labelled),
        *_clinical_sections(series, runs),
        *_distance_sections(series, runs),
        '<h2 id="tables">Our Tables I–IV in full</h2>' + tables_html(labelled),
        sequence_section(runs, [run.synthetic for run in runs]),
        _method_section(runs, data_dirs),
    ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>lunet report</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _header(runs: list[RunData]) -> list[str]:
    """Title line, and the banner when any run is on the phantom."""
    sections = [
        f'<h1>lunet report</h1><p class="meta">lunet {html.escape(__version__)} — generated '
        f"{_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} — "
        f"{html.escape(', '.join(run.label for run in runs))}</p>"
    ]
    if any(run.synthetic for run in runs):
        which = ", ".join(r.label for r in runs if r.synthetic)
        sections.append(
            f'<div class="banner" id="synthetic-banner">SYNTHETIC phantom data — not CAMUS '
            f"({html.escape(which)}). These numbers say nothing about real echocardiograms.</div>"
        )
    return sections


def _gallery_sections(series: list[Series], runs: list[RunData], data_dirs: list[Path]) -> list[str]:
    """The worst/median/best gallery, the side-by-side figure and their notes (images of ``data_dirs``, one
    per run)."""
    from lunet.report.compare import comparison_figure
    from lunet.report.gallery import ImageSource, gallery_figure
    from lunet.report.summary import summary_series

    sources: dict[Path, ImageSource | None] = {}
    for directory in {d for d in data_dirs if d.is_dir()}:
        try:
            sources[directory] = ImageSource(directory)
        except ValueError as err:
            logger.warning("no gallery images from %s: %s", directory, err)
            sources[directory] = None
    run_source = {id(run): sources.get(d) for run, d in zip(runs, data_dirs)}
    shown = summary_series(series)
    png, notes = gallery_figure(shown, [run_source[id(s.run)] for s in shown])
    sections = ['<h2 id="gallery">Worst, median and best cases (as Fig. 2 of LU-Net)</h2>']
    sections.append(
        _figure_section(
            "Worst, median and best case of each model",
            png,
            "gallery",
            "Ranked by LV_Epi Hausdorff distance d_H (mean Dice where d_H is missing). "
            "Prediction: LV_Endo green, LV_Epi purple; reference: LV_Endo yellow, LV_Epi cyan; "
            "predicted box red.",
        )
    )
    if len(shown) > 1:
        png, more = comparison_figure(shown, [run_source[id(s.run)] for s in shown])
        notes += more
        sections.append(
            _figure_section(
                f"Side by side: {shown[0].label} vs {shown[-1].label}"
                + (" (and the models between)" if len(shown) > 2 else ""),
                png,
                "side-by-side comparison",
                "As Fig. 2 of LU-Net: (a) the image where the first and last models' LV_Epi d_H differ "
                "least, (b) where the last model gains most, (c) the last model's worst image.",
            )
        )
    if notes:
        sections.append(
            f"<details><summary>Gallery notes ({len(notes)})</summary>"
            + '<ul class="note">'
            + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
            + "</ul></details>"
        )
    return sections


def _interval_level(run_dir: Path) -> float | None:
    """The nominal level (0–1) of the intervals in a run's ``clinical.csv``: that of the calibration the
    evaluation applied (:func:`lunet.evaluation.interval_calibration.run_intervals`: ``RUN/calibration.json``,
    or the folds' of a gathered cross-validation); None without one, or when it cannot be read (logged)."""
    from lunet.evaluation.interval_calibration import run_intervals

    try:
        found = run_intervals(run_dir)
    except (OSError, ValueError) as err:
        logger.warning("%s: the intervals' level is not known (%s)", run_dir, err)
        return None
    if found is None:
        return None
    calibration = found[0]
    calibrations = list(calibration.values()) if isinstance(calibration, Mapping) else [calibration]
    levels = {float(c.level) for c in calibrations}
    return levels.pop() if len(levels) == 1 else None


def interval_caption(levels: dict[str, float | None]) -> str:
    """The clinical figure's sentence on its interval bars, with each level as a number.

    Args:
        levels: ``{series label: nominal level (0–1), None when not known}`` of the series whose records
            hold intervals (an empty dict: no series has one).
    """
    if not levels:
        return "No interval bars: no run has EF/EDV/ESV intervals (`lunet calibrate` writes them)."
    found = set(levels.values())
    if len(found) == 1 and None not in found:
        what = f"Vertical bars: each patient's split-conformal {level_percent(found.pop())} interval"
    else:
        each = "; ".join(
            f"{k}: {level_percent(v) if v is not None else 'not found'}" for k, v in levels.items()
        )
        what = (
            f"Vertical bars: each patient's split-conformal interval at its run's calibration level ({each})"
        )
    return f"{what} (`lunet calibrate`), with how many of them contain the reference."


def _clinical_sections(series: list[Series], runs: list[RunData]) -> list[str]:
    """EDV, ESV, EF: correlation and Bland–Altman against the reference of each run, with the intervals of
    calibrated runs at their level."""
    from lunet.report.plots import clinical_figure, clinical_intervals

    plotted = [(s, s.run.tables["clinical_reference"]) for s in series]
    references = "; ".join(f"{s.label}: {ref or 'none'}" for s, ref in plotted)
    conventions = sorted({str(run.tables["table3"]["ef_convention"]) for run in runs})
    drawn = [(s, clinical_intervals(s.clinical)) for s, ref in plotted if ref]
    levels = {s.label: _interval_level(s.run.run_dir) for s, bounds in drawn if bounds is not None}
    return [
        '<h2 id="clinical">Clinical indices</h2>',
        _figure_section(
            "EDV, ESV, EF: correlation and Bland–Altman (good + medium quality patients, as Table III)",
            clinical_figure(
                [(s.label, s.clinical_pairs(ref)) for s, ref in plotted if ref],
                [bounds for _, bounds in drawn],
                [levels.get(s.label) for s, _ in drawn],
            ),
            "clinical agreement",
            "Simpson's biplane volumes from the predicted 2CH and 4CH LV masks of the good + medium quality "
            f"patients (Table III's set) against the reference ({references}; truth = analytic phantom "
            "values, cfg = Info_*.cfg values, simpson = the same rule on the reference masks); one colour "
            "per model. Solid line: bias; dashed: bias ± 1.96 SD. Simpson convention: "
            f"{', '.join(conventions)}; 95 % bootstrap confidence intervals of corr and MAE: Table III. "
            + interval_caption(levels),
        ),
    ]


def _distance_sections(series: list[Series], runs: list[RunData]) -> list[str]:
    """d_m / d_H box plots and the outlier counts."""
    from lunet.report.plots import distance_boxplots, outlier_figure

    return [
        '<h2 id="distances">Segmentation distances and outliers</h2>',
        _figure_section(
            "d_m and d_H per model (all patients, as Table IV)",
            distance_boxplots(
                [(s.label, s.per_image) for s in series], geometric_bounds(runs[0].tables["thresholds"])
            ),
            "distance box plots",
            "Over all evaluated images of all patients (Table IV's set; both views, ED and ES); mm. "
            f"Red lines: the geometric bounds of {runs[0].label}'s evaluation.",
        ),
        _figure_section(
            "Outlier images (all patients, as Table IV)",
            outlier_figure([(s.label, *s.outliers) for s in series]),
            "outlier counts",
            "Images flagged in each run's evaluation/per_image.csv, the papers' count: geometric = a d_m or "
            "d_H of LV_Endo or LV_Epi out of bounds; anatomical = Sp or Cx below its bound; both = the two "
            "on the same image. Per-patient counts (LU-Net's written rule) are in Tables II and IV.",
        ),
    ]


def _method_section(runs: list[RunData], data_dirs: list[Path]) -> str:
    """Outlier bounds and the runs' configs, under ``<details>``."""
    return (
        '<h2 id="method">Method and runs</h2>'
        '<details id="thresholds"><summary>Outlier bounds and rules</summary>'
        + thresholds_html(runs)
        + "</details>"
        + '<details id="configs"><summary>Runs and their configs</summary>'
        + _runs_table(runs, data_dirs)
        + "</details>"
    )


def write_report(runs: list[Path], out_html: Path, data_dir: Path | None = None) -> Path:
    """Write one self-contained HTML report comparing ``runs``.

    Args:
        runs: run folders (``config.json``, ``evaluation/``, ``predictions/``); evaluated first when
            ``evaluation/`` is missing.
        out_html: the HTML file to write (atomically).
        data_dir: CAMUS-layout folder with the images and reference labels for the gallery; default: the
            ``data`` entry of each run's config.

    Returns:
        ``out_html``.

    Raises:
        ReportInputError: no runs, or a run folder that does not exist.
        lunet.evaluation.schema.SchemaError: evaluation files of another schema version.
    """
    from lunet.io import write_text_atomic

    if not runs:
        raise ReportInputError("lunet report: give at least one run folder")
    paths = [Path(r) for r in runs]
    for run in paths:
        if not run.is_dir():
            raise ReportInputError(f"{run}: run folder not found")
        ensure_evaluation(run)
    loaded = [load_run(run, label) for run, label in zip(paths, unique_labels(paths))]
    data_dirs = [Path(data_dir) if data_dir else run.settings.data for run in loaded]
    text = build_html(loaded, data_dirs)
    out_html = Path(out_html)
    write_text_atomic(out_html, text)
    logger.info("wrote %s (%.1f MB)", out_html, out_html.stat().st_size / 1e6)
    return out_html


__all__ = ["ReportInputError", "build_html", "ensure_evaluation", "write_report"]
