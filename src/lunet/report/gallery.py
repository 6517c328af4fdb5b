"""A gallery like Fig. 2 of LU-Net (TUFFC 2020): images with predicted and reference contours and the box.

For every run, the worst, median and best image by the LV_Epi Hausdorff distance d_H (the score that makes
geometric outliers; lowest is best) are shown; runs without d_H fall back to the mean of the LV_Endo and
LV_Epi Dice (highest is best). Colours follow the paper: prediction LV_Endo green and LV_Epi purple,
reference yellow and cyan, predicted box red. The left atrium (label 3; the ranking never uses it) of a run
trained on it (a finite ``la_dice`` in its records) is drawn too: predicted orange, reference pink.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lunet.data.labels import Label, Structure, structure_mask
from lunet.evaluation.schema import ImageRecord

logger = logging.getLogger(__name__)

PRED_COLOURS = {Structure.LV_ENDO: "#00c000", Structure.LV_EPI: "#a020f0"}
REF_COLOURS = {Structure.LV_ENDO: "#ffff00", Structure.LV_EPI: "#00ffff"}
BOX_COLOUR = "#ff0000"
LA_PRED_COLOUR = "#ff8000"
LA_REF_COLOUR = "#ff80c0"
RANKS = ("worst", "median", "best")


@dataclass(frozen=True)
class Case:
    """One selected image: ``rank`` in :data:`RANKS`, the score used and its name."""

    rank: str
    patient: str
    view: str
    instant: str
    score: float
    score_name: str


def _score(row: ImageRecord) -> tuple[float, str]:
    """Ranking key of an image (lower is better) and its display name."""
    if math.isfinite(row.lv_epi_hd_mm):
        return row.lv_epi_hd_mm, "LV_Epi d_H (mm)"
    dice = [d for d in (row.lv_endo_dice, row.lv_epi_dice) if math.isfinite(d)]
    return (-float(np.mean(dice)), "mean Dice") if dice else (math.nan, "")


def select_cases(per_image: list[ImageRecord]) -> list[Case]:
    """Worst, median and best image of a run (see the module docstring for the ranking).

    Ties are broken by (patient, view, instant); the median is element ``(n - 1) // 2`` of the ranking.
    Images without a finite score are left out; an empty list comes back when none has one.
    """
    scored = []
    for row in per_image:
        value, name = _score(row)
        if math.isfinite(value):
            scored.append((value, row.patient, row.view, row.instant, name))
    if not scored:
        return []
    # Rank within the key that most images share (d_H normally; Dice only when d_H is missing everywhere).
    main_name = max({s[4] for s in scored}, key=lambda n: sum(s[4] == n for s in scored))
    ranked = sorted(s for s in scored if s[4] == main_name)
    picks = {"worst": ranked[-1], "median": ranked[(len(ranked) - 1) // 2], "best": ranked[0]}
    return [
        Case(rank, p, v, i, -value if name == "mean Dice" else value, name)
        for rank, (value, p, v, i, name) in picks.items()
    ]


def prediction_path(pred_dir: Path, patient: str, view: str, instant: str) -> Path:
    """``pred_dir/patientXXXX/patientXXXX_<view>_<instant>.nii.gz`` (the run-folder contract)."""
    return pred_dir / patient / f"{patient}_{view}_{instant}.nii.gz"


def box_outline(box: np.ndarray, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """Normalised pixel-edge box → ``(col0, row0, width, height)`` for imshow (pixel centres at integers).

    Args:
        box: ``(x_min, y_min, x_max, y_max)`` normalised (``lunet.boxes``).
        shape: ``(rows, cols)`` of the image.
    """
    rows, cols = shape
    x0, y0, x1, y1 = box
    return x0 * cols - 0.5, y0 * rows - 0.5, (x1 - x0) * cols, (y1 - y0) * rows


def _contours(ax, label_map: np.ndarray, colours: dict, style: str) -> None:
    for structure, colour in colours.items():
        mask = np.asarray(structure_mask(label_map, structure), dtype=np.float32)
        if mask.any():
            ax.contour(mask, levels=[0.5], colors=[colour], linewidths=1.2, linestyles=style)


def draw_case(
    ax,
    image: np.ndarray,
    spacing: tuple[float, float],
    reference: np.ndarray | None,
    prediction: np.ndarray | None,
    box: np.ndarray | None,
    title: str,
    atrium: bool = False,
) -> None:
    """Draw one gallery panel.

    Args:
        ax: matplotlib axes. image: ``(rows, cols)`` float. spacing: ``(row_mm, col_mm)`` (sets the aspect).
        reference, prediction: ``(rows, cols)`` uint8 label maps on the image grid, or None.
        box: the predicted normalised box, or None. title: panel title.
        atrium: also draw the left atrium (label 3) of both label maps (a run trained on it).
    """
    from matplotlib.patches import Rectangle

    ax.imshow(image, cmap="gray", aspect=spacing[0] / spacing[1], interpolation="bilinear")
    if reference is not None:
        _contours(ax, reference, REF_COLOURS, "solid")
    if prediction is not None:
        _contours(ax, prediction, PRED_COLOURS, "solid")
    for labels, colour in ((reference, LA_REF_COLOUR), (prediction, LA_PRED_COLOUR)):
        la = None if labels is None or not atrium else (np.asarray(labels) == Label.LA).astype(np.float32)
        if la is not None and la.any():
            ax.contour(la, levels=[0.5], colors=[colour], linewidths=1.2, linestyles="solid")
    if box is not None:
        col0, row0, width, height = box_outline(box, image.shape)
        ax.add_patch(Rectangle((col0, row0), width, height, fill=False, edgecolor=BOX_COLOUR, linewidth=1.5))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


class ImageSource:
    """Images and reference labels from a CAMUS-layout folder, scanned once."""

    def __init__(self, data_dir: Path) -> None:
        from lunet.data.camus import scan_camus

        self.dataset = scan_camus(data_dir)

    def load(
        self, patient: str, view: str, instant: str
    ) -> tuple[np.ndarray, np.ndarray | None, tuple[float, float]]:
        """``(image, reference label or None, spacing)`` of a frame (``KeyError``: unknown patient)."""
        frame = self.dataset.patient(patient).load(view, instant)
        return frame.image, frame.label, frame.spacing


def trained_atrium(series) -> bool:
    """Whether a series' model was trained on the left atrium: its evaluation scored the LA (``la_dice``)."""
    return any(math.isfinite(r.la_dice) for r in series.per_image)


