import io
import warnings

import numpy as np
from PIL import Image

from lunet.evaluation.schema import ImageRecord
from lunet.report.plots import clinical_figure, distance_boxplots, outlier_figure


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
        return image.size


def _image(endo_mad: float, endo_hd: float) -> ImageRecord:
    return ImageRecord("m", "p", "2CH", "ED", "Good", lv_endo_dice=0.9, lv_endo_mad_mm=endo_mad,
                       lv_endo_hd_mm=endo_hd, lv_epi_dice=0.9, lv_epi_mad_mm=1.0, lv_epi_hd_mm=5.0,
                       geometric=False)  # fmt: skip


def test_figures_are_pngs_or_none_without_data():
    i = np.arange(5.0)
    clinical = {
        "edv_ml": (100 + i, 101 + 2 * i),
        "esv_ml": (40 + 0 * i, 41 + i),
        "ef_percent": (60 - i, 59 + i),
    }
    half = {k: (p[:2], r[:2]) for k, (p, r) in clinical.items()}
    width, height = _png_size(clinical_figure([("a", clinical), ("b", half)]))
    assert width > height > 300
    images = [_image(1.0 + i, 4.0 + i) for i in range(6)]
    bounds = {"mad_mm": (3.5, 4.0), "hd_mm": (8.2, 8.8)}
    assert _png_size(distance_boxplots([("a", images), ("b", images)], bounds))
    assert _png_size(outlier_figure([("a", {"geometric": 3, "anatomical": 1, "both": 1}, 10), ("b", {}, 10)]))
    empty = np.array([])
    assert clinical_figure([("a", {k: (empty, empty) for k in clinical})]) is None
    assert distance_boxplots([("a", [])]) is None
    assert outlier_figure([("a", {}, 0)]) is None


def test_nan_values_give_a_figure_without_warnings():
    nan = np.array([float("nan")])
    one = np.array([1.0])  # one finite EF pair: no SD, no correlation
    clinical = {"edv_ml": (nan, nan + 1), "esv_ml": (nan, one), "ef_percent": (one, one + 1)}
    images = [_image(float("nan"), float("nan"))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _png_size(clinical_figure([("empty model", clinical)]))
        assert _png_size(distance_boxplots([("empty model", images)]))


def test_clinical_figure_draws_the_intervals():
    """Intervals from clinical records: bars on both panels, the legend counts the covered references, and
    the figure differs from the one without them; records without intervals give None."""
    from lunet.evaluation.schema import ClinicalRecord
    from lunet.report.plots import _draw_intervals, clinical_intervals, new_figure

    records = [
        ClinicalRecord(
            "m",
            f"p{k}",
            "Good",
            edv_ml=100.0 + k,
            esv_ml=40.0,
            ef_percent=60.0 - k,
            ef_lo_percent=55.0 - k,
            ef_hi_percent=65.0 - k,
            edv_lo_ml=90.0 + k,
            edv_hi_ml=110.0 + k,
            esv_lo_ml=35.0,
            esv_hi_ml=45.0,
        )
        for k in range(3)
    ]
    bounds = clinical_intervals(records)
    assert bounds is not None
    np.testing.assert_allclose(bounds["ef_percent"][0], [55.0, 54.0, 53.0])
    assert clinical_intervals([ClinicalRecord("m", "p", "Good", ef_percent=50.0)]) is None
    figure = new_figure(4, 4)
    top, bottom = figure.subplots(2)
    pred, ref = np.array([60.0, 59.0, 58.0]), np.array([61.0, 70.0, 53.0])
    text = _draw_intervals(top, bottom, pred, ref, bounds["ef_percent"], "#1f77b4")
    assert text == "; interval covers 2/3" and len(top.containers) == len(bottom.containers) == 1
    assert _draw_intervals(top, bottom, pred, ref, bounds["ef_percent"], "#1f77b4", 0.9) == (
        "; 90 % interval covers 2/3"
    )
    clinical = {k: (np.array([getattr(r, k) for r in records]), np.array([61.0, 70.0, 53.0])) for k in bounds}
    plain = clinical_figure([("a", clinical)])
    drawn = clinical_figure([("a", clinical)], [bounds])
    assert plain is not None and drawn is not None and plain != drawn
    assert clinical_figure([("a", clinical)], [None]) == plain
