import pytest

from lunet.training.demo import DemoSettings, format_summary, run_demo


def test_settings_full_is_the_paper_protocol_and_flags_override():
    full = DemoSettings.full()
    assert (full.patients, full.size, full.n_folds, full.patience, full.cross_validate) == (
        500,
        256,
        10,
        20,
        True,
    )
    assert DemoSettings().replace(models="unet1, lunet", epochs=None).models == ("unet1", "lunet")
    assert DemoSettings().size == 64 and DemoSettings().max_time_s["lunet"] > 0


def test_summary_table_is_labelled_synthetic():
    row = {
        "model": "unet1",
        "lv_endo_dice": 0.9,
        "lv_epi_dice": 0.91,
        "lv_endo_mad_mm": 1.0,
        "lv_endo_hd_mm": 3.0,
        "lv_epi_mad_mm": 1.1,
        "lv_epi_hd_mm": 4.0,
        "outlier_patients": "1/8",
        "ef_mae": 2.0,
    }
    text = format_summary([row], DemoSettings(), 125.0)
    assert "SYNTHETIC" in text and "| unet1 | 0.900 | 0.910 |" in text and "2.1 min" in text


@pytest.mark.slow
def test_tiny_demo_runs_end_to_end(tmp_path):
    settings = DemoSettings(patients=6, n_folds=3, epochs=1, models=("unet1", "lunet"), max_time_s=None)
    text = run_demo(tmp_path / "demo", settings)
    assert "SYNTHETIC" in text and "| unet1 |" in text and "| lunet-o2 |" in text
    assert (tmp_path / "demo" / "summary.md").read_text() == text
    for model in ("unet1", "lunet"):
        assert (tmp_path / "demo" / "runs" / model / "evaluation" / "per_image.csv").is_file()
    assert (tmp_path / "demo" / "report.html").is_file()
