"""The report's summary: one row per model, paired bootstrap differences to the baseline, and the reading."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lunet.report.readers import load_run
from lunet.report.series import series_of
from lunet.report.summary import (
    METRICS,
    Difference,
    SummaryRow,
    _corr_difference,
    _mean_difference,
    paired_difference,
    reading,
    summary_html,
    summary_rows,
)


def test_paired_difference_known_answers():
    base = np.zeros(5)
    shifted = paired_difference((base, np.array([1.0, 2.0, 3.0, 4.0, 5.0])), _mean_difference)
    assert shifted.value == pytest.approx(3.0) and shifted.n == 5
    assert 1.0 <= shifted.low < 3.0 < shifted.high <= 5.0 and shifted.excludes_zero
    noise = paired_difference((base, np.array([-2.0, 1.0, -1.0, 2.0, 0.5, -0.5])[:5]), _mean_difference)
    assert noise.low < 0 < noise.high and not noise.excludes_zero
    few = paired_difference((np.zeros(2), np.ones(2)), _mean_difference)
    assert few.value == 1.0 and math.isnan(few.low) and not few.excludes_zero
    # the same data and seed give the same interval
    again = paired_difference((base, np.array([1.0, 2.0, 3.0, 4.0, 5.0])), _mean_difference)
    assert (again.low, again.high) == (shifted.low, shifted.high)


def test_correlation_difference_is_paired_on_the_patients():
    rng = np.random.default_rng(1)
    ref = rng.uniform(30, 70, 40)
    perfect, noisy = ref + 1.0, ref + rng.normal(0, 15, 40)
    diff = paired_difference((perfect, noisy, ref), _corr_difference)
    assert diff.value == pytest.approx(np.corrcoef(noisy, ref)[0, 1] - 1.0)
    assert diff.high < 0 and diff.excludes_zero


def _loaded(fake_setup):
    from lunet.report.html import ensure_evaluation

    ensure_evaluation(fake_setup["run_a"])
    return [load_run(fake_setup["run_a"], "unet1"), load_run(fake_setup["run_b"], "lunet")]


def test_summary_rows_match_the_tables_and_pair_the_patients(fake_setup):
    runs = _loaded(fake_setup)
    rows = summary_rows(series_of(runs))
    assert [r.label for r in rows] == ["unet1", "lunet"]  # LU-Net's o1 left out, its o2 named after the run
    assert rows[0].differences is None and set(rows[1].differences) == {m.key for m in METRICS}
    for row, run, model in zip(rows, runs, ("unet1", "lunet-o2")):
        tables = json.loads((run.run_dir / "evaluation" / "tables.json").read_text())
        t4 = next(r for r in tables["table4"]["rows"] if r["model"] == model)
        t2 = next(r for r in tables["table2"]["rows"] if r["model"] == model)  # every patient is "Good"
        t3 = next(
            r for r in tables["table3"]["rows"]
            if r["model"] == model and r["reference"] == tables["clinical_reference"]
        )  # fmt: skip
        assert row.values["lv_endo_dice"] == pytest.approx(t2["lv_endo_dice"]["mean"])
        assert row.values["lv_epi_hd_mm"] == pytest.approx(t4["lv_epi_hd_mm"]["mean"])
        assert row.values["outlier_images"] == pytest.approx(t4["geometric_images"]["percent"])
        assert row.values["outlier_patients"] == pytest.approx(t4["geometric_patients"]["percent"])
        assert row.values["ef_mae"] == pytest.approx(t3["ef_percent"]["mae"])
        corr = t3["ef_percent"]["corr"]  # null: the phantom's truth EF is constant here
        assert row.values["ef_corr"] == pytest.approx(math.nan if corr is None else corr, nan_ok=True)
        assert row.patients == 3
    # the Dice difference by hand: per patient, the mean of its 4 images, lunet-o2 − unet1
    per = {
        model: {p: np.mean([r.lv_endo_dice for r in run.per_image if r.model == model and r.patient == p])
                for p in ("patient0001", "patient0002", "patient0003")}
        for run, model in zip(runs, ("unet1", "lunet-o2"))
    }  # fmt: skip
    expected = np.mean([per["lunet-o2"][p] - per["unet1"][p] for p in per["unet1"]])
    diff = rows[1].differences["lv_endo_dice"]
    assert diff.value == pytest.approx(expected) and diff.n == 3 and diff.low <= diff.value <= diff.high


def _row(label, diffs):
    values = {m.key: 1.0 for m in METRICS}
    return SummaryRow(label, values, 10, 10, diffs)


def test_reading_names_the_differences_whose_interval_excludes_zero():
    unsure = Difference(0.01, -0.02, 0.04, 10)
    diffs = {m.key: unsure for m in METRICS}
    diffs["lv_epi_hd_mm"] = Difference(-1.0, -1.5, -0.5, 10)  # lower is better
    diffs["ef_corr"] = Difference(-0.05, -0.09, -0.01, 10)  # higher is better
    text = reading([_row("unet1", None), _row("lunet", diffs)])
    assert text.startswith("lunet vs unet1: better on LV_Epi d_H −1.00 mm; worse on EF corr −0.050")
    unsure_names = "LV_Endo Dice, LV_Epi Dice, LV_Endo d_H, outlier images, outlier patients, EF MAE"
    assert f"{unsure_names}: interval includes zero" in text
    none = {m.key: unsure for m in METRICS} | {"ef_corr": Difference(-0.5, math.nan, math.nan, 2)}
    assert reading([_row("unet1", None), _row("lunet", none)]) == (
        "lunet vs unet1: no difference whose 95 % interval excludes zero; EF corr: no interval (too few "
        "patients)."
    )
    assert "no baseline" in reading([_row("unet1", None)])


def test_summary_html_is_one_row_per_model_with_its_interval(fake_setup):
    text = summary_html(series_of(_loaded(fake_setup)))
    table = text[: text.index("</table>")]
    assert table.count("<tr>") == 3 and 'id="summary-table"' in table  # header + 2 models
    assert table.count("Δ ") == len(METRICS) and "baseline" in table
    assert 'id="reading"' in text and "lunet vs unet1:" in text
