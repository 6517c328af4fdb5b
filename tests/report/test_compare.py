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
