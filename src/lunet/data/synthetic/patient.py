"""One phantom patient in memory: 3-D heart → two apical views × (ED, interpolated frames, ES).

Patient ``index`` (1-based, ``patient0001``) is generated from ``np.random.SeedSequence([seed, index])``
alone, so a dataset is identical whatever the number of worker processes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from lunet.boxes import reference_box
from lunet.data.labels import Instant, Label, View
from lunet.data.synthetic.anatomy import Heart, interpolate_phase, sample_heart
from lunet.data.synthetic.appearance import QUALITIES, sample_appearance, sample_fields
from lunet.data.synthetic.geometry import (
    OutputGrid,
    Placement,
    output_grid,
    place_view,
    polar_grid,
    rasterise_labels,
    to_probe_frame,
)
from lunet.data.synthetic.render import prepare_view, render_polar, scan_convert
from lunet.data.synthetic.slices import ViewShape, view_shape

#: Version of the generator recorded in every truth file (bump when the output changes).
GENERATOR_VERSION = "1"
DEFAULT_QUALITY_MIX = (0.35, 0.45, 0.20)


@dataclass(frozen=True)
class PhantomOptions:
    """Dataset-wide options of the phantom."""

    size: str = "native"  # "native" (hundreds of pixels, 0.22–0.36 mm) or "256"
    hard_fraction: float = 0.2  # fraction of off-centre / small-in-FOV patients
    quality_mix: tuple[float, float, float] = DEFAULT_QUALITY_MIX  # Good, Medium, Poor
    circular: bool = False  # b1 = b2 (exact Simpson's biplane)
    intermediate_frames: int = 1  # frames between ED and ES in the half sequence
    reversed_fraction: float = 0.3  # half sequences stored ES → ED on disk


@dataclass(frozen=True)
class ViewRender:
    """One rendered view: frames ordered ED → ES (index 0 = ED, -1 = ES)."""

    view: View
    quality: str
    grid: OutputGrid
    placement: Placement
    shapes: tuple[ViewShape, ...]
    frames: np.ndarray  # (T, rows, cols) uint8
    frame_labels: np.ndarray  # (T, rows, cols) uint8
    reversed_on_disk: bool

    def image(self, instant: Instant | str) -> np.ndarray:
        return self.frames[0 if Instant(instant) is Instant.ED else -1]

    def label(self, instant: Instant | str) -> np.ndarray:
        return self.frame_labels[0 if Instant(instant) is Instant.ED else -1]

    @property
    def spacing(self) -> tuple[float, float]:
        """(row_mm, col_mm)."""
        return self.grid.spacing


@dataclass(frozen=True)
class PatientRender:
    """A phantom patient in memory with its analytic truth (``truth`` = ``phantom_truth.json``)."""

    patient_id: str
    heart: Heart
    hard: bool
    views: dict[View, ViewRender]
    sex: str
    age: int
    frame_rate: float
    truth: dict

    @property
    def image_quality(self) -> str:
        """Worst quality of the views."""
        return max((v.quality for v in self.views.values()), key=QUALITIES.index)


def jsonable(obj: object) -> object:
    """Nested dicts/lists/tuples with numpy scalars → plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def patient_id(index: int) -> str:
    return f"patient{index:04d}"


