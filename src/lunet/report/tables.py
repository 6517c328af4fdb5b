"""The paper's Tables I–IV (and the quality strata, and "ours vs paper") for several runs, as HTML.

The cells come from :func:`lunet.evaluation.display.display_tables`, the formatting ``tables.md`` uses; the
report adds a ``run`` column and puts the rows of every run in one table.
"""

from __future__ import annotations

import html

from lunet.evaluation.display import DisplayTable, display_tables, number

#: Column names of the papers' metrics (``tables.json["paper"]["rows"][i]["metric"]``) in the comparison.
METRIC_NAMES = {
    "iou.mean": "IoU", "xc_mm.mean": "x_c", "yc_mm.mean": "y_c", "h_mm.mean": "h", "w_mm.mean": "w",
    "bb_out.percent": "BB out %", "geometric_images.percent": "geo. img %",
    "anatomical_images.percent": "ana. img %", "both_images.percent": "both img %",
}  # fmt: skip
STRUCTURES = {"lv_endo": "Endo", "lv_epi": "Epi"}
MEASURES = {"dice": "D", "mad_mm": "d_m", "hd_mm": "d_H"}
CLINICAL = {"edv_ml": "EDV", "esv_ml": "ESV", "ef_percent": "EF"}
PARTS = {"corr": "corr", "bias": "bias", "loa": "1.96 SD", "mae": "MAE"}
LEGEND = (
    "Cells: ours / paper (paper alone where we have no such number). D = Dice; d_m, d_H = mean and Hausdorff "
    "distance (mm); x_c, y_c, h, w = box centre, height and width errors (mm); geo./ana./both img % = "
    "geometric / anatomical / both outlier images (% of images); EDV, ESV (ml), EF (%): corr = Pearson "
    "correlation, bias and 1.96 SD = limits of agreement, MAE = mean absolute error."
)


def merged_tables(runs: list[tuple[str, dict]]) -> list[DisplayTable]:
    """One table per key over all runs, rows prefixed by the run label.

    Args:
        runs: ``(run label, tables.json dict)`` per run.
    """
    per_run = [(label, display_tables(tables)) for label, tables in runs]
    merged = []
    for index, first in enumerate(per_run[0][1]):
        rows, header = [], first.header
        for label, tables in per_run:
            table = tables[index]
            if table.header != header:  # e.g. "ours vs paper" with and without our column
                header = max(header, table.header, key=len)
            rows += [[label, *row] for row in table.rows]
        width = len(header) + 1
        merged.append(
            DisplayTable(
                first.key, first.title, ["run", *header], [r + [""] * (width - len(r)) for r in rows]
            )
        )
    return merged


def metric_name(metric: str) -> str:
    """Short column name of a published metric (``lv_endo_hd_mm.mean`` → ``Endo d_H``)."""
    if metric in METRIC_NAMES:
        return METRIC_NAMES[metric]
    name, _, part = metric.replace(" ", ".").partition(".")
    for prefix, short in STRUCTURES.items():
        if name.startswith(prefix + "_") and name[len(prefix) + 1 :] in MEASURES:
            suffix = "" if part == "mean" else f" {part}"
            return f"{short} {MEASURES[name[len(prefix) + 1 :]]}{suffix}"
    if name in CLINICAL and part in PARTS:
        return f"{CLINICAL[name]} {PARTS[part]}"
    return metric


def _digits(metric: str) -> int:
    return 3 if metric.endswith(("corr", "iou.mean")) or "dice" in metric else 1


