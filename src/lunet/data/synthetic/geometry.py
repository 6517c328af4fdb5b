"""Probe geometry of the phantom: heart placement in the sector, output grids, scan conversion.

Probe frame (mm): the transducer at the origin, ``x`` lateral (= image columns, left to right), ``y``
depth (= image rows, top to bottom). A view's in-plane heart frame ``(u, w)`` is rotated by the tilt
``alpha`` and shifted to the apex point.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from lunet.data.labels import View
from lunet.data.synthetic.slices import ViewShape, labels_from_masks, outline_points, shape_masks
from lunet.data.synthetic.variability import ContourJitter

SIZES = ("native", "256")


class PlacementError(RuntimeError):
    """No sector could hold the sampled heart (should not happen with the default ranges)."""


@dataclass(frozen=True)
class Placement:
    """Heart pose and sector of one view (mm, radians); shared by all frames of the view."""

    alpha_rad: float  # tilt of the long axis from the beam axis
    apex_x_mm: float
    apex_y_mm: float
    sector_rad: float
    depth_mm: float


@dataclass(frozen=True)
class OutputGrid:
    """Cartesian output grid; pixel centres at x = (c + 0.5)·col_mm − half_width, y = (r + 0.5)·row_mm."""

    rows: int
    cols: int
    row_mm: float
    col_mm: float

    @property
    def spacing(self) -> tuple[float, float]:
        """(row_mm, col_mm)."""
        return (self.row_mm, self.col_mm)

    @property
    def half_width_mm(self) -> float:
        return self.cols * self.col_mm / 2.0


@dataclass(frozen=True)
class PolarGrid:
    """Polar (beam) grid of the appearance model: ``nr`` depth samples × ``nth`` beams."""

    nr: int
    nth: int


def to_view_frame(x: np.ndarray, y: np.ndarray, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
    """Probe-frame points (mm) → in-plane heart frame ``(u, w)`` (mm)."""
    dx, dy = x - placement.apex_x_mm, y - placement.apex_y_mm
    ca, sa = np.cos(placement.alpha_rad), np.sin(placement.alpha_rad)
    return dx * ca - dy * sa, dx * sa + dy * ca


def to_probe_frame(u: np.ndarray, w: np.ndarray, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
    """In-plane heart frame ``(u, w)`` → probe frame ``(x, y)`` (mm); the inverse of ``to_view_frame``."""
    ca, sa = np.cos(placement.alpha_rad), np.sin(placement.alpha_rad)
    return placement.apex_x_mm + u * ca + w * sa, placement.apex_y_mm - u * sa + w * ca


def _extent(shapes: list[ViewShape], alpha: float, ax: float, ay: float) -> tuple[float, float]:
    """Farthest labelled distance from the probe (mm) and largest |beam angle| (rad) over ``shapes``."""
    pts = np.concatenate([outline_points(s) for s in shapes])
    x, y = to_probe_frame(pts[:, 0], pts[:, 1], Placement(alpha, ax, ay, 0.0, 0.0))
    return float(np.hypot(x, y).max()), float(np.abs(np.arctan2(x, y)).max())


def place_view(
    rng: np.random.Generator, shapes: list[ViewShape], view: View | str, hard: bool, cut: bool = False
) -> Placement:
    """Choose the heart pose first, then fit the sector around every frame in ``shapes``.

    Normal: apex depth 20–40 mm, tilt ±12°, lateral offset ±6 mm (4CH shifted 6 mm), sector 60–78°,
    depth = farthest labelled point × 1.03–1.2. Hard: apex depth 25–70 mm, tilt ±25°, offset ±30 mm,
    depth × 1.4–1.9. The sector never exceeds 90°; depth is kept in 110–260 mm. ``cut``: the sector is
    0.75–0.92 of the width the heart needs (at least 50°), so part of the LV lies outside it.
    """
    shrink = 1.0
    for _ in range(60):
        if hard:
            d_apex = rng.uniform(25, 70)
            alpha = np.deg2rad(rng.uniform(-25, 25) * shrink)
            offset = rng.uniform(-30, 30) * shrink
        else:
            d_apex = rng.uniform(20, 40)
            alpha = np.deg2rad(rng.uniform(-12, 12) * shrink)
            offset = rng.uniform(-6, 6) * shrink + (6.0 if View(view) is View.A4C else 0.0)
        ax = offset * np.cos(alpha) + d_apex * np.sin(alpha)
        ay = d_apex * np.cos(alpha)
        r_max, t_max = _extent(shapes, alpha, ax, ay)
        sector = max(np.deg2rad(rng.uniform(60, 78)), 2 * t_max + np.deg2rad(4))
        if cut:
            sector = max(2 * t_max * rng.uniform(0.75, 0.92), np.deg2rad(50))
        if sector > np.deg2rad(90):
            shrink *= 0.85
            continue
        depth = float(np.clip(r_max * (rng.uniform(1.4, 1.9) if hard else rng.uniform(1.03, 1.2)), 110, 260))
        if depth >= r_max * 1.02:
            return Placement(float(alpha), float(ax), float(ay), float(sector), depth)
        shrink *= 0.85
    raise PlacementError("could not place the heart inside a sector of at most 90°")


def _f32(value: float) -> float:
    """Round a spacing to float32 (what NIfTI headers store), so files and truth agree exactly."""
    return float(np.float32(value))


def output_grid(rng: np.random.Generator, placement: Placement, size: str) -> OutputGrid:
    """Output grid of a view: 256×256, or native-like (0.22–0.36 mm rows, 30 % anisotropic ×0.7–1.4)."""
    depth = placement.depth_mm
    width = 2.0 * depth * np.sin(placement.sector_rad / 2)
    if size == "256":
        return OutputGrid(256, 256, _f32(depth / 256), _f32(width / 256))
    if size != "native":
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    row_mm = rng.uniform(0.22, 0.36)
    col_mm = row_mm * (rng.uniform(0.7, 1.4) if rng.random() < 0.3 else 1.0)
    rows, cols = round(depth / row_mm), round(width / col_mm)
    return OutputGrid(int(rows), int(cols), _f32(depth / rows), _f32(width / cols))


def polar_grid(grid: OutputGrid) -> PolarGrid:
    """Polar sampling for an output grid (≥ 2 samples per speckle cell at the default PSF)."""
    if grid.rows <= 256:
        return PolarGrid(512, 192)
    return PolarGrid(int(np.clip(0.8 * grid.rows, 512, 768)), 208)


@dataclass(frozen=True)
class ScanTables:
    """Bilinear scan-conversion tables of one geometry (pixels inside the sector only)."""

    pixels: np.ndarray  # (N,) flat indices of the output pixels inside the sector
    corner: np.ndarray  # (N,) flat polar index of the top-left neighbour (r0, t0)
    weights: np.ndarray  # (4, N) float32 weights of (r0,t0), (r0,t0+1), (r0+1,t0), (r0+1,t0+1)


@functools.lru_cache(maxsize=4)
def scan_conversion(depth_mm: float, sector_rad: float, grid: OutputGrid, polar: PolarGrid) -> ScanTables:
    """Cached bilinear tables from the polar grid (sample centres) to the pixel centres of ``grid``."""
    xs = ((np.arange(grid.cols) + 0.5) * grid.col_mm - grid.half_width_mm).astype(np.float32)
    ys = ((np.arange(grid.rows) + 0.5) * grid.row_mm).astype(np.float32)
    xx, yy = np.meshgrid(xs, ys)
    rr, tt = np.hypot(xx, yy), np.arctan2(xx, yy)
    inside = (rr < depth_mm) & (np.abs(tt) < sector_rad / 2)
    pixels = np.flatnonzero(inside)
    r_in, t_in = rr.ravel()[pixels].astype(np.float64), tt.ravel()[pixels].astype(np.float64)
    ri = np.clip(r_in / (depth_mm / polar.nr) - 0.5, 0, polar.nr - 1.000001)
    ti = np.clip((t_in + sector_rad / 2) / (sector_rad / polar.nth) - 0.5, 0, polar.nth - 1.000001)
    r0, t0 = np.floor(ri).astype(np.int64), np.floor(ti).astype(np.int64)
    fr, ft = ri - r0, ti - t0
    weights = np.stack([(1 - fr) * (1 - ft), (1 - fr) * ft, fr * (1 - ft), fr * ft]).astype(np.float32)
    tables = ScanTables(pixels, r0 * polar.nth + t0, weights)
    for a in (tables.pixels, tables.corner, tables.weights):
        a.setflags(write=False)
    return tables


def rasterise_labels(
    shape: ViewShape, placement: Placement, grid: OutputGrid, jitter: ContourJitter | None = None
) -> np.ndarray:
    """uint8 label map ``(rows, cols)`` evaluated analytically at the pixel centres of ``grid``.

    Only a bounding window around the heart is evaluated; pixels outside the sector are background.
    ``jitter``: an observer's smooth displacement of the contours (annotation variability).
    """
    pts = outline_points(shape)
    x, y = to_probe_frame(pts[:, 0], pts[:, 1], placement)
    pad = 2 + (int(np.ceil(jitter.max_mm / min(grid.row_mm, grid.col_mm))) if jitter else 0)
    c0 = max(int(np.floor((x.min() + grid.half_width_mm) / grid.col_mm)) - pad, 0)
    c1 = min(int(np.ceil((x.max() + grid.half_width_mm) / grid.col_mm)) + pad, grid.cols)
    r0 = max(int(np.floor(y.min() / grid.row_mm)) - pad, 0)
    r1 = min(int(np.ceil(y.max() / grid.row_mm)) + pad, grid.rows)
    lab = np.zeros((grid.rows, grid.cols), np.uint8)
    if c1 <= c0 or r1 <= r0:
        return lab
    xs = (np.arange(c0, c1) + 0.5) * grid.col_mm - grid.half_width_mm
    ys = (np.arange(r0, r1) + 0.5) * grid.row_mm
    xx, yy = np.meshgrid(xs, ys)
    u, w = to_view_frame(xx, yy, placement)
    if jitter is not None:
        u, w = jitter.displace(u, w)
    window = labels_from_masks(*shape_masks(u, w, shape))
    in_sector = (np.hypot(xx, yy) < placement.depth_mm) & (
        np.abs(np.arctan2(xx, yy)) < placement.sector_rad / 2
    )
    lab[r0:r1, c0:c1] = np.where(in_sector, window, 0)
    return lab


def sector_grid(placement: Placement, spacing: tuple[float, float]) -> OutputGrid:
    """Output grid covering the whole sector of ``placement`` at ``spacing`` (row_mm, col_mm)."""
    width = 2.0 * placement.depth_mm * np.sin(placement.sector_rad / 2)
    rows = round(placement.depth_mm / spacing[0])
    cols = round(width / spacing[1])
    return OutputGrid(int(rows), int(cols), float(spacing[0]), float(spacing[1]))
