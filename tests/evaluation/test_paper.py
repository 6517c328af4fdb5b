"""The papers' published figures beside ours: names, values, and never a comparison on synthetic data."""

from __future__ import annotations

import pytest

from lunet.evaluation.paper import PUBLISHED, paper_comparison, paper_name


def test_model_names_follow_the_papers() -> None:
    assert paper_name("unet1") == "U-Net1" and paper_name("lunet-o2") == "LU-Net-m5"
    assert paper_name("lunet", margin=0.15) == "LU-Net-m15" and paper_name("lunet-o1") == "LU-Net-m5-o1"
    assert paper_name("unet1-oracle", margin=0.30) == "BB-m30" and paper_name("BB-m15") == "BB-m15"


def test_published_values_as_printed() -> None:
    found = {(f.source, f.model, f.metric): f.value for f in PUBLISHED}
    assert found[("LU-Net (TUFFC 2020) Table II", "U-Net1", "lv_endo_dice.mean")] == 0.920
    assert found[("LU-Net (TUFFC 2020) Table III", "LU-Net-m5", "ef_percent.corr")] == 0.829
    # outlier counts are fractions of images: 423 of 2000 = 21 %, 240 of 1624 = 15 %
    assert found[("LU-Net (TUFFC 2020) Table IV", "U-Net1", "geometric_images.percent")] == pytest.approx(
        21.15
    )
    assert found[("LU-Net (TUFFC 2020) Table II", "RU-Net", "geometric_images.percent")] == pytest.approx(
        14.78, abs=0.01
    )
    assert found[("RU-Net (IUS 2019) Table II", "RU-Net", "anatomical_images.percent")] == pytest.approx(1.15)


def _tables(synthetic: bool) -> dict:
    row2 = {"model": "unet1", "lv_endo_dice": {"mean": 0.9, "sd": 0.05, "n": 8}}
    row3 = {
        "model": "unet1",
        "reference": "cfg",
        "ef_percent": {"corr": 0.8, "bias": 1.0, "sd": 5.0, "mae": 4.0},
    }
    row4 = {"model": "unet1", "geometric_images": {"count": 10, "total": 40, "percent": 25.0}}
    return {"synthetic": synthetic, "table1": {"rows": []}, "table2": {"rows": [row2]},
            "table3": {"rows": [row3]}, "table4": {"rows": [row4]}}  # fmt: skip


def test_real_data_is_compared_synthetic_data_never() -> None:
    real = paper_comparison(_tables(False))
    rows = {(r["source"], r["paper_model"], r["metric"]): r for r in real["rows"]}
    dice = rows[("LU-Net (TUFFC 2020) Table II", "U-Net1", "lv_endo_dice.mean")]
    assert real["comparable"] and dice["model"] == "unet1" and dice["ours"] == 0.9
    assert dice["difference"] == pytest.approx(0.9 - 0.920)
    loa = rows[("LU-Net (TUFFC 2020) Table III", "U-Net1", "ef_percent.loa")]
    assert loa["ours"] == pytest.approx(1.96 * 5.0) and loa["paper"] == 15.1
    geo = rows[("LU-Net (TUFFC 2020) Table IV", "U-Net1", "geometric_images.percent")]
    assert geo["difference"] == pytest.approx(25.0 - 21.15)
    assert rows[("LU-Net (TUFFC 2020) Table II", "intra-observer", "lv_endo_dice.mean")]["ours"] is None
    assert not any(r["paper_model"] == "LU-Net-m5" for r in real["rows"])  # only the models evaluated
    synthetic = paper_comparison(_tables(True))
    assert not synthetic["comparable"] and "never compared" in synthetic["note"]
    assert all(r["ours"] is None and r["difference"] is None for r in synthetic["rows"])
    assert len(synthetic["rows"]) == len(real["rows"])