def comparison_tables(runs: list[tuple[str, dict]]) -> list[DisplayTable]:
    """One wide table per published table: rows the papers' models, columns their metrics, cells
    ``ours / paper`` (the paper's figure alone where ``ours`` is null: synthetic data, or not evaluated).

    Every run's ``tables.json["paper"]`` rows are merged: a figure appears once, with the first run's number
    that has one. The row name gives our model in brackets.
    """
    cells: dict[str, dict[str, dict[str, str]]] = {}
    columns: dict[str, list[str]] = {}
    ours_of: dict[tuple[str, str], str] = {}
    for _, tables in runs:
        for row in tables["paper"]["rows"]:
            source, model, metric = str(row["source"]), str(row["paper_model"]), str(row["metric"])
            table = cells.setdefault(source, {})
            metrics = columns.setdefault(source, [])
            if metric not in metrics:
                metrics.append(metric)
            digits = _digits(metric)
            paper = number(row["paper"], digits)
            text = paper if row["ours"] is None else f"{number(row['ours'], digits)} / {paper}"
            current = table.setdefault(model, {})
            if metric not in current or (row["ours"] is not None and "/" not in current[metric]):
                current[metric] = text
            if row.get("model"):
                ours_of.setdefault((source, model), str(row["model"]))
    out = []
    for source, table in cells.items():
        header = ["paper model", *(metric_name(m) for m in columns[source])]
        rows = [
            [model + (f" ({ours_of[(source, model)]})" if (source, model) in ours_of else "")]
            + [values.get(m, "") for m in columns[source]]
            for model, values in table.items()
        ]
        out.append(DisplayTable("paper", source, header, rows))
    return out


def comparison_html(runs: list[tuple[str, dict]]) -> str:
    """The papers' tables beside ours (:func:`comparison_tables`), once for all runs, with the legend."""
    tables = comparison_tables(runs)
    notes = dict.fromkeys(str(t["paper"]["note"]) for _, t in runs)
    parts = [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    if not tables:
        return "".join(parts) + '<p class="note">No published figure matches an evaluated model.</p>'
    parts.append(f'<p class="note legend">{html.escape(LEGEND)}</p>')
    for index, table in enumerate(tables):
        parts.append(f"<h3>{html.escape(table.title)}</h3>")
        parts.append(_table_html(table, f"paper-{index + 1}", "paper"))
    return "\n".join(parts)


def _table_html(table: DisplayTable, table_id: str, css_class: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    cls = f' class="{css_class}"' if css_class else ""
    return (
        f'<div class="wrap"><table{cls} id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _stratum_size(table: DisplayTable, row: list[str]) -> int | None:
    try:
        return int(row[table.header.index("patients")])
    except (ValueError, IndexError):
        return None


def tables_html(runs: list[tuple[str, dict]]) -> str:
    """Our Tables I–IV (every run's rows in one table per key), LU-Net's coarse output (``-o1`` rows) and the
    quality strata folded under ``<details>``; strata of fewer than ``MIN_STRATUM_PATIENTS`` patients are
    collapsed into one line per table."""
    from lunet.evaluation.display import MIN_STRATUM_PATIENTS

    main, strata = [], []
    for table in merged_tables(runs):
        if table.key == "paper":
            continue
        parts = [f"<h3>{html.escape(table.title)}</h3>"]
        coarse = [r for r in table.rows if r[1].endswith("-o1")]
        final = [r for r in table.rows if not r[1].endswith("-o1")]
        if table.key.endswith("_quality"):
            small = [r for r in table.rows if (_stratum_size(table, r) or 0) < MIN_STRATUM_PATIENTS]
            kept = [r for r in final if r not in small]
            coarse = [r for r in coarse if r not in small]
            if small:
                listed = ", ".join(dict.fromkeys(f"{r[1]} {r[2]} ({_stratum_size(table, r)})" for r in small))
                parts.append(
                    f'<p class="note">Strata of fewer than {MIN_STRATUM_PATIENTS} patients, not shown: '
                    f"{html.escape(listed)}.</p>"
                )
            final = kept
        if not final and not coarse:
            parts.append('<p class="note">No run has rows in this table.</p>')
        if final:
            parts.append(_table_html(DisplayTable(table.key, table.title, table.header, final), table.key))
        if coarse:
            parts.append(
                f"<details><summary>LU-Net's coarse output (o1), {len(coarse)} row(s)</summary>"
                + _table_html(DisplayTable(table.key, table.title, table.header, coarse), f"{table.key}-o1")
                + "</details>"
            )
        (strata if table.key.endswith("_quality") else main).append("".join(parts))
    folded = (
        '<details id="strata"><summary>Tables II and III per image quality (Good, Medium, Poor)</summary>'
        + "\n".join(strata)
        + "</details>"
    )
    return "\n".join(main) + "\n" + folded
