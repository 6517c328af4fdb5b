"""Fig. 2 of LU-Net (TUFFC 2020) for any two or more models: the same images side by side.

The paper shows U-Net1 and LU-Net on three cases: (a) similar results, (b) where the localization helps,
(c) where the image is too hard for any improvement. With the LV_Epi Hausdorff distance d_H (mm) of the
*first* series ``A`` and the *last* series ``B`` on the images both have scored, we pick
(a) the smallest ``|d_H(A) − d_H(B)|``, (b) the largest ``d_H(A) − d_H(B)`` (B better) and (c) the largest
``d_H(B)`` (B's worst), each a different image (ties broken by patient, view, instant).
"""

from __future__ import annotations

import math

import numpy as np

from lunet.evaluation.schema import ImageRecord
from lunet.report.gallery import ImageSource, add_legend, draw_panel, trained_atrium

CASE_NAMES = ("(a) similar", "(b) last model better", "(c) hardest for the last model")

Key = tuple[str, str, str]


def _epi_hd(per_image: list[ImageRecord]) -> dict[Key, float]:
    return {row.key: row.lv_epi_hd_mm for row in per_image if math.isfinite(row.lv_epi_hd_mm)}


def comparison_cases(first: list[ImageRecord], last: list[ImageRecord]) -> list[tuple[str, Key]]:
    """The three cases of the module docstring as ``(case name, (patient, view, instant))``.

    Args:
        first, last: image records of the first and last series.

    Returns:
        Up to three distinct cases (fewer when fewer images are scored by both).
    """
    a, b = _epi_hd(first), _epi_hd(last)
    common = sorted(set(a) & set(b))
    rankings = (
        sorted(common, key=lambda k: (abs(a[k] - b[k]), k)),
        sorted(common, key=lambda k: (-(a[k] - b[k]), k)),
        sorted(common, key=lambda k: (-b[k], k)),
    )
    chosen: list[tuple[str, Key]] = []
    for name, ranking in zip(CASE_NAMES, rankings):
        key = next((k for k in ranking if k not in {c for _, c in chosen}), None)
        if key is not None:
            chosen.append((name, key))
    return chosen


def comparison_figure(series: list, sources: list[ImageSource | None]) -> tuple[bytes | None, list[str]]:
    """Rows: the cases of :func:`comparison_cases`; columns: every series (the paper's Fig. 2 layout).

    Args:
        series: :class:`lunet.report.series.Series` list (two or more). sources: image source per series.

    Returns:
        PNG bytes (None with fewer than two series, no data, or no common scored image) and notes. The
        left atrium of a series trained on it is drawn (:func:`lunet.report.gallery.draw_panel`), and then
        the legend lists its colours.
    """
    from lunet.report.plots import figure_png, new_figure

    notes: list[str] = []
    usable = [(s, src) for s, src in zip(series, sources) if src is not None]
    if len(usable) < 2:
        return None, notes
    cases = comparison_cases(usable[0][0].per_image, usable[-1][0].per_image)
    if not cases:
        notes.append("no image is scored by both the first and the last model; no side-by-side comparison")
        return None, notes
    scores = [_epi_hd(s.per_image) for s, _ in usable]
    figure = new_figure(min(4.0 * len(usable), 16.0), 4.0 * len(cases) + 0.4)
    axes = np.atleast_2d(figure.subplots(len(cases), len(usable)))
    drawn = 0
    for axes_row, (name, key) in zip(axes, cases):
        for ax, (one, source), score in zip(axes_row, usable, scores):
            title = f"{name}: {one.label}\n{' '.join(key)} — LV_Epi d_H = {score.get(key, math.nan):.3g} mm"
            drawn += draw_panel(ax, one, key, source, title, notes)
    if drawn == 0:
        figure.clear()
        return None, notes
    add_legend(figure, any(trained_atrium(one) for one, _ in usable))  # LA entries when an LA is drawn
    return figure_png(figure, dpi=100), notes
