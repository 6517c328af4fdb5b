"""Image formation and per-tissue statistics of the hard phantom: speckle, contrast by quality, leaflets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy import stats

from lunet.data.labels import Instant, Label, View
from lunet.data.synthetic.anatomy import sample_heart
from lunet.data.synthetic.appearance import sample_appearance, sample_fields
from lunet.data.synthetic.geometry import place_view, polar_grid, sector_grid
from lunet.data.synthetic.patient import PhantomOptions, render_patient
from lunet.data.synthetic.render import echogenicity, envelope_from_maps, prepare_view
from lunet.data.synthetic.slices import labels_from_masks, shape_masks, view_shape
from lunet.data.synthetic.tissue import LEAFLET_HALF_THICKNESS_MM, mitral_apparatus


def _view(seed: int, quality: str = "Good"):
    rng = np.random.default_rng(seed)
    heart = sample_heart(rng)
    shape = view_shape(heart, View.A4C, heart.ed)
    placement = place_view(rng, [shape], View.A4C, hard=False)
    polar = polar_grid(sector_grid(placement, (0.6, 0.6)))
    app = sample_appearance(rng, quality)
    fields = sample_fields(rng, polar.nr, polar.nth, placement.depth_mm / polar.nr, 0.5)
    beam = prepare_view(placement, polar, app, fields, (shape,))
    return shape, beam, app, fields


def _expected_power(e_map, beam, app):
    ghost = app.reverberation * e_map[np.arange(e_map.shape[0]) // 2]
    return beam.gain**2 * (e_map + beam.clutter + ghost) + beam.noise2


def test_speckle_of_a_uniform_medium_is_rayleigh():
    _, beam, app, fields = _view(1)
    app = dataclasses.replace(app, specular=0.0)
    e_map = np.ones(beam.u.shape, np.float32)
    env = envelope_from_maps(e_map, np.zeros_like(e_map), beam, app, fields)
    x = env / np.sqrt(_expected_power(e_map, beam, app))  # unit mean power where E is uniform
    inner = x[40:-40, 20:-20]
    assert np.mean(inner**2) == pytest.approx(1.0, abs=0.05)
    assert inner.mean() / inner.std() == pytest.approx(np.sqrt(np.pi / (4 - np.pi)), rel=0.05)  # 1.91
    sample = inner[::8, ::4].ravel()  # about one sample per speckle cell
    assert stats.kstest(sample, stats.rayleigh(scale=np.sqrt(0.5)).cdf).pvalue > 0.01


def test_myocardial_envelope_is_rayleigh_before_log_compression():
    shape, beam, app, fields = _view(2)
    app = dataclasses.replace(app, specular=0.0)
    e_map, z_map, _ = echogenicity(shape, beam, app, fields, True)
    env = envelope_from_maps(e_map, z_map, beam, app, fields)
    endo, epi, _ = shape_masks(beam.u, beam.w, shape)
    core = ndi.binary_erosion(epi & ~endo, iterations=3)  # away from the interfaces
    assert core.sum() > 500
    x = (env / np.sqrt(_expected_power(e_map, beam, app)))[core]
    assert x.mean() / x.std() == pytest.approx(1.91, rel=0.12)
    # after log compression the grey levels are no longer Rayleigh: the image is what the network sees
    db = 20 * np.log10(env[core])
    assert stats.skew(db) < 0  # log-Rayleigh is skewed to the left


def _lv_myo_overlap(patient) -> tuple[float, float]:
    """(median LV − median myocardium grey level, overlap of their normalised histograms) over the views."""
    lv, myo = [], []
    for vr in patient.views.values():
        img, lab = vr.image(Instant.ED), vr.label(Instant.ED)
        lv.append(img[lab == Label.LV])
        myo.append(img[lab == Label.MYO])
    lv_all, myo_all = np.concatenate(lv), np.concatenate(myo)
    h_lv = np.histogram(lv_all, bins=32, range=(0, 256))[0] / lv_all.size
    h_myo = np.histogram(myo_all, bins=32, range=(0, 256))[0] / myo_all.size
    return float(np.median(lv_all) - np.median(myo_all)), float(np.minimum(h_lv, h_myo).sum())


@pytest.mark.parametrize("index", [1, 2])
def test_blood_darker_than_myocardium_in_good_with_overlapping_histograms_in_poor(index):
    good = render_patient(index, 0, "256", PhantomOptions(quality_mix=(1, 0, 0), hard_fraction=0))
    poor = render_patient(index, 0, "256", PhantomOptions(quality_mix=(0, 0, 1), hard_fraction=0))
    diff_good, overlap_good = _lv_myo_overlap(good)
    diff_poor, overlap_poor = _lv_myo_overlap(poor)
    assert diff_good < -25 and overlap_good < 0.45  # Good: a clearly darker cavity
    assert overlap_poor > 0.45 and overlap_poor > overlap_good + 0.15  # Poor: the tissues overlap
    assert diff_poor > diff_good


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_mitral_leaflets_sit_on_the_reference_lv_la_boundary(seed):
    rng = np.random.default_rng(seed)
    heart = sample_heart(rng)
    app = sample_appearance(rng, "Good")
    for view in View:
        for phase in (heart.ed, heart.es):
            shape = view_shape(heart, view, phase)
            step = 0.05
            u = np.arange(-40, 40, step)
            w = np.arange(shape.length_mm - 6, shape.length_mm + 6, step)
            uu, ww = np.meshgrid(u, w)
            label = labels_from_masks(*shape_masks(uu, ww, shape))
            leaflet = mitral_apparatus(uu, ww, shape, dataclasses.replace(app, annulus_radius_mm=0.0))
            ub = u - shape.bend * shape.length_mm
            cols = np.flatnonzero(np.abs(ub) < 0.9 * shape.visible_annulus_mm)
            assert cols.size > 50
            for c in cols[::10]:
                lv_rows = np.flatnonzero(label[:, c] == Label.LV)
                boundary = w[lv_rows.max()] + step / 2  # last LV sample → LA above it
                assert label[lv_rows.max() + 1, c] == Label.LA
                centre = w[leaflet[:, c]].mean()
                assert abs(centre - boundary) <= 1.0  # leaflet centre line within 1 mm of the reference
                assert np.ptp(w[leaflet[:, c]]) <= 2 * LEAFLET_HALF_THICKNESS_MM + step


def test_analytic_volumes_are_unchanged_by_appearance():
    base = render_patient(3, 0, "256")
    for options in (
        PhantomOptions(quality_mix=(0, 0, 1)),
        PhantomOptions(quality_mix=(1, 0, 0), hard_fraction=1.0),
        PhantomOptions(annotation_sd_mm=1.5),
    ):
        other = render_patient(3, 0, "256", options)
        assert other.heart == base.heart
        for key in ("edv_ml", "esv_ml", "ef_percent"):
            assert other.truth[key] == base.truth[key]
