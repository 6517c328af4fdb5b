"""The report's outlier-bounds section: the bounds each run's evaluation used (its ``tables.json``)."""

from __future__ import annotations

import html

from lunet.report.readers import RunData

RULES = (
    "<p>Geometric outlier, per image (the papers' published count): a d_m or d_H of LV_Endo or LV_Epi "
    "above the bound of its instant; per patient (LU-Net's written rule): one of the eight d_m / d_H of a "
    "structure "
    "(ED and ES, 2CH and 4CH) above its bound, reported for LV_Endo, LV_Epi and either. Anatomical outlier, "
    'per image: simplicity Sp or convexity Cx of the predicted LV cavity or of the "Myo" structure below '
    'its bound (what "Myo" was measured on, and where each run\'s bounds come from, is stated below). '
    "Geometric bounds: RU-Net (IUS 2019) Table I.</p>"
)


def geometric_bounds(thresholds: dict) -> dict[str, tuple[float, float]]:
    """``{"mad_mm": (ED, ES), "hd_mm": (ED, ES)}`` from ``tables.json["thresholds"]``, for the box plots."""
    return {m: (float(thresholds[f"ed_{m}"]), float(thresholds[f"es_{m}"])) for m in ("mad_mm", "hd_mm")}


def thresholds_html(runs: list[RunData]) -> str:
    """HTML of the rules and of each distinct set of bounds, with the runs that used it."""
    groups: list[tuple[dict, str, list[str]]] = []
    for run in runs:
        bounds, text = run.tables["thresholds"], str(run.tables["thresholds_text"])
        for group in groups:
            if group[0] == bounds:
                group[2].append(run.label)
                break
        else:
            groups.append((bounds, text, [run.label]))
    parts = [RULES]
    for bounds, text, labels in groups:
        cells = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_plain(v))}</td></tr>"
            for k, v in bounds.items()
        )
        parts.append(
            f'<div class="thresholds"><p>Runs: {html.escape(", ".join(labels))} — {html.escape(text)}</p>'
            f"<table><tbody>{cells}</tbody></table></div>"
        )
    return "".join(parts)


def _plain(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
