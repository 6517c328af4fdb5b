"""The papers' published CAMUS figures, and "ours vs paper" beside our tables.

Sources (read from the papers' text; where their tables are scrambled, our reading is stated here):
LU-Net (Leclerc et al., TUFFC 2020) Tables I–IV and Sec. V-D; RU-Net (Leclerc et al., IUS 2019) Table II;
the CAMUS U-Net1 row (Leclerc et al., TMI 2019, online test set of 50 patients, per instant). Means only
(the tables print mean ± SD); outlier percentages are ``count / images`` (LU-Net Table II: 1624 images of
406 patients, Table IV and RU-Net Table II: 2000 images), which is how the papers count them
(:mod:`lunet.evaluation.outliers`). LU-Net Table II's LU-Net-m5 row is scrambled in the extraction; we read
it as LV_Endo D 0.932, d_m 1.7, d_H 5.5 and LV_Epi D 0.953, d_m 1.5, d_H 5.1 (the text quotes 1.5 / 5.1
mm and 11 % outliers for LV_Epi); its LU-Net-m15 row is unreadable and left out.

A figure is compared (``ours``, ``difference`` = ours − paper) only on CAMUS data; on synthetic data the
published figures are listed as reference only (``ours`` and ``difference`` null).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lunet.boxes import DEFAULT_BOX_MARGIN

LUNET = "LU-Net (TUFFC 2020)"
RUNET = "RU-Net (IUS 2019)"
CAMUS = "CAMUS (TMI 2019), test set of 50 patients"


@dataclass(frozen=True)
class PublishedFigure:
    """One published number: ``table`` is our table it compares with, ``metric`` a path into its row
    (``lv_endo_dice.mean``, ``geometric_images.percent``, ``ef_percent.corr``, ``edv_ml.loa`` = 1.96·SD)."""

    source: str
    table: str
    model: str
    metric: str
    value: float


def _rows(source: str, table: str, metrics: Sequence[str], rows: Mapping[str, Sequence[float]]):
    return [
        PublishedFigure(source, table, model, metric, float(value))
        for model, values in rows.items()
        for metric, value in zip(metrics, values)
        if value is not None
    ]


def _pct(count: int, total: int) -> float:
    return 100.0 * count / total


_T1 = ("iou.mean", "xc_mm.mean", "yc_mm.mean", "h_mm.mean", "w_mm.mean", "bb_out.percent")
_T2 = tuple(f"{s}_{m}.mean" for s in ("lv_endo", "lv_epi") for m in ("dice", "mad_mm", "hd_mm"))
_T3 = tuple(f"{i}.{m}" for i in ("edv_ml", "esv_ml", "ef_percent") for m in ("corr", "bias", "loa", "mae"))
_T4 = (*(f"{s}_{m}.mean" for s in ("lv_endo", "lv_epi") for m in ("mad_mm", "hd_mm")),
       "geometric_images.percent", "anatomical_images.percent", "both_images.percent")  # fmt: skip

#: Every published figure lunet compares with.
PUBLISHED: tuple[PublishedFigure, ...] = tuple(
    _rows(f"{LUNET} Table I", "table1", _T1, {
        "AlexNet-m5": (0.880, 2.2, 1.9, 4.2, 4.1, _pct(866, 2000)),
        "VGG-m5": (0.888, 1.9, 1.7, 4.0, 4.0, _pct(903, 2000)),
        "U-L1-m5": (0.849, 3.1, 2.7, 5.3, 4.9, _pct(1094, 2000)),
        "U-L2-mo-m5": (0.791, 4.2, 4.4, 7.1, 6.9, _pct(1393, 2000)),
        "U-L2-mu-m5": (0.898, 1.6, 1.9, 3.2, 3.6, _pct(712, 2000)),
        "U-L2-mu-m15": (0.907, 1.6, 1.7, 3.7, 4.3, _pct(31, 2000)),
    })
    + _rows(f"{LUNET} Sec. V-D", "table1", _T1[:5], {"LU-Net-m5": (0.906, 1.5, 1.5, 3.3, 3.5)})
    + _rows(f"{LUNET} Table II", "table2", (*_T2, "geometric_images.percent"), {
        "intra-observer": (0.937, 1.4, 4.5, 0.954, 1.7, 5.0, _pct(21, 160)),
        "BB-m5": (0.941, 1.3, 4.3, 0.971, 1.0, 4.1, _pct(89, 1624)),
        "BB-m15": (0.940, 1.3, 4.4, 0.969, 1.1, 4.3, _pct(106, 1624)),
        "BB-m30": (0.937, 1.4, 4.7, 0.966, 1.2, 4.6, _pct(124, 1624)),
        "U-Net1": (0.920, 1.7, 5.6, 0.947, 1.9, 6.2, None),
        "RU-Net": (0.925, 1.7, 5.4, 0.950, 1.8, 5.8, _pct(240, 1624)),
        "AG-U-Net": (0.930, 1.5, 5.3, 0.950, 1.8, 5.9, _pct(270, 1624)),
        "LU-Net-m5": (0.932, 1.7, 5.5, 0.953, 1.5, 5.1, 11.0),
    })
    + _rows(f"{LUNET} Table III", "table3", _T3, {
        "intra-observer": (0.978, -2.8, 14.3, 6.2, 0.981, -0.1, 11.4, 4.5, 0.896, -2.3, 11.2, 4.5),
        "U-Net1": (0.947, -8.3, 24.7, 10.9, 0.955, -4.9, 19.4, 8.2, 0.791, -0.5, 15.1, 5.6),
        "RU-Net": (0.946, -1.2, 23.9, 8.9, 0.949, 0.3, 19.6, 7.3, 0.704, -2.1, 14.3, 6.0),
        "AG-U-Net": (0.956, -1.4, 21.9, 8.1, 0.962, 0.6, 17.0, 6.2, 0.798, -2.2, 15.1, 5.5),
        "LU-Net-m5": (0.956, 1.4, 21.8, 8.3, 0.956, 1.6, 18.0, 7.0, 0.829, -1.5, 13.5, 5.0),
        "LU-Net-m15": (0.952, 2.4, 22.9, 8.1, 0.962, 1.8, 16.7, 6.5, 0.821, -1.2, 13.7, 5.0),
    })
    + _rows(f"{LUNET} Table IV", "table4", _T4, {
        "U-Net1": (2.0, 6.1, 2.0, 6.5, _pct(423, 2000), _pct(95, 2000), _pct(71, 2000)),
        "LU-Net-m5-o1": (2.1, 7.0, 1.9, 6.2, _pct(483, 2000), _pct(201, 2000), _pct(138, 2000)),
        "LU-Net-m5": (1.8, 5.7, 1.6, 5.3, _pct(240, 2000), _pct(31, 2000), _pct(20, 2000)),
    })
    + _rows(f"{RUNET} Table II", "table4", (*_T4[:6],), {
        "U-Net1": (1.8, 5.8, 2.0, 6.2, _pct(396, 2000), _pct(95, 2000)),
        "SHG": (1.8, 5.9, 2.0, 6.2, _pct(425, 2000), _pct(47, 2000)),
        "RU-Net": (1.8, 5.7, 1.9, 6.1, _pct(320, 2000), _pct(23, 2000)),
    })
    + _rows(CAMUS, "table3", ("ef_percent.corr", "ef_percent.bias", "ef_percent.loa"), {
        "U-Net1": (0.845, 0.1, 1.96 * 7.3),
    })
    + _rows(CAMUS, "per instant", (
        "lv_endo_dice ED", "lv_endo_dice ES", "lv_endo_mad_mm ED", "lv_endo_mad_mm ES",
        "lv_endo_hd_mm ED", "lv_endo_hd_mm ES", "lv_epi_dice ED", "lv_epi_dice ES",
    ), {"U-Net1": (0.936, 0.912, 1.7, 1.7, 5.3, 5.5, 0.956, 0.946)})
)  # fmt: skip

#: lunet model names → the papers' names (``{m}``: the box margin in %).
PAPER_NAMES = {
    "unet1": "U-Net1", "runet": "RU-Net", "agunet": "AG-U-Net", "shg": "SHG", "lunet": "LU-Net-m{m}",
    "lunet-o1": "LU-Net-m{m}-o1", "ul1": "U-L1-m{m}", "ul2": "U-L2-mu-m{m}", "alexnet-loc": "AlexNet-m{m}",
    "vgg-loc": "VGG-m{m}", "unet1-oracle": "BB-m{m}",
}  # fmt: skip
#: Rows shown whatever was evaluated (the papers' human reference).
ALWAYS = ("intra-observer",)


def paper_name(model: str, margin: float = DEFAULT_BOX_MARGIN) -> str:
    """The papers' name of a lunet table row (``lunet-o2`` → ``LU-Net-m5``; ``BB-m15`` unchanged)."""
    base = model.removesuffix("-o2")
    return PAPER_NAMES.get(base, base).format(m=round(100 * margin))


