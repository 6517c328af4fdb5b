import math

from lunet.evaluation.schema import ImageRecord
from lunet.report.compare import comparison_cases


def _rows(scores: dict[str, float]) -> list[ImageRecord]:
    return [ImageRecord("m", p, "2CH", "ED", "Good", lv_epi_hd_mm=dh) for p, dh in scores.items()]


def test_similar_helped_and_hardest_cases_like_fig2():
    first = _rows({"p1": 5.0, "p2": 12.0, "p3": 20.0, "p4": 6.0, "p5": math.nan})
    last = _rows({"p1": 5.1, "p2": 4.0, "p3": 19.0, "p4": 3.0, "p5": 1.0, "p6": 2.0})
    cases = comparison_cases(first, last)
    assert cases == [
        ("(a) similar", ("p1", "2CH", "ED")),  # |5.0 - 5.1| smallest
        ("(b) last model better", ("p2", "2CH", "ED")),  # 12 - 4 = 8 largest gain
        ("(c) hardest for the last model", ("p3", "2CH", "ED")),  # 19 worst of the last
    ]


def test_cases_are_distinct_and_need_common_images():
    first = _rows({"p1": 10.0})
    last = _rows({"p1": 2.0})
    assert comparison_cases(first, last) == [("(a) similar", ("p1", "2CH", "ED"))]  # one image: one case
    assert comparison_cases(_rows({"p1": 1.0}), _rows({"p2": 1.0})) == []


def _legend_of_comparison(series, source, monkeypatch) -> list[str]:
    """The legend texts of :func:`comparison_figure` (the figure caught before it becomes a PNG)."""
    import lunet.report.plots as plots
    from lunet.report.compare import comparison_figure

    caught = []
    real_png = plots.figure_png

    def catch(figure, dpi=100):
        caught.append([text.get_text() for legend in figure.legends for text in legend.get_texts()])
        return real_png(figure, dpi)

    monkeypatch.setattr(plots, "figure_png", catch)
    png, _ = comparison_figure(series, [source] * len(series))
    assert png is not None and png.startswith(b"\x89PNG") and len(caught) == 1
    return caught[0]


def test_the_legend_lists_the_atrium_only_when_an_atrium_is_drawn(fake_setup, tmp_path, monkeypatch):
    import shutil

    from lunet.evaluation.evaluate import evaluate_run
    from lunet.report.gallery import ImageSource
    from lunet.report.readers import load_run
    from lunet.report.series import series_of

    source = ImageSource(fake_setup["data"])
    lv_only = load_run(fake_setup["run_b"], "lunet")  # its config names no LA: LA neither scored nor drawn
    assert not any(math.isfinite(r.la_dice) for r in lv_only.per_image)
    texts = _legend_of_comparison(series_of([lv_only]), source, monkeypatch)
    assert {"predicted LV_Endo", "reference LV_Epi", "predicted box"} <= set(texts)
    assert not [t for t in texts if "LA" in t]

    run_dir = tmp_path / "run"  # the same predictions (they hold label 3), evaluated as an LA-trained model
    shutil.copytree(fake_setup["run_b"], run_dir)
    evaluate_run(run_dir, atrium=True)
    with_la = load_run(run_dir, "lunet")
    assert any(math.isfinite(r.la_dice) for r in with_la.per_image)
    texts = _legend_of_comparison(series_of([with_la]), source, monkeypatch)
    assert {"predicted LA", "reference LA", "predicted LV_Endo", "predicted box"} <= set(texts)
