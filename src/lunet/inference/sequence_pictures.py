"""The pictures of ``lunet predict --sequence``: the LV area curves with ED/ES marked (and the patient's
volume curve, its EF and interval in the title), and the overlay animation (GIF) of a cine
(:mod:`lunet.inference.sequence_outputs` writes them next to the JSON)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lunet.inference.sequence import SequenceResult

__all__ = ["ANIMATION_SIDE", "write_animation", "write_curve_plot"]

#: Longest side of the overlay animation's frames in pixels (larger frames are shrunk).
ANIMATION_SIDE = 320


def _marks(ax: Any, x: np.ndarray, y: np.ndarray, frames: Sequence[int], marker: str, label: str) -> None:
    if frames:
        ax.plot(x[list(frames)], y[list(frames)], marker, markersize=8, label=label)


def write_curve_plot(
    path: Path, results: Sequence[SequenceResult], volumes: dict[str, Any] | None = None
) -> Path:
    """PNG of the LV area curves (one line per view, ED ▲ / ES ▼ marked), with the volume curve when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lunet.io import atomic_path

    panels = 2 if volumes and volumes.get("volume_ml") else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.6), squeeze=False)
    ax = axes[0, 0]
    for result in results:
        step = result.cine.frame_time_ms
        x = np.arange(result.labels.shape[0]) * (step or 1.0) + (0.0 if step else 1.0)
        name = result.cine.view or result.cine.stem
        (line,) = ax.plot(x, result.lv_area_mm2, "-", alpha=0.5, label=f"{name} per frame")
        ax.plot(x, result.phases.smoothed, "-", color=line.get_color(), label=f"{name} smoothed")
        _marks(ax, x, result.lv_area_mm2, result.phases.ed_frames, "^", f"{name} ED")
        _marks(ax, x, result.lv_area_mm2, result.phases.es_frames, "v", f"{name} ES")
        _marks(ax, x, result.lv_area_mm2, result.phases.flagged, "x", f"{name} flagged")
    ax.set_xlabel("time (ms)" if all(r.cine.frame_time_ms for r in results) else "frame (1-based)")
    ax.set_ylabel("LV area (mm²)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    if panels == 2 and volumes:
        vx = axes[0, 1]
        vx.plot(volumes["phase"], volumes["volume_ml"], "k.-")
        vx.set_xlabel("cardiac phase (ED = 0, ES = 0.5)")
        vx.set_ylabel("LV volume, Simpson biplane (ml)")
        vx.set_title(_ef_title(volumes), fontsize=9)
        vx.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


def _ef_title(volumes: dict[str, Any]) -> str:
    """``EF 55.2 % (90 % interval 49.1–61.3)`` when the patient has an interval, else ``EF 55.2 %``."""
    ef = volumes["ef_percent"]
    if not math.isfinite(ef):
        return "EF n/a"
    lo, hi = volumes.get("ef_interval_percent") or (None, None)
    level = volumes.get("interval_level")
    if lo is None or hi is None or level is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return f"EF {ef:.1f} %"
    return f"EF {ef:.1f} % ({100 * level:g} % interval {lo:.1f}–{hi:.1f})"


def write_animation(path: Path, result: SequenceResult) -> Path:
    """Animated GIF of the frames with the LV/LV_Epi contours; ED and ES frames are labelled in the corner."""
    from PIL import Image, ImageDraw

    from lunet.inference.writers import overlay_rgb
    from lunet.io import atomic_path

    rows, cols = result.labels.shape[1:]
    scale = min(1.0, ANIMATION_SIDE / max(rows, cols))
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    pictures = []
    for k, (image, label) in enumerate(zip(result.cine.frames, result.labels)):
        picture = Image.fromarray(overlay_rgb(image, label), mode="RGB").resize(
            size, Image.Resampling.NEAREST
        )
        tag = " ED" if k in result.phases.ed_frames else " ES" if k in result.phases.es_frames else ""
        tag += " flagged" if k in result.phases.flagged else ""
        ImageDraw.Draw(picture).text((4, 4), f"{k + 1}/{len(result.labels)}{tag}", fill=(255, 255, 0))
        pictures.append(picture.convert("P", palette=Image.Palette.ADAPTIVE))
    duration = round(result.cine.frame_time_ms or 50.0)
    with atomic_path(path) as tmp:
        pictures[0].save(
            tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=duration, loop=0
        )
    return path
