"""Known-answer helpers on the phantom model for other areas' tests (e.g. Simpson's biplane).

``sample_patient`` gives a 3-D heart with analytic volumes; ``rasterise_view_label`` draws the exact
label map of one of its apical views at any pixel spacing, without rendering an image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lunet.data.labels import Instant, View
from lunet.data.synthetic.anatomy import Heart, sample_heart
from lunet.data.synthetic.geometry import OutputGrid, Placement, rasterise_labels, sector_grid, to_probe_frame
from lunet.data.synthetic.slices import ViewShape, outline_points, view_shape


@dataclass(frozen=True)
class ViewLabel:
    """A rasterised view: label map, its grid (spacing), placement and in-plane shape."""

    label: np.ndarray  # (rows, cols) uint8
    grid: OutputGrid
    placement: Placement
    shape: ViewShape

    @property
    def spacing(self) -> tuple[float, float]:
        """(row_mm, col_mm)."""
        return self.grid.spacing


def sample_patient(rng: np.random.Generator, circular: bool = False) -> Heart:
    """A phantom patient's 3-D heart (``heart.edv_ml``, ``esv_ml``, ``ef_percent`` are analytic)."""
    return sample_heart(rng, circular=circular)


def canonical_placement(shape: ViewShape, tilt_deg: float = 0.0, apex_depth_mm: float = 30.0) -> Placement:
    """A sector holding the whole shape: apex on the beam axis at ``apex_depth_mm``, long axis tilted."""
    alpha = float(np.deg2rad(tilt_deg))
    ax, ay = apex_depth_mm * np.sin(alpha), apex_depth_mm * np.cos(alpha)
    pts = outline_points(shape)
    x, y = to_probe_frame(pts[:, 0], pts[:, 1], Placement(alpha, ax, ay, 0.0, 0.0))
    sector = float(min(2 * float(np.abs(np.arctan2(x, y)).max()) + np.deg2rad(6), np.deg2rad(150)))
    return Placement(alpha, float(ax), float(ay), sector, float(np.hypot(x, y).max()) * 1.1)


def rasterise_view_label(
    heart: Heart,
    view: View | str,
    instant: Instant | str,
    spacing: tuple[float, float] = (0.3, 0.3),
    tilt_deg: float = 0.0,
    placement: Placement | None = None,
) -> ViewLabel:
    """Exact label map (0 BG, 1 LV, 2 MYO, 3 LA) of ``view`` at ``instant`` with ``spacing`` (row_mm, col_mm).

    The LV long axis is tilted by ``tilt_deg`` from vertical unless a ``placement`` is given.
    """
    shape = view_shape(heart, view, heart.phase(instant))
    placement = placement or canonical_placement(shape, tilt_deg)
    grid = sector_grid(placement, spacing)
    return ViewLabel(rasterise_labels(shape, placement, grid), grid, placement, shape)
