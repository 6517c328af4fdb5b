"""Tables I–IV as text cells: one formatting for ``tables.md`` and the HTML report.

:func:`display_tables` reads a ``tables.json`` dict by exact key (:mod:`lunet.evaluation.tables`) and gives
each table's title, header and text rows; :func:`tables_markdown` renders them as Markdown, and
:mod:`lunet.report.tables` as HTML with a run column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lunet.evaluation.tables import DIST_METRICS, LA_METRICS, SEG_METRICS, SYNTHETIC_NOTE

CLINICAL_NAMES = (("edv_ml", "EDV ml"), ("esv_ml", "ESV ml"), ("ef_percent", "EF %"))
#: Fewest patients for which a quality stratum of Table III shows a correlation and limits of agreement
#: (from 2–3 patients a correlation is ±1 by construction).
MIN_STRATUM_PATIENTS = 5
REFERENCE_NOTE = (
    "Table III references: simpson = Simpson's biplane on the reference masks (ours); cfg = values of the "
    "Info_*.cfg files; truth = analytic phantom values (synthetic data only)."
)
OUTLIER_NOTE = (
    "Outliers: images = the papers' published column (an image with a d_m or d_H of LV_Endo or LV_Epi out of "
    "bounds; the papers' counts are fractions of images); patients = LU-Net's written rule (one of the eight "
    "d_m / d_H of a structure at ED and ES, 2CH and 4CH out of bounds), per structure and either."
)


@dataclass(frozen=True)
class DisplayTable:
    """One table as text: ``key`` of ``tables.json``, title, column names and rows of cells."""

    key: str
    title: str
    header: list[str]
    rows: list[list[str]]


def number(value: object, digits: int = 1) -> str:
    """A number with ``digits`` decimals; None / NaN as an en dash."""
    if value is None or not math.isfinite(float(value)):  # type: ignore[arg-type]
        return "–"
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def mean_sd(stat: Mapping[str, Any] | None, digits: int = 1) -> str:
    """``mean ± sd`` of a statistic cell (``mean`` alone when the SD is undefined)."""
    if not stat or stat.get("mean") is None or not math.isfinite(stat["mean"]):
        return "–"
    sd = stat.get("sd")
    text = number(stat["mean"], digits)
    return f"{text} ± {number(sd, digits)}" if sd is not None and math.isfinite(sd) else text


def count(stat: Mapping[str, Any] | None) -> str:
    """``count (percent %)`` of a count cell."""
    if not stat or not stat.get("total"):
        return "–"
    return f"{stat['count']} ({stat['percent']:.1f} %)"


def _ci(stat: Mapping[str, Any], name: str, digits: int) -> str:
    """Value of an agreement field, with its 95 % CI when the row holds ``{name}_ci`` = [low, high]."""
    text = number(stat.get(name), digits)
    ci = stat.get(f"{name}_ci")
    finite = isinstance(ci, Sequence) and len(ci) == 2 and all(number(v) != "–" for v in ci)
    if finite and text != "–":
        text += f" [{number(ci[0], digits)}, {number(ci[1], digits)}]"
    return text


def agreement_cells(stat: Mapping[str, Any], min_patients: int = 0) -> list[str]:
    """corr, loa (bias ± 1.96·SD) and MAE of an agreement cell, as the paper prints them.

    With fewer than ``min_patients`` pairs (the cell's ``n``), corr and loa read ``— (n=3)``; the MAE stays.
    """
    n = stat.get("n")
    if n is not None and n < min_patients:
        return [f"— (n={n})", f"— (n={n})", _ci(stat, "mae", 1)]
    bias, sd = stat.get("bias"), stat.get("sd")
    loa = f"{number(bias)} ± {number(1.96 * sd)}" if bias is not None and sd is not None else "–"
    return [_ci(stat, "corr", 3), loa, _ci(stat, "mae", 1)]


_SEG_HEADER = ["Endo D", "Endo d_m mm", "Endo d_H mm", "Epi D", "Epi d_m mm", "Epi d_H mm"]
_GEO_HEADER = ["geo. images (paper)", "geo. patients Endo", "geo. patients Epi", "geo. patients either"]
_GEO_KEYS = (
    "geometric_images",
    "geometric_lv_endo_patients",
    "geometric_lv_epi_patients",
    "geometric_patients",
)


def _lead(row: Mapping[str, Any]) -> list[str]:
    return [str(row["model"])] + ([str(row["quality"])] if "quality" in row else []) + [str(row["patients"])]


def _lead_header(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return ["model"] + (["quality"] if rows and "quality" in rows[0] else []) + ["patients"]


def _table1(block: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["model", "patients", "IoU", "x_c mm", "y_c mm", "h mm", "w mm", "BB out (images)"]
    rows = [[*_lead(r), mean_sd(r["iou"], 3), *(mean_sd(r[k]) for k in ("xc_mm", "yc_mm", "h_mm", "w_mm")),
             count(r["bb_out"])] for r in block["rows"]]  # fmt: skip
    return header, rows


def _table2(block: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    rows = [
        [*_lead(r), *(mean_sd(r[m], 3 if m.endswith("dice") else 1) for m in SEG_METRICS),
         *(count(r[k]) for k in _GEO_KEYS)]
        for r in block["rows"]
    ]  # fmt: skip
    return [*_lead_header(block["rows"]), *_SEG_HEADER, *_GEO_HEADER], rows


def _table3(block: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Table III; in its quality strata, corr and loa of fewer than MIN_STRATUM_PATIENTS patients read "—"."""
    head = _lead_header(block["rows"])
    header = [*head[:-1], "reference", "patients"]
    header += [f"{name} {m}" for _, name in CLINICAL_NAMES for m in ("corr", "loa", "mae")]
    rows = []
    for r in block["rows"]:
        lead = _lead(r)
        cells = [*lead[:-1], str(r["reference"]), lead[-1]]
        least = MIN_STRATUM_PATIENTS if "quality" in r else 0
        rows.append(cells + [c for index, _ in CLINICAL_NAMES for c in agreement_cells(r[index], least)])
    return header, rows


def _table4(block: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["model", "patients", "Endo d_m mm", "Endo d_H mm", "Epi d_m mm", "Epi d_H mm", *_GEO_HEADER]
    header += ["ana. images (paper)", "ana. patients", "both images (paper)", "both patients"]
    keys = (*_GEO_KEYS, "anatomical_images", "anatomical_patients", "both_images", "both_patients")
    rows = [[*_lead(r), *(mean_sd(r[m]) for m in DIST_METRICS), *(count(r[k]) for k in keys)]
            for r in block["rows"]]  # fmt: skip
    return header, rows


def _table_la(block: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The left atrium (``table_la``): Dice, d_m, d_H of the LA and the agreement of its ES volume."""
    header = [*_lead_header(block["rows"]), "LA D", "LA d_m mm", "LA d_H mm"]
    header += ["LA ESV ml corr", "LA ESV ml loa", "LA ESV ml mae"]
    rows = [
        [*_lead(r), *(mean_sd(r[m], 3 if m.endswith("dice") else 1) for m in LA_METRICS),
         *agreement_cells(r["la_esv_ml"])]
        for r in block["rows"]
    ]  # fmt: skip
    return header, rows


_BUILDERS = {"table1": _table1, "table2": _table2, "table3": _table3, "table4": _table4,
             "table2_quality": _table2, "table3_quality": _table3, "table_la": _table_la}  # fmt: skip
TABLE_KEYS = tuple(_BUILDERS)


def paper_table(tables: Mapping[str, Any]) -> DisplayTable:
    """The "ours vs paper" table (:mod:`lunet.evaluation.paper`): reference only on synthetic data."""
    paper = tables["paper"]
    comparable = bool(paper["comparable"])
    header = ["source", "paper model", "metric", "paper"]
    if comparable:
        header += ["ours", "our model", "ours − paper"]
    rows = []
    for r in paper["rows"]:
        digits = 3 if r["metric"].endswith(("corr", "iou.mean")) or "dice" in r["metric"] else 1
        cells = [r["source"], r["paper_model"], r["metric"], number(r["paper"], digits)]
        if comparable:
            cells += [number(r["ours"], digits), r["model"] or "–", number(r["difference"], digits)]
        rows.append(cells)
    title = "Ours vs the papers (CAMUS)" if comparable else "The papers' CAMUS figures (reference only)"
    if not comparable:
        title += f" [{SYNTHETIC_NOTE}: not compared]"
    return DisplayTable("paper", title, header, rows)


def display_tables(tables: Mapping[str, Any]) -> list[DisplayTable]:
    """Every table of a ``tables.json`` dict as text cells, in report order (paper comparison last)."""
    out = []
    for key, build in _BUILDERS.items():
        header, rows = build(tables[key])
        out.append(DisplayTable(key, str(tables[key]["title"]), header, rows))
    return [*out, paper_table(tables)]


def tables_markdown(tables: Mapping[str, Any]) -> str:
    """Markdown of :func:`lunet.evaluation.tables.build_tables` output."""
    lines = ["# Evaluation tables", ""]
    if tables.get("synthetic"):
        lines += [
            f"**{SYNTHETIC_NOTE}.** These numbers are not comparable with the papers' CAMUS results.",
            "",
        ]
    lines += [f"Outlier thresholds: {tables['thresholds_text']}.", "", OUTLIER_NOTE, ""]
    for table in display_tables(tables):
        lines += [f"## {table.title}", ""]
        if table.key == "paper":
            lines += [tables["paper"]["note"], ""]
        if not table.rows:
            lines += ["(no data)", ""]
            continue
        lines += ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
        lines.append("")
    return "\n".join([*lines, REFERENCE_NOTE, ""])
