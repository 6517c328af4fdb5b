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
from lunet.data.synthetic.appearance import (
    QUALITIES,
    Appearance,
    ViewFields,
    sample_appearance,
    sample_fields,
)
from lunet.data.synthetic.geometry import (
    OutputGrid,
    Placement,
    output_grid,
    place_view,
    polar_grid,
    rasterise_labels,
    to_probe_frame,
)
from lunet.data.synthetic.lvot import LVOT_FRACTION, Lvot
from lunet.data.synthetic.motion import moved_scatterers
from lunet.data.synthetic.render import (
    BeamView,
    echogenicity,
    envelope_from_maps,
    log_compress,
    prepare_view,
    scan_convert,
)
from lunet.data.synthetic.slices import ViewShape, endo_profile, outline_points, view_shape
from lunet.data.synthetic.timing import Cine, Rhythm, cine, half_sequence_fractions, sample_rhythm
from lunet.data.synthetic.variability import ContourJitter, jitter_rng, sample_jitter

#: Version of the generator recorded in every truth file (bump when the output changes).
GENERATOR_VERSION = "2.2"  # 2.1: LVOT / aortic-root hint in 4CH; 2.2: harder Poor tier
DEFAULT_QUALITY_MIX = (0.35, 0.46, 0.19)


@dataclass(frozen=True)
class PhantomOptions:
    """Dataset-wide options of the phantom."""

    size: str = "native"  # "native" (hundreds of pixels, 0.22–0.36 mm) or "256"
    hard_fraction: float = 0.2  # fraction of foreshortened / off-centre / cut / small-in-FOV patients
    quality_mix: tuple[float, float, float] = DEFAULT_QUALITY_MIX  # Good, Medium, Poor
    circular: bool = False  # b1 = b2, no foreshortening, no cut by the sector (exact Simpson's biplane)
    intermediate_frames: int = 1  # frames between ED and ES in a "short" half sequence
    reversed_fraction: float = 0.3  # half sequences stored ES → ED on disk
    sequence_frames: str = "short"  # "short" (fast default) or "realistic" (10–30 frames ED → ES)
    cycles: int = 0  # > 0: also a cine of this many beats per view (heart rate varies beat to beat)
    annotation_sd_mm: float = 0.0  # > 0: reference contours displaced like another observer's (mm)
    lvot_fraction: float = LVOT_FRACTION  # 4CH views with an (unlabelled) outflow-tract hint


@dataclass(frozen=True)
class ViewRender:
    """One rendered view: frames ordered ED → ES (index 0 = ED, -1 = ES), optionally a cine."""

    view: View
    quality: str
    grid: OutputGrid
    placement: Placement
    shapes: tuple[ViewShape, ...]
    frames: np.ndarray  # (T, rows, cols) uint8
    frame_labels: np.ndarray  # (T, rows, cols) uint8
    reversed_on_disk: bool
    fractions: tuple[float, ...] = ()  # phase fraction of each frame (0 = ED, 1 = ES)
    cine: Cine | None = None
    cine_frames: np.ndarray | None = None  # (T', rows, cols) uint8, in time order
    cine_labels: np.ndarray | None = None
    lvot: Lvot | None = None  # the view's outflow-tract hint (unlabelled), if any

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
    rhythm: Rhythm
    truth: dict

    @property
    def frame_rate(self) -> float:
        """Frames per second of the sequences."""
        return self.rhythm.frame_rate

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


def _visible_apex(shape: ViewShape) -> tuple[float, float]:
    """(u, w) mm of the cavity's tip in the image: the true apex, or higher when the view is foreshortened."""
    if shape.offset_mm == 0:
        return (0.0, 0.0)
    w = np.linspace(0.0, shape.length_mm, 4001)
    u = shape.bend * shape.length_mm * (w / shape.length_mm) ** 2  # on the centreline
    _, r_in, _ = endo_profile(u, w, shape)
    tip = float(w[np.argmax(r_in > 0)])
    return (float(shape.bend * shape.length_mm * (tip / shape.length_mm) ** 2), tip)


