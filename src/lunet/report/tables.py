"""The paper's Tables I–IV (and the quality strata, and "ours vs paper") for several runs, as HTML.

The cells come from :func:`lunet.evaluation.display.display_tables`, the formatting ``tables.md`` uses; the
report adds a ``run`` column and puts the rows of every run in one table.
"""

from __future__ import annotations

import html

from lunet.evaluation.display import DisplayTable, display_tables


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


def tables_html(runs: list[tuple[str, dict]]) -> str:
    """HTML with every table of :func:`merged_tables`; a note where no run has rows."""
    parts = []
    for table in merged_tables(runs):
        parts.append(f"<h3>{html.escape(table.title)}</h3>")
        if table.key == "paper":
            notes = dict.fromkeys(str(tables["paper"]["note"]) for _, tables in runs)
            parts.append("".join(f'<p class="note">{html.escape(n)}</p>' for n in notes))
        if not table.rows:
            parts.append('<p class="note">No run has rows in this table.</p>')
            continue
        head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table.rows
        )
        parts.append(f'<table class="paper" id="{table.key}"><thead><tr>{head}</tr></thead>')
        parts.append(f"<tbody>{body}</tbody></table>")
    return "\n".join(parts)
