import json
import shutil

import pytest

from lunet.evaluation.schema import SchemaError
from lunet.report.readers import ReportInputError, load_run, read_json, unique_labels
from lunet.report.series import series_of
from lunet.report.thresholds import geometric_bounds


def test_load_run_reads_the_records_by_exact_key(fake_setup):
    run = load_run(fake_setup["run_b"], "lunet")
    assert run.label == "lunet" and run.config["margin"] == 0.05 and run.settings.size == 64
    assert run.models == ["lunet-o1", "lunet-o2"] and run.synthetic
    assert len(run.per_image) == 24 and len(run.per_patient) == 6 and len(run.clinical) == 6
    assert len(run.boxes) == 12
    worst = max((r for r in run.per_image if r.model == "lunet-o2"), key=lambda r: r.lv_epi_hd_mm)
    assert worst.key == ("patient0002", "2CH", "ED")
    assert worst.lv_epi_hd_mm == pytest.approx(3 * 0.4, abs=1e-6)  # shifted 4 - 2 + 1 rows (0.4 mm each)
    o1, o2 = series_of([run])
    assert (o1.label, o2.label) == ("lunet-o1", "lunet-o2")
    assert o1.pred_dir.name == "predictions_o1" and o2.pred_dir.name == "predictions"
    assert o1.boxes == {} and len(o2.boxes) == 12  # boxes belong to the final output
    counts, images = o1.outliers
    assert images == 12 and set(counts) == {"geometric", "anatomical", "both"}
    assert len(o1.per_image) == 12 and len(o2.clinical) == 3
    pairs = o2.clinical_pairs("truth")
    assert set(pairs) == {"edv_ml", "esv_ml", "ef_percent"} and pairs["edv_ml"][1].tolist() == [100.0] * 3
    assert geometric_bounds(run.tables["thresholds"]) == {"mad_mm": (3.5, 4.0), "hd_mm": (8.2, 8.8)}


def test_files_of_another_schema_are_refused(fake_setup, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(fake_setup["run_b"], run)
    csv = run / "evaluation" / "per_image.csv"
    text = csv.read_text()
    csv.write_text(text.replace("lv_epi_hd_mm", "LV_Epi d_H (mm)", 1))
    with pytest.raises(SchemaError, match=r"per_image\.csv: columns differ .*LV_Epi d_H \(mm\)"):
        load_run(run, "x")
    csv.write_text(text)
    tables = json.loads((run / "evaluation" / "tables.json").read_text())
    (run / "evaluation" / "tables.json").write_text(json.dumps(tables | {"schema_version": 1}))
    with pytest.raises(SchemaError, match="schema_version 1"):
        load_run(run, "x")
    with pytest.raises(ReportInputError, match="not found"):
        read_json(tmp_path / "missing.json")


def test_labels_are_unique(fake_setup, tmp_path):
    other = tmp_path / "again"
    shutil.copytree(fake_setup["run_b"], other)
    labels = unique_labels([fake_setup["run_a"], fake_setup["run_b"], other])
    assert labels == ["unet1", "lunet (run_lunet)", "lunet (again)"]


def test_demo_summary_reads_the_evaluation_by_exact_key(fake_setup):
    from lunet.demo_summary import summarise_run

    row = summarise_run(fake_setup["run_b"])
    assert row["model"] == "lunet-o2" and row["images"] == 12
    assert row["lv_endo_dice"] < 1.0 and row["geometric_images"].endswith("/12")
    assert row["ef_mae"] >= 0.0  # against the phantom truth