def _landmarks(shape: ViewShape, placement: Placement, grid: OutputGrid, label: np.ndarray) -> dict:
    base_shift = shape.bend * shape.length_mm
    pts = {
        "apex": _visible_apex(shape),
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


def _foreshortening_mm(rng: np.random.Generator, heart: Heart, view: View, hard: bool) -> float:
    """Distance (mm) of the imaging plane from the LV axis: 60 % of hard cases, 20 % of the others."""
    if rng.random() >= (0.6 if hard else 0.2):
        return 0.0
    es = view_shape(heart, view, heart.es)
    limit = min(es.annulus_mm, es.radius_mm)  # the cut must still reach the mitral plane at ES
    return float(limit * (rng.uniform(0.25, 0.6) if hard else rng.uniform(0.1, 0.35)))


def _render_frames(
    shapes: tuple[ViewShape, ...], ref: ViewShape, beam: BeamView, app: Appearance, fields: ViewFields,
    view: View, placement: Placement, grid: OutputGrid,
) -> np.ndarray:  # fmt: skip
    """uint8 frames ``(T, rows, cols)``: the scatterers move with the heart from their place in ``ref``."""
    frames = []
    for shape in shapes:
        e_map, z_map, heart = echogenicity(shape, beam, app, fields, view is View.A4C)
        scat = moved_scatterers(fields.scatterers, beam.u, beam.w, beam.window, heart, placement, ref, shape)
        env = envelope_from_maps(e_map, z_map, beam, app, fields, scat)
        frames.append(scan_convert(log_compress(env, app), placement, grid))
    return np.stack(frames)


def _labels(
    shapes: tuple[ViewShape, ...], fractions: np.ndarray, placement: Placement, grid: OutputGrid,
    jitters: tuple[ContourJitter, ContourJitter] | None,
) -> np.ndarray:  # fmt: skip
    """uint8 reference labels ``(T, rows, cols)``; with ``jitters`` (ED, ES) an observer's contours."""
    return np.stack([
        rasterise_labels(s, placement, grid, jitters[0].blend(jitters[1], float(f)) if jitters else None)
        for s, f in zip(shapes, fractions)
    ])  # fmt: skip


def _render_view(
    rng: np.random.Generator, heart: Heart, view: View, quality: str, hard: bool, options: PhantomOptions,
    rhythm: Rhythm, jitter_rng: np.random.Generator,
) -> ViewRender:  # fmt: skip
    fractions = half_sequence_fractions(options.sequence_frames, options.intermediate_frames, rhythm)
    exact = options.circular  # exact Simpson: the plane through the axis, the whole LV in the sector
    offset = 0.0 if exact else _foreshortening_mm(rng, heart, view, hard)

    def shapes_at(fracs: np.ndarray) -> tuple[ViewShape, ...]:
        return tuple(view_shape(heart, view, interpolate_phase(heart, float(f)), offset) for f in fracs)

    shapes = shapes_at(fractions)
    cut = hard and not exact and rng.random() < 0.4
    placement = place_view(rng, [shapes[0], shapes[-1]], view, hard, cut)
    grid = output_grid(rng, placement, options.size)
    polar = polar_grid(grid)
    app = sample_appearance(rng, quality, options.lvot_fraction if view is View.A4C else 0.0)
    beam_mm = placement.depth_mm / 2 * placement.sector_rad / polar.nth
    fields = sample_fields(rng, polar.nr, polar.nth, placement.depth_mm / polar.nr, beam_mm)
    beam = prepare_view(placement, polar, app, fields, (shapes[0], shapes[-1]))
    jitters = None
    if options.annotation_sd_mm > 0:
        jitters = (
            sample_jitter(jitter_rng, options.annotation_sd_mm),
            sample_jitter(jitter_rng, options.annotation_sd_mm),
        )
    frames = _render_frames(shapes, shapes[0], beam, app, fields, view, placement, grid)
    labels = _labels(shapes, fractions, placement, grid, jitters)
    reversed_on_disk = bool(rng.random() < options.reversed_fraction)
    cine_frames = cine_labels = timing = None
    if options.cycles > 0:
        timing = cine(rhythm, options.cycles)
        cine_shapes = shapes_at(timing.fractions)
        cine_frames = _render_frames(cine_shapes, shapes[0], beam, app, fields, view, placement, grid)
        cine_labels = _labels(cine_shapes, timing.fractions, placement, grid, jitters)
    return ViewRender(
        view, quality, grid, placement, shapes, frames, labels, reversed_on_disk,
        tuple(float(f) for f in fractions), timing, cine_frames, cine_labels, app.lvot,
    )  # fmt: skip


def _lv_cut(vr: ViewRender) -> bool:
    """True when part of the ED heart lies outside the imaged sector."""
    pts = outline_points(vr.shapes[0])
    x, y = to_probe_frame(pts[:, 0], pts[:, 1], vr.placement)
    return bool(np.abs(np.arctan2(x, y)).max() > vr.placement.sector_rad / 2)


def _area_mm2(labels: np.ndarray, grid: OutputGrid) -> list[float]:
    """LV area (mm²) of each label frame."""
    return [float(v) * grid.row_mm * grid.col_mm for v in (labels == Label.LV).sum(axis=(1, 2))]


def _view_truth(heart: Heart, vr: ViewRender) -> dict:
    return {
        "plane_azimuth_deg": float(np.rad2deg(heart.azimuth(vr.view))),
        "quality": vr.quality,
        "spacing_mm": list(vr.grid.spacing),
        "shape": [vr.grid.rows, vr.grid.cols],
        "placement": dataclasses.asdict(vr.placement),
        "n_frames": int(vr.frames.shape[0]),
        "half_sequence_reversed": vr.reversed_on_disk,
        "phase_fractions": list(vr.fractions),
        "lv_area_mm2": _area_mm2(vr.frame_labels, vr.grid),
        "foreshortening_offset_mm": vr.shapes[0].offset_mm,
        "sector_cut": bool(_lv_cut(vr)),
        "lvot": None if vr.lvot is None else dataclasses.asdict(vr.lvot),  # unlabelled (background)
        "cine": None
        if vr.cine is None
        else {
            "frames": int(vr.cine.fractions.size),
            "ed_frames": [i + 1 for i in vr.cine.ed_frames],  # 1-based, as in the cfg files
            "es_frames": [i + 1 for i in vr.cine.es_frames],
            "rr_s": list(vr.cine.rr_s),
            "times_s": [float(t) for t in vr.cine.times_s],
            "phase_fractions": [float(f) for f in vr.cine.fractions],
            "lv_area_mm2": _area_mm2(vr.cine_labels, vr.grid),
        },
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
    if not 0.0 <= options.lvot_fraction <= 1.0:
        raise ValueError(f"lvot_fraction must lie in [0, 1], got {options.lvot_fraction}")
    rng = patient_rng(index, seed)
    heart = sample_heart(rng, circular=options.circular)
    hard = bool(rng.random() < options.hard_fraction)
    mix = np.asarray(options.quality_mix, float)
    tier = int(rng.choice(3, p=mix / mix.sum()))
    sex = "M" if rng.random() < 0.6 else "F"
    age = int(rng.integers(20, 90))
    rhythm = sample_rhythm(rng)
    observer = jitter_rng(index, seed)
    views: dict[View, ViewRender] = {}
    for view in (View.A2C, View.A4C):
        view_tier = tier - 1 if tier > 0 and rng.random() < 0.25 else tier  # a view may be one tier better
        views[view] = _render_view(rng, heart, view, QUALITIES[view_tier], hard, options, rhythm, observer)
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
        "heart_rate_bpm": rhythm.heart_rate_bpm,
        "frame_rate": rhythm.frame_rate,
        "sequence_frames": options.sequence_frames,
        "annotation_sd_mm": options.annotation_sd_mm,
        "references": "analytic"
        if options.annotation_sd_mm == 0
        else "observer-perturbed (volumes stay analytic)",
        "image_quality": max((v.quality for v in views.values()), key=QUALITIES.index),
        "model": dataclasses.asdict(heart),
        "views": {v.value: _view_truth(heart, vr) for v, vr in views.items()},
    }
    return PatientRender(patient_id(index), heart, hard, views, sex, age, rhythm, jsonable(truth))