def _value(row: Mapping[str, object], metric: str) -> float:
    name, _, part = metric.partition(".")
    cell = row.get(name)
    if not isinstance(cell, Mapping):
        return math.nan
    value = 1.96 * float(cell.get("sd") or math.nan) if part == "loa" else cell.get(part)
    return math.nan if value is None else float(value)


def _our_row(tables: Mapping[str, object], table: str, model: str) -> Mapping[str, object] | None:
    block = tables.get(table)
    rows = [r for r in block.get("rows", []) if r.get("model") == model] if isinstance(block, Mapping) else []
    if table == "table3":  # against the experts' values (cfg) where the data has them
        by_reference = {r["reference"]: r for r in rows}
        return by_reference.get("cfg") or by_reference.get("simpson")
    return rows[0] if rows else None


def paper_comparison(tables: Mapping[str, object], margin: float = DEFAULT_BOX_MARGIN) -> dict[str, object]:
    """The published figures of the evaluated models (and the intra-observer rows) beside ours.

    Args:
        tables: :func:`lunet.evaluation.tables.build_tables` output (``synthetic`` decides comparability).
        margin: box margin of the run (``lunet`` → ``LU-Net-m5`` or ``-m15``).

    Returns:
        ``{"comparable": bool, "note": str, "rows": [{"source", "table", "paper_model", "model", "metric",
        "paper", "ours", "difference"}]}``; ``ours`` and ``difference`` are None on synthetic data or where
        we have no such number.
    """
    comparable = not tables.get("synthetic")
    ours_by_name: dict[str, str] = {}
    for key in ("table1", "table2", "table4"):
        block = tables.get(key)
        for row in block.get("rows", []) if isinstance(block, Mapping) else []:
            ours_by_name.setdefault(paper_name(str(row["model"]), margin), str(row["model"]))
    rows = []
    for figure in PUBLISHED:
        model = ours_by_name.get(figure.model)
        if model is None and figure.model not in ALWAYS:
            continue
        ours = math.nan
        if comparable and model is not None:
            row = _our_row(tables, figure.table, model)
            ours = _value(row, figure.metric) if row is not None else math.nan
        known = math.isfinite(ours)
        rows.append({
            "source": figure.source, "table": figure.table, "paper_model": figure.model, "model": model,
            "metric": figure.metric, "paper": figure.value, "ours": ours if known else None,
            "difference": ours - figure.value if known else None,
        })  # fmt: skip
    note = (
        "CAMUS data: our figures beside the published ones; difference = ours − paper."
        if comparable
        else "SYNTHETIC data: the papers' CAMUS figures are listed as reference only, never compared."
    )
    return {"comparable": comparable, "note": note, "rows": rows}
