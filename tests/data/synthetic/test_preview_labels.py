"""The phantom gallery's row label comes from the views it shows: a row and its panels name one quality."""

from __future__ import annotations

from types import SimpleNamespace

from lunet.data.synthetic.preview import ROWS, row_label


def _patient(*qualities: str) -> SimpleNamespace:
    return SimpleNamespace(views={k: SimpleNamespace(quality=q) for k, q in enumerate(qualities)})


def test_row_label_names_the_quality_of_the_views_shown(caplog):
    assert row_label("Poor", _patient("Poor", "Poor")) == "Poor"
    assert row_label("hard case", _patient("Medium", "Medium")) == "hard case (Medium)"
    assert row_label("hard case", _patient("Poor", "Good")) == "hard case (Good / Poor)"
    # a tier row whose patient could not be matched says what it shows, and the log says why
    assert row_label("Poor", _patient("Medium", "Poor")) == "Medium / Poor"
    assert "no patient with both views Poor; showing Medium / Poor" in caplog.text


def test_gallery_rows_and_panels_agree():
    from lunet.data.synthetic.patient import PhantomOptions
    from lunet.data.synthetic.preview import _row_patient

    for index, (title, mix, hard, lvot) in enumerate(ROWS):
        options = PhantomOptions(quality_mix=mix, hard_fraction=hard, lvot_fraction=lvot)
        patient = _row_patient(title, 1 + index, 0, options)
        label = row_label(title, patient)
        shown = {vr.quality for vr in patient.views.values()}
        assert all(q in label for q in shown)
        assert label == title if title != "hard case" else label.startswith("hard case (")
