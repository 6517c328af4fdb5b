"""The LVOT / aortic-root hint of the 4CH phantom: unlabelled, by the septal hinge, dark, deterministic."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi

from lunet.data.labels import Instant, Label, View
from lunet.data.synthetic.anatomy import sample_heart
from lunet.data.synthetic.appearance import sample_appearance
from lunet.data.synthetic.geometry import to_view_frame
from lunet.data.synthetic.lvot import LVOT_FRACTION, lvot_coordinates, lvot_masks, sample_lvot
from lunet.data.synthetic.patient import PhantomOptions, render_patient
from lunet.data.synthetic.slices import view_shape

GOOD = PhantomOptions(quality_mix=(1.0, 0.0, 0.0), hard_fraction=0.0, lvot_fraction=1.0)


@pytest.fixture(scope="module")
def with_and_without():
    """Patient 2 (Good, 256) rendered with an LVOT in its 4CH view and without one."""
    on = render_patient(2, 0, "256", GOOD)
    off = render_patient(2, 0, "256", dataclasses.replace(GOOD, lvot_fraction=0.0))
    return on, off


def _lumen_on_grid(vr):
    """(lumen, cusps) masks of the view's ED outflow tract on its output pixel grid."""
    g = vr.grid
    rows, cols = np.mgrid[0 : g.rows, 0 : g.cols]
    u, w = to_view_frame((cols + 0.5) * g.col_mm - g.half_width_mm, (rows + 0.5) * g.row_mm, vr.placement)
    lumen, _, cusps = lvot_masks(u, w, vr.shapes[0], vr.lvot)
    return lumen, cusps


def test_fraction_of_4ch_views_with_an_lvot_is_in_the_intended_band():
    rng = np.random.default_rng(3)
    draws = [sample_appearance(rng, "Medium").lvot for _ in range(200)]
    share = np.mean([lvot is not None for lvot in draws])
    assert 0.2 <= share <= 0.4  # LVOT_FRACTION = 0.3, binomial sd 0.03
    assert LVOT_FRACTION == pytest.approx(0.3)
    for lvot in (d for d in draws if d is not None):
        assert 18 <= lvot.diameter_mm <= 24 and 20 <= lvot.length_mm <= 30


def test_switching_the_lvot_leaves_every_other_draw_unchanged():
    with_lvot = sample_appearance(np.random.default_rng(5), "Good", lvot_fraction=1.0)
    without = sample_appearance(np.random.default_rng(5), "Good", lvot_fraction=0.0)
    assert with_lvot.lvot is not None and without.lvot is None
    assert dataclasses.replace(with_lvot, lvot=None) == without
    assert sample_lvot(np.random.default_rng(1), 1.0) == sample_lvot(np.random.default_rng(1), 1.0)


def test_channel_geometry_known_answers():
    heart = sample_heart(np.random.default_rng(0))
    shape = view_shape(heart, View.A4C, heart.ed)
    lvot = dataclasses.replace(sample_lvot(np.random.default_rng(0), 1.0), sinus=0.0)
    hinge_u = shape.bend * shape.length_mm - shape.visible_annulus_mm
    s, d, half = lvot_coordinates(np.array([hinge_u]), np.array([shape.length_mm]), shape, lvot)
    assert s[0] == pytest.approx(0.0, abs=1e-9) and d[0] == pytest.approx(-half[0])  # wall through the hinge
    # across the straight part of the channel: a lumen exactly one diameter wide
    t = np.array([-np.sin(lvot.tilt_rad), np.cos(lvot.tilt_rad)])
    n = np.array([-np.cos(lvot.tilt_rad), -np.sin(lvot.tilt_rad)])  # towards the septum
    across = np.linspace(-5, lvot.diameter_mm + 5, 3001)
    along = 0.5 * (lvot.length_mm - lvot.diameter_mm / 2)  # before the rounded far end
    pts = np.array([hinge_u, shape.length_mm]) + along * t + across[:, None] * n
    lumen, wall, _ = lvot_masks(pts[:, 0], pts[:, 1], shape, lvot)
    step = across[1] - across[0]
    assert lumen.sum() * step == pytest.approx(lvot.diameter_mm, abs=2 * step)
    assert wall.sum() * step == pytest.approx(2 * lvot.wall_mm, abs=3 * step)
    centre = pts[lumen].mean(axis=0)
    assert centre[0] < hinge_u and centre[1] > shape.length_mm  # deeper than the annulus, towards the septum