def patient_rng(index: int, seed: int) -> np.random.Generator:
    """The only random source of patient ``index``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def _to_pixels(x: float, y: float, grid: OutputGrid) -> list[float]:
    """Probe-frame point (mm) → continuous (row, col) with pixel centres at integers."""
    return [float(y / grid.row_mm - 0.5), float((x + grid.half_width_mm) / grid.col_mm - 0.5)]


def _landmarks(shape: ViewShape, placement: Placement, grid: OutputGrid, label: np.ndarray) -> dict:
    base_shift = shape.bend * shape.length_mm
    pts = {
        "apex": (0.0, 0.0),
        "base_left": (base_shift - shape.annulus_mm, shape.length_mm),
        "base_right": (base_shift + shape.annulus_mm, shape.length_mm),
        "base_mid": (base_shift, shape.length_mm),
    }
    out: dict = {}
    for name, (u, w) in pts.items():
        x, y = to_probe_frame(np.float64(u), np.float64(w), placement)
        out[f"{name}_px"] = _to_pixels(float(x), float(y), grid)
        out[f"{name}_mm"] = [float(x), float(y)]
    out["long_axis_mm"] = shape.length_mm
    out["box"] = [float(v) for v in reference_box(label, 0.0)]
    out["lv_fraction"] = float(np.mean(label == Label.LV))
    out["shape"] = dataclasses.asdict(shape)
    return out


def _render_view(
    rng: np.random.Generator, heart: Heart, view: View, quality: str, hard: bool, options: PhantomOptions
) -> ViewRender:
    n = options.intermediate_frames + 2
    shapes = tuple(view_shape(heart, view, interpolate_phase(heart, k / (n - 1))) for k in range(n))
    placement = place_view(rng, list(shapes), view, hard)
    grid = output_grid(rng, placement, options.size)
    polar = polar_grid(grid)
    app = sample_appearance(rng, quality)
    beam_mm = placement.depth_mm / 2 * placement.sector_rad / polar.nth
    fields = sample_fields(rng, polar.nr, polar.nth, placement.depth_mm / polar.nr, beam_mm)
    four = view is View.A4C
    beam = prepare_view(placement, polar, app, fields, shapes)
    frames = np.stack(
        [scan_convert(render_polar(s, beam, app, fields, four), placement, grid) for s in shapes]
    )
    labels = np.stack([rasterise_labels(s, placement, grid) for s in shapes])
    reversed_on_disk = bool(rng.random() < options.reversed_fraction)
    return ViewRender(view, quality, grid, placement, shapes, frames, labels, reversed_on_disk)


def _view_truth(heart: Heart, vr: ViewRender) -> dict:
    return {
        "plane_azimuth_deg": float(np.rad2deg(heart.azimuth(vr.view))),
        "quality": vr.quality,
        "spacing_mm": list(vr.grid.spacing),
        "shape": [vr.grid.rows, vr.grid.cols],
        "placement": dataclasses.asdict(vr.placement),
        "n_frames": int(vr.frames.shape[0]),
        "half_sequence_reversed": vr.reversed_on_disk,
        "instants": {
            inst.value: _landmarks(
                vr.shapes[0 if inst is Instant.ED else -1], vr.placement, vr.grid, vr.label(inst)
            )
            for inst in Instant
        },
    }


def render_patient(
    index: int, seed: int = 0, size: str = "native", options: PhantomOptions | None = None
) -> PatientRender:
    """Render patient ``index`` (1-based) in memory: images, labels, spacing and analytic truth.

    Args:
        index: patient number (``patient0001`` is 1).
        seed: dataset seed.
        size: "native" or "256" (overrides ``options.size``).
        options: the other dataset options (defaults of ``PhantomOptions``).
    """
    options = dataclasses.replace(options or PhantomOptions(), size=size)
    if len(options.quality_mix) != 3 or min(options.quality_mix) < 0 or sum(options.quality_mix) <= 0:
        raise ValueError(f"quality_mix must be three non-negative weights, got {options.quality_mix}")
    rng = patient_rng(index, seed)
    heart = sample_heart(rng, circular=options.circular)
    hard = bool(rng.random() < options.hard_fraction)
    mix = np.asarray(options.quality_mix, float)
    tier = int(rng.choice(3, p=mix / mix.sum()))
    sex = "M" if rng.random() < 0.6 else "F"
    age = int(rng.integers(20, 90))
    frame_rate = float(rng.choice([30.0, 40.0, 50.0, 60.0]))
    views: dict[View, ViewRender] = {}
    for view in (View.A2C, View.A4C):
        view_tier = tier - 1 if tier > 0 and rng.random() < 0.25 else tier  # a view may be one tier better
        views[view] = _render_view(rng, heart, view, QUALITIES[view_tier], hard, options)
    truth = {
        "synthetic": True,  # a phantom, never CAMUS
        "generator_version": GENERATOR_VERSION,
        "patient_id": patient_id(index),
        "seed": int(seed),
        "index": int(index),
        "edv_ml": heart.edv_ml,
        "esv_ml": heart.esv_ml,
        "ef_percent": heart.ef_percent,
        "target_ef_percent": heart.target_ef_percent,
        "circular": heart.circular,
        "b1_equals_b2": heart.ed.b1_mm == heart.ed.b2_mm,
        "hard_case": hard,
        "image_quality": max((v.quality for v in views.values()), key=QUALITIES.index),
        "model": dataclasses.asdict(heart),
        "views": {v.value: _view_truth(heart, vr) for v, vr in views.items()},
    }
    return PatientRender(patient_id(index), heart, hard, views, sex, age, frame_rate, jsonable(truth))
