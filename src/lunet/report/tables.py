"""The paper's Tables I–IV for several runs side by side, as HTML, from each run's ``tables.json``.

``tables.json`` holds ``table1``..``table4``, each
``{"title", "rows": [{"model", <metric>: {"mean", "sd"}}]}`` (``docs/architecture.md``). Rows may nest
metrics (``{"LV_Endo": {"dice": {...}}}``); nested keys are joined into one column name.
Every run contributes its rows, prefixed by a ``run`` column.
"""

from __future__ import annotations

import html
import math

TABLE_KEYS = ("table1", "table2", "table3", "table4")
PAPER_TITLES = {
    "table1": "Table I — localization accuracy",
    "table2": "Table II — segmentation accuracy (good + medium quality)",
    "table3": "Table III — clinical metrics (good + medium quality)",
    "table4": "Table IV — segmentation accuracy and outliers (all patients)",
}


def format_number(value: float) -> str:
    """Numbers as the paper prints them: 3 decimals below 1, 2 below 10, else 1; NaN as an en dash."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if value is None or not math.isfinite(value):
        return "–"
    magnitude = abs(value)
    return f"{value:.3f}" if magnitude < 1 else f"{value:.2f}" if magnitude < 10 else f"{value:.1f}"


def _is_leaf(value: object) -> bool:
    """A cell value (number, text, or a dict such as ``{"mean", "sd"}``), not a group of metrics."""
    return not isinstance(value, dict) or not any(isinstance(v, dict) for v in value.values())


def format_cell(value: object) -> str:
    """One table cell as text: ``mean ± sd``, ``count (percent %)``, a number, or the text itself."""
    if isinstance(value, dict):
        if "mean" in value:
            text = format_number(_num(value["mean"]))
            return text + (f" ± {format_number(_num(value['sd']))}" if value.get("sd") is not None else "")
        count = next((value[k] for k in ("count", "n", "number") if k in value), None)
        percent = next((value[k] for k in ("percent", "pct", "%", "fraction_percent") if k in value), None)
        if count is not None and percent is not None:
            pct = _num(percent)
            return (
                f"{format_number(_num(count))} ({pct:.1f} %)"
                if math.isfinite(pct)
                else format_number(_num(count))
            )
        return ", ".join(f"{k}: {format_cell(v)}" for k, v in value.items())
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(format_cell(v) for v in value)
    return "" if value is None else str(value)


def _num(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def flatten_row(row: dict, prefix: str = "") -> dict[str, object]:
    """Nested metric groups joined into single column names (``"LV_Endo dice"``); leaves kept as they are.

    An agreement dict (``{"corr", "bias", "sd", "mae", ...}`` of Table III) becomes three columns like the
    paper's: ``<name> corr``, ``<name> loa`` (``bias ± 1.96·SD``) and ``<name> mae``.
    """
    flat: dict[str, object] = {}
    for key, value in row.items():
        name = f"{prefix} {key}".strip()
        if isinstance(value, dict) and "corr" in value and "mae" in value:
            bias, sd = _num(value.get("bias", value.get("mean"))), _num(value.get("sd"))
            flat[f"{name} corr"] = _num(value["corr"])
            finite = math.isfinite(bias) and math.isfinite(sd)
            flat[f"{name} loa"] = f"{format_number(bias)} ± {format_number(1.96 * sd)}" if finite else "–"
            flat[f"{name} mae"] = _num(value["mae"])
            for stat in ("corr", "mae"):  # 95 % bootstrap confidence intervals, when evaluated
                bounds = value.get(f"{stat}_ci")
                if isinstance(bounds, list) and len(bounds) == 2:
                    text = ", ".join(format_number(_num(b)) for b in bounds)
                    flat[f"{name} {stat} 95% CI"] = f"[{text}]"
        elif _is_leaf(value):
            flat[name] = value
        else:
            flat.update(flatten_row(value, name))
    return flat


#: Column-name pieces of ``lunet.evaluation`` and how the paper writes them.
PRETTY = (
    ("lv_endo_", "LV_Endo "), ("lv_epi_", "LV_Epi "), ("mad_mm", "d_m (mm)"), ("hd_mm", "d_H (mm)"),
    ("dice", "D"), ("edv_ml", "EDV (ml)"), ("esv_ml", "ESV (ml)"), ("ef_percent", "EF (%)"),
    ("geometric_outliers_", "geo. outliers "), ("anatomical_outliers_", "ana. outliers "),
    ("both_outliers_", "both outliers "), ("xc_mm", "x_c (mm)"), ("yc_mm", "y_c (mm)"), ("h_mm", "h (mm)"),
    ("w_mm", "w (mm)"), ("iou", "IoU"), ("bb_out", "BB out"), ("images", "(images)"),
    ("patients", "(patients)"),
)  # fmt: skip


def pretty(column: str) -> str:
    """A column name as the paper writes it (``lv_epi_hd_mm`` → ``LV_Epi d_H (mm)``); others unchanged."""
    if column in ("patients", "model", "reference"):
        return column
    for raw, nice in PRETTY:
        column = column.replace(raw, nice)
    return column


def merged_table(runs: list[tuple[str, dict]], key: str) -> tuple[str, list[str], list[list[str]]]:
    """Title, header and text rows of one table over all runs (runs without it are skipped).

    Args:
        runs: ``(run label, tables.json dict)`` per run. key: ``"table1"`` .. ``"table4"``.
    """
    title = PAPER_TITLES.get(key, key)
    columns: list[str] = []
    flat_rows: list[tuple[str, dict[str, object]]] = []
    for label, tables in runs:
        table = tables.get(key)
        if not isinstance(table, dict):
            continue
        if table.get("title"):
            title = str(table["title"])
        for row in table.get("rows", []):
            flat = flatten_row(row) if isinstance(row, dict) else {"value": row}
            flat_rows.append((label, flat))
            columns.extend(c for c in flat if c not in columns)
    if "model" in columns:
        columns.remove("model")
        columns.insert(0, "model")
    body = [[label] + [format_cell(flat.get(c)) for c in columns] for label, flat in flat_rows]
    return title, ["run", *(pretty(c) for c in columns)], body


def tables_html(runs: list[tuple[str, dict]]) -> str:
    """HTML ``<section>`` with Tables I–IV for all runs; a note where no run has a table."""
    parts = []
    for key in TABLE_KEYS:
        title, header, body = merged_table(runs, key)
        parts.append(f"<h3>{html.escape(title)}</h3>")
        if not body:
            parts.append('<p class="note">No run has this table in its evaluation/tables.json.</p>')
            continue
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
        parts.append(
            f'<table class="paper" id="{key}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        )
    return "\n".join(parts)
