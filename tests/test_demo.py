import pytest

from lunet.cli import main
from lunet.demo import DemoSettings, check_settings, disk_usage, format_summary, run_demo
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


@pytest.mark.slow
def test_tiny_demo_runs_end_to_end(tmp_path):
    settings = DemoSettings(patients=6, n_folds=3, epochs=1, models=("unet1", "lunet"))
    text = run_demo(tmp_path / "demo", settings)
    assert "SYNTHETIC" in text and "| unet1 |" in text and "| lunet-o2 |" in text
    assert (tmp_path / "demo" / "summary.md").read_text() == text
    for model in ("unet1", "lunet"):
        assert (tmp_path / "demo" / "runs" / model / "evaluation" / "per_image.csv").is_file()
    assert (tmp_path / "demo" / "report.html").is_file() and "| unet1 | 1/1 |" in text and "Disk: " in text
    assert "<td>max epochs</td>" in (tmp_path / "demo" / "report.html").read_text()
