"""In-memory rendering: image statistics, quality tiers, hard cases, truth contents."""

from __future__ import annotations

import numpy as np
import pytest

from lunet.boxes import reference_box
from lunet.data.labels import Instant, Label, View
from lunet.data.synthetic.patient import PhantomOptions, render_patient


@pytest.fixture(scope="module")
def patient():
    return render_patient(1, seed=3, size="256")


def test_images_are_uint8_speckle_with_contrast(patient):
    for vr in patient.views.values():
        assert vr.frames.dtype == np.uint8 and vr.frame_labels.dtype == np.uint8
        assert vr.frames.shape == vr.frame_labels.shape == (3, 256, 256)
        for inst in Instant:
            img, lab = vr.image(inst).astype(float), vr.label(inst)
            assert set(np.unique(lab)) <= {0, 1, 2, 3}
            myo, lv = img[lab == Label.MYO], img[lab == Label.LV]
            assert myo.std() > 5  # speckle, not a constant
            assert myo.mean() > lv.mean() + 10  # blood is dark, myocardium bright
            assert img[0, :].max() == 0 or img[0, 0] == 0  # black outside the sector
        # ED and ES differ (the heart moves) but share the probe geometry
        assert not np.array_equal(vr.image(Instant.ED), vr.image(Instant.ES))
        assert np.sum(vr.label(Instant.ED) == Label.LV) > np.sum(vr.label(Instant.ES) == Label.LV)


def test_truth_contents(patient):
    t = patient.truth
    assert t["synthetic"] is True
    assert t["ef_percent"] == pytest.approx(100 * (t["edv_ml"] - t["esv_ml"]) / t["edv_ml"])
    assert t["edv_ml"] == patient.heart.edv_ml
    for view in View:
        vt = t["views"][view.value]
        vr = patient.views[view]
        assert vt["spacing_mm"] == list(vr.spacing)
        for inst in Instant:
            it = vt["instants"][inst.value]
            assert it["box"] == list(reference_box(vr.label(inst), 0.0))
            r, c = (round(x) for x in it["apex_px"])  # the apex sits at the cavity tip
            assert vr.label(inst)[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4].max() > 0
    diff = t["views"]["2CH"]["plane_azimuth_deg"] - t["views"]["4CH"]["plane_azimuth_deg"]
    assert 53 <= diff <= 67


def test_same_index_and_seed_is_reproducible():
    a = render_patient(2, seed=5, size="256")
    b = render_patient(2, seed=5, size="256")
    c = render_patient(2, seed=6, size="256")
    assert np.array_equal(a.views[View.A4C].frames, b.views[View.A4C].frames)
    assert a.heart.edv_ml != c.heart.edv_ml


def test_hard_cases_have_a_smaller_lv_fraction():
    for index in (1, 2):
        easy = render_patient(index, 0, "256", PhantomOptions(hard_fraction=0.0))
        hard = render_patient(index, 0, "256", PhantomOptions(hard_fraction=1.0))
        assert hard.hard and not easy.hard
        assert easy.heart == hard.heart  # same anatomy, different pose
        for view in View:
            f_easy = easy.truth["views"][view.value]["instants"]["ED"]["lv_fraction"]
            f_hard = hard.truth["views"][view.value]["instants"]["ED"]["lv_fraction"]
            assert f_hard < 0.8 * f_easy


def test_quality_tiers_change_the_image():
    good = render_patient(4, 0, "256", PhantomOptions(quality_mix=(1, 0, 0)))
    poor = render_patient(4, 0, "256", PhantomOptions(quality_mix=(0, 0, 1)))
    assert good.image_quality == "Good"
    assert poor.image_quality in ("Medium", "Poor")  # a view of a Poor patient may be one tier better

    def blood_level(p):
        vr = p.views[View.A2C]
        return vr.image(Instant.ED)[vr.label(Instant.ED) == Label.LV].mean()

    assert blood_level(poor) > blood_level(good)  # clutter and haze fill the cavity


def test_native_size_is_native_like():
    p = render_patient(1, 0, "native")
    for vr in p.views.values():
        rows, cols = vr.frames.shape[1:]
        assert rows >= 300 and cols >= 300
        assert all(0.15 <= s <= 0.5 for s in vr.spacing)


def test_bad_quality_mix_is_rejected():
    with pytest.raises(ValueError, match="quality_mix"):
        render_patient(1, 0, "256", PhantomOptions(quality_mix=(1.0, 0.0)))
