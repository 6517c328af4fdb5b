import math

import pytest

from lunet.cli import main
from lunet.demo import DemoSettings, check_settings, run_demo
from lunet.demo_summary import disk_usage, format_summary
from lunet.models.registry import UnknownModelError


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
    assert DemoSettings().size == 64 and DemoSettings().patience == 0  # equal epochs, no early stop
    configs = [DemoSettings().train_config(m, "d", "c") for m in DemoSettings().models]
    assert configs[0].trainer == configs[1].trainer and configs[0].trainer.max_time_s is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--models", "unet1,lunnet"], "unknown model 'lunnet'"),
        (["--size", "100"], "multiple of 32"),
        (["--patients", "2"], "one patient per fold"),
        (["--epochs", "0"], "epochs must be >= 1"),
    ],
)
def test_bad_arguments_fail_before_any_work(flags, message, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # no dataset, no cache, no run folder


def test_check_settings_rejects_an_unknown_model_option(tmp_path):
    with pytest.raises(UnknownModelError, match="lunnet"):
        check_settings(tmp_path, DemoSettings(models=("lunnet",)))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        check_settings(tmp_path / "file", DemoSettings())


def test_disk_usage_by_sub_folder(tmp_path):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "w").write_bytes(b"x" * 300)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d").write_bytes(b"x" * 20)
    (tmp_path / "summary.md").write_bytes(b"x" * 1)
    assert disk_usage(tmp_path) == {"runs": 300, "data": 20, ".": 1}


def test_summary_table_is_labelled_synthetic():
    row = {
        "model": "unet1",
        "epochs": "12/30 (early stopping)",
        "lv_endo_dice": 0.9,
        "lv_epi_dice": 0.91,
        "lv_endo_mad_mm": 1.0,
        "lv_endo_hd_mm": 3.0,
        "lv_epi_mad_mm": 1.1,
        "lv_epi_hd_mm": 4.0,
        "geometric_images": "1/8",
        "anatomical_images": "0/8",
        "ef_mae": 2.0,
    }
    text = format_summary([row], DemoSettings(), 125.0)
    assert "SYNTHETIC" in text and "| unet1 | 12/30 (early stopping) | 0.900 | 0.910 |" in text
    assert "the same budget of 30 epochs per model" in text and "2.1 min" in text
    assert "| 1/8 | 0/8 | 2.0 |" in text


def test_summary_states_the_interval_level_and_why_it_is_not_90():
    row = {"model": "unet1", "epochs": "30/30", "lv_endo_dice": 0.9, "lv_epi_dice": 0.9,
           "lv_endo_mad_mm": 1.0, "lv_endo_hd_mm": 3.0, "lv_epi_mad_mm": 1.0, "lv_epi_hd_mm": 4.0,
           "geometric_images": "0/8", "anatomical_images": "0/8", "ef_mae": 2.0}  # fmt: skip
    calibrated = {**row, "interval_level": 0.8, "interval_patients": 8, "ef_interval_covers": "7/8",
                  "ef_interval_width": 12.34}  # fmt: skip
    text = format_summary([calibrated], DemoSettings(), 60.0)
    assert (
        "EF/EDV/ESV intervals at 80 % (`lunet train` calibrates at 90 %, which needs 9 validation patients): "
        "split-conformal on the 8 validation patients of the fold" in text
    )
    assert "unet1 7/8 (mean width 12.3 EF points)" in text
    none = {**row, "interval_level": math.nan, "interval_patients": 0, "ef_interval_covers": ""}
    text = format_summary([none], DemoSettings(), 60.0)
    assert "EF/EDV/ESV intervals: none: 80 % intervals need at least 4 validation patients per fold." in text
    text = format_summary([none], DemoSettings.full(), 60.0)
    assert "each fold calibrated at 90 % where it has at least 9 validation patients" in text
    assert "intervals" not in format_summary([row], DemoSettings(), 60.0)  # a row of an older demo


@pytest.mark.slow
def test_tiny_demo_runs_end_to_end(tmp_path):
    """12 patients in 3 folds: 4 validation patients, the fewest 80 % intervals allow; 30 epochs of 16 frames
    give every frame an LV, so both runs are calibrated and clinical.csv carries the intervals."""
    from lunet.evaluation.interval_calibration import read_calibration
    from lunet.evaluation.schema import ClinicalRecord, read_records
    from lunet.report.plots import clinical_intervals

    settings = DemoSettings(
        patients=12, n_folds=3, epochs=30, lr=3e-3, batch_size=2, models=("unet1", "lunet")
    )
    text = run_demo(tmp_path / "demo", settings)
    assert "SYNTHETIC" in text and "| unet1 |" in text and "| lunet-o2 |" in text
    assert (tmp_path / "demo" / "summary.md").read_text() == text
    for model in ("unet1", "lunet"):
        run = tmp_path / "demo" / "runs" / model
        assert (run / "evaluation" / "per_image.csv").is_file()
        calibration = read_calibration(run)
        assert calibration is not None and (calibration.level, calibration.n_patients) == (0.8, 4)
        records = read_records(run / "evaluation" / "clinical.csv", ClinicalRecord)
        final = [r for r in records if r.model in (model, f"{model}-o2")]
        assert len(final) == 4
        for r in final:  # the EF interval is clipped to [0, 100]; a barely trained model's EF may lie outside
            assert r.ef_lo_percent <= max(r.ef_percent, 0.0) and min(r.ef_percent, 100.0) <= r.ef_hi_percent
            assert r.ef_hi_percent > r.ef_lo_percent and r.edv_lo_ml <= r.edv_ml <= r.edv_hi_ml
        assert clinical_intervals(final) is not None  # what the report's clinical figure draws as bars
    assert (tmp_path / "demo" / "report.html").is_file() and "| unet1 | 30/30 |" in text and "Disk: " in text
    assert "EF/EDV/ESV intervals at 80 %" in text and "split-conformal on the 4 validation patients" in text
    assert "<td>max epochs</td>" in (tmp_path / "demo" / "report.html").read_text()