def test_labels_volumes_and_2ch_unchanged_by_the_lvot(with_and_without):
    on, off = with_and_without
    assert on.views[View.A4C].lvot is not None and off.views[View.A4C].lvot is None
    assert on.views[View.A2C].lvot is None  # a 2CH plane never shows the outflow tract
    for view in (View.A2C, View.A4C):
        np.testing.assert_array_equal(on.views[view].frame_labels, off.views[view].frame_labels)
    np.testing.assert_array_equal(on.views[View.A2C].frames, off.views[View.A2C].frames)
    assert not np.array_equal(on.views[View.A4C].frames, off.views[View.A4C].frames)
    assert (on.heart.edv_ml, on.heart.esv_ml) == (off.heart.edv_ml, off.heart.esv_ml)
    assert on.truth["views"]["4CH"]["lvot"]["diameter_mm"] == on.views[View.A4C].lvot.diameter_mm
    assert off.truth["views"]["4CH"]["lvot"] is None


def test_lvot_is_background_blood_beside_the_septal_hinge(with_and_without):
    on, off = with_and_without
    vr = on.views[View.A4C]
    lumen, cusps = _lumen_on_grid(vr)
    label, image = vr.label(Instant.ED), vr.image(Instant.ED).astype(float)
    visible = lumen & (label == Label.BG) & (image > 0)
    mm2 = vr.grid.row_mm * vr.grid.col_mm
    assert visible.sum() * mm2 > 0.25 * vr.lvot.diameter_mm * vr.lvot.length_mm  # mostly outside the labels
    to_cavity = ndi.distance_transform_edt(label != Label.LV, sampling=vr.spacing)
    assert to_cavity[visible].min() < 9.0  # mm: only the septal hinge and the LA corner lie between
    # Good quality: the channel's blood is far darker than the myocardium (log-compressed, −20 dB or more)
    core = ndi.binary_erosion(visible & ~ndi.binary_dilation(cusps, iterations=2), iterations=2)
    myo = ndi.binary_erosion(label == Label.MYO)
    assert core.sum() > 100
    assert np.median(image[core]) < 0.5 * np.median(image[myo])
    assert np.median(image[core]) < np.median(off.views[View.A4C].image(Instant.ED)[core])  # was tissue / RA


def test_lvot_rendering_is_deterministic_for_a_seed(with_and_without):
    on, _ = with_and_without
    again = render_patient(2, 0, "256", GOOD)
    np.testing.assert_array_equal(on.views[View.A4C].frames, again.views[View.A4C].frames)


def test_bad_lvot_fraction_is_rejected():
    with pytest.raises(ValueError, match="lvot_fraction"):
        render_patient(1, 0, "256", PhantomOptions(lvot_fraction=1.5))


def test_cli_and_dataset_take_the_lvot_fraction(tmp_path):
    import argparse

    from lunet.data.synthetic.commands import register
    from lunet.data.synthetic.generate import generate_dataset

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["synth", "--out", "x", "--lvot-fraction", "0.5"]).lvot_fraction == 0.5
    assert parser.parse_args(["synth", "--out", "x"]).lvot_fraction == pytest.approx(LVOT_FRACTION)
    with pytest.raises(ValueError, match="lvot_fraction"):
        generate_dataset(tmp_path, 1, size="256", lvot_fraction=-0.1)