def draw_panel(
    ax, series, key: tuple[str, str, str], source: ImageSource, title: str, notes: list[str]
) -> bool:
    """Draw a series' prediction of ``key`` = ``(patient, view, instant)``; False if the image is unreadable.

    Problems (missing prediction file, shape mismatch) are appended to ``notes``; the panel is still drawn
    with what is available.
    """
    from lunet.data.camus_io import read_frame

    patient, view, instant = key
    try:
        image, reference, spacing = source.load(patient, view, instant)
    except (KeyError, ValueError, OSError) as err:
        notes.append(f"{series.label} {patient} {view} {instant}: image not readable ({err})")
        ax.set_axis_off()
        return False
    path = prediction_path(series.pred_dir, patient, view, instant)
    prediction = None
    if path.is_file():
        prediction = read_frame(path)[0]
        if prediction.shape != image.shape:
            notes.append(
                f"{path}: shape {prediction.shape} differs from the image's {image.shape}; not drawn"
            )
            prediction = None
    else:
        notes.append(f"{series.label}: no prediction file {path}")
    draw_case(ax, image, spacing, reference, prediction, series.boxes.get(key), title, trained_atrium(series))
    return True


def gallery_figure(runs: list, sources: list[ImageSource | None]) -> tuple[bytes | None, list[str]]:
    """One row per series with its worst, median and best case.

    Args:
        runs: :class:`lunet.report.series.Series` (``label``, ``per_image``, ``pred_dir``, ``boxes``).
        sources: the image source of each series (None: no data).

    Returns:
        PNG bytes (None when nothing could be drawn) and notes about cases that could not be shown.
    """
    from lunet.report.plots import figure_png, new_figure

    notes: list[str] = []
    rows = [(run, select_cases(run.per_image), source) for run, source in zip(runs, sources)]
    rows = [(run, cases, source) for run, cases, source in rows if cases and source is not None]
    for run, source in zip(runs, sources):
        if source is None:
            notes.append(f"{run.label}: no image data folder found (pass --data), no gallery row")
    if not rows:
        return None, notes
    figure = new_figure(12.0, 4.0 * len(rows) + 0.4)
    axes = np.atleast_2d(figure.subplots(len(rows), len(RANKS)))
    drawn = 0
    for axes_row, (run, cases, source) in zip(axes, rows):
        for ax, case in zip(axes_row, cases):
            title = f"{run.label} — {case.rank}: {case.patient} {case.view} {case.instant}\n"
            title += f"{case.score_name} = {case.score:.3g}"
            drawn += draw_panel(ax, run, (case.patient, case.view, case.instant), source, title, notes)
    if drawn == 0:
        figure.clear()
        return None, notes
    add_legend(figure, any(trained_atrium(run) for run, _, _ in rows))
    return figure_png(figure, dpi=100), notes


def add_legend(figure, atrium: bool = False) -> None:
    """The colour legend of the gallery panels, below the figure (with the LA's colours when ``atrium``)."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=PRED_COLOURS[Structure.LV_ENDO], label="predicted LV_Endo"),
        Line2D([], [], color=PRED_COLOURS[Structure.LV_EPI], label="predicted LV_Epi"),
        Line2D([], [], color=REF_COLOURS[Structure.LV_ENDO], label="reference LV_Endo"),
        Line2D([], [], color=REF_COLOURS[Structure.LV_EPI], label="reference LV_Epi"),
        Line2D([], [], color=BOX_COLOUR, label="predicted box"),
    ]
    if atrium:
        handles += [
            Line2D([], [], color=LA_PRED_COLOUR, label="predicted LA"),
            Line2D([], [], color=LA_REF_COLOUR, label="reference LA"),
        ]
    columns = len(handles)
    figure.legend(handles=handles, loc="outside lower center", ncol=columns, fontsize=8, facecolor="0.85")
