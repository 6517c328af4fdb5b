"""Label geometry of the phantom views: nesting, ring, atrium above the mitral plane, no gap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from lunet.data.labels import Label, View
from lunet.data.synthetic.geometry import to_view_frame
from lunet.data.synthetic.slices import shape_masks, view_shape
from lunet.data.synthetic.views import rasterise_view_label, sample_patient


def _pairs(lab: np.ndarray, a: int, b: int) -> int:
    """Number of 4-neighbour pixel pairs with labels a and b."""
    n = 0
    for x, y in ((lab[1:], lab[:-1]), (lab[:, 1:], lab[:, :-1])):
        n += int(np.sum((x == a) & (y == b)) + np.sum((x == b) & (y == a)))
    return n


@pytest.mark.parametrize(("seed", "view", "instant"), [(0, "2CH", "ED"), (1, "4CH", "ES"), (2, "4CH", "ED")])
def test_label_topology(seed, view, instant):
    heart = sample_patient(np.random.default_rng(seed))
    vl = rasterise_view_label(heart, view, instant, spacing=(0.3, 0.25), tilt_deg=8)
    lab = vl.label
    assert set(np.unique(lab)) == {0, 1, 2, 3}
    # LV ⊂ epicardium analytically, on a dense grid of the plane
    u, w = np.meshgrid(np.linspace(-60, 60, 301), np.linspace(-20, 140, 401))
    endo, epi, _ = shape_masks(u, w, vl.shape)
    assert not np.any(endo & ~epi)
    # the cavity never touches background: the myocardium rings it, the atrium closes it at the base
    assert _pairs(lab, Label.LV, Label.BG) == 0
    assert ndi.label(lab == Label.LV)[1] == 1 and ndi.label(lab == Label.MYO)[1] == 1
    # the atrium lies above (deeper than) the mitral plane
    rows, cols = np.nonzero(lab == Label.LA)
    x = (cols + 0.5) * vl.grid.col_mm - vl.grid.half_width_mm
    y = (rows + 0.5) * vl.grid.row_mm
    _, w_la = to_view_frame(x, y, vl.placement)
    assert w_la.min() > vl.shape.length_mm
    # no gap: the LV-LA contact runs along the whole annulus
    pixel = min(vl.spacing)
    assert _pairs(lab, Label.LV, Label.LA) >= 0.8 * 2 * vl.shape.annulus_mm / max(vl.spacing)
    assert pixel > 0


def test_septum_is_thicker_only_in_4ch():
    heart = sample_patient(np.random.default_rng(5))
    s4 = view_shape(heart, View.A4C, heart.ed)
    s2 = view_shape(heart, View.A2C, heart.ed)
    assert s4.septal_factor == heart.septal_factor and s2.septal_factor == 0.0
    assert s2.annulus_mm < s2.radius_mm  # base narrower than mid-cavity


@pytest.mark.parametrize("instant", ["ED", "ES"])
def test_row_discs_of_a_circular_lv_give_the_analytic_volume(instant):
    # b1 = b2, axis vertical: each image row is a disc, π/4·d_2CH·d_4CH·row_mm summed = the 3-D volume
    heart = sample_patient(np.random.default_rng(11), circular=True)
    spacing = (0.2, 0.15)
    d = {}
    for view in ("2CH", "4CH"):
        vl = rasterise_view_label(heart, view, instant, spacing=spacing, tilt_deg=0.0)
        d[view] = np.sum(vl.label == Label.LV, axis=1) * spacing[1]
        assert vl.spacing == spacing
    n = min(len(d["2CH"]), len(d["4CH"]))
    volume_ml = float(np.sum(np.pi / 4 * d["2CH"][:n] * d["4CH"][:n]) * spacing[0] / 1000)
    expected = heart.edv_ml if instant == "ED" else heart.esv_ml
    assert volume_ml == pytest.approx(expected, rel=0.01)
