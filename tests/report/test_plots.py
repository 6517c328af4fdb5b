import io
import warnings

from PIL import Image

from lunet.report.plots import clinical_figure, distance_boxplots, outlier_figure


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
        return image.size


def test_figures_are_pngs_or_none_without_data():
    clinical = [
        {"patient": f"p{i}", "edv": (100.0 + i, 101.0 + 2 * i), "esv": (40.0, 41.0 + i), "ef": (60.0, 59.0)}
        for i in range(5)
    ]
    width, height = _png_size(clinical_figure([("a", clinical), ("b", clinical[:2])]))
    assert width > height > 300
    epi = {"dice": 0.9, "dm": 1.0, "dh": 5.0}
    images = [{"LV_Endo": {"dice": 0.9, "dm": 1.0 + i, "dh": 4.0 + i}, "LV_Epi": epi} for i in range(6)]
    assert _png_size(distance_boxplots([("a", images), ("b", images)], {"dm": [3.5, 4.0], "dh": [8.2, 8.8]}))
    assert _png_size(outlier_figure([("a", {"geometric": 3, "anatomical": 1, "both": 1}, 10), ("b", {}, 10)]))
    assert clinical_figure([("a", [])]) is None
    assert distance_boxplots([("a", [])]) is None
    assert outlier_figure([("a", {}, 0)]) is None


def test_nan_values_give_a_figure_without_warnings():
    nan = float("nan")
    clinical = [{"patient": "p1", "edv": (nan, 100.0), "esv": (nan, 40.0), "ef": (nan, 60.0)}]
    images = [
        {"LV_Endo": {"dice": 0.0, "dm": nan, "dh": nan}, "LV_Epi": {"dice": 0.5, "dm": 9.0, "dh": 30.0}}
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _png_size(clinical_figure([("empty model", clinical)]))
        assert _png_size(distance_boxplots([("empty model", images)]))
