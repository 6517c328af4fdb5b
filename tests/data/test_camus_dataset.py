"""scan_camus / PatientRecord on tiny fixtures of both releases."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from camus_fixtures import SHAPE, SPACING, echo_image, label_map, write_patient

from lunet.data.camus import CamusFormatError, ef_category, load_patient, scan_camus, write_image
from lunet.data.labels import Instant, View


def test_nifti_release_round_trip(nifti_root):
    dataset = scan_camus(nifti_root)
    assert dataset.release == "nifti" and dataset.split_dir == nifti_root / "database_split"
    assert [p.patient_id for p in dataset.patients] == ["patient0001", "patient0002", "patient0003"]
    assert [p.image_quality for p in dataset.patients] == ["Good", "Medium", "Poor"]
    assert [p.ef_category for p in dataset.patients] == [">=55", "45-55", "<=45"]
    first, second = dataset.patients[:2]
    assert first.info[View.A2C].frame_rate == 30.0 and first.info[View.A2C].lv_edv is None  # newer keys
    assert second.info[View.A4C].lv_edv == 120.5 and second.ef_percent == 50.0  # 2019 keys
    echo = first.load(View.A4C, Instant.ES)
    assert echo.image.dtype == np.float32 and echo.image.shape == SHAPE
    assert echo.label.dtype == np.uint8
    np.testing.assert_array_equal(echo.label, label_map(8))
    np.testing.assert_array_equal(echo.image, echo_image(label_map(8), 1 * 10 + 1 + 5))
    assert echo.spacing == pytest.approx(SPACING, rel=1e-6)
    assert (echo.patient_id, echo.view, echo.instant) == ("patient0001", View.A4C, Instant.ES)


def test_mhd_2019_release_training_and_testing(mhd_root, caplog):
    with caplog.at_level(logging.INFO):
        dataset = scan_camus(mhd_root)
    assert dataset.release == "mhd2019"
    assert [p.has_ground_truth for p in dataset.patients] == [True, True, False]
    assert [p.subset for p in dataset.patients] == ["training", "training", "testing"]
    assert [p.patient_id for p in dataset.with_ground_truth] == ["patient0001", "patient0002"]
    assert "1 without ground truth" in caplog.text
    echo = dataset.patient("patient0003").load("2CH", "ED")
    assert echo.label is None and echo.image.shape == SHAPE and echo.spacing == pytest.approx(SPACING)
    sequence = dataset.patient("patient0001").load_sequence(View.A2C)
    assert sequence.frames.shape == (5, *SHAPE) and sequence.labels is None


def test_root_pointing_at_patient_folders(nifti_root, mhd_root):
    assert scan_camus(nifti_root / "database_nifti").release == "nifti"
    assert len(scan_camus(mhd_root / "training").patients) == 2


@pytest.mark.parametrize("reverse", [False, True])
def test_half_sequence_is_oriented_ed_to_es(tmp_path, reverse):
    write_patient(tmp_path, "patient0001", ".nii.gz", reverse_sequence=reverse)
    record = load_patient(tmp_path / "patient0001")
    sequence = record.load_sequence("2CH")
    assert sequence.reversed_on_disk is reverse and sequence.orientation_source == "images"
    np.testing.assert_array_equal(sequence.frames[0], record.load("2CH", "ED").image)
    np.testing.assert_array_equal(sequence.frames[-1], record.load("2CH", "ES").image)
    np.testing.assert_array_equal(sequence.labels[0], label_map(12))
    np.testing.assert_array_equal(sequence.labels[-1], label_map(7))


def test_orientation_falls_back_on_cfg_indices():
    from lunet.data.camus_cfg import ViewInfo
    from lunet.data.camus_sequence import orient_sequence

    frames = np.zeros((4, 8, 8), np.float32)
    assert orient_sequence(frames, frames[0], frames[0], ViewInfo(ed=4, es=1, image_quality="Good")) == (
        True,
        "cfg",
    )
    assert orient_sequence(frames, None, None, ViewInfo(ed=1, es=4, image_quality="Good")) == (False, "cfg")
    assert orient_sequence(frames, None, None, None) == (False, "default")


def test_patient_missing_a_view_is_skipped_and_named(nifti_root, caplog):
    folder = nifti_root / "database_nifti" / "patient0002"
    for path in folder.glob("*_4CH_ES*"):
        path.unlink()
    with caplog.at_level(logging.WARNING):
        dataset = scan_camus(nifti_root)
    assert [p.patient_id for p in dataset.patients] == ["patient0001", "patient0003"]
    assert dataset.skipped[0][0] == folder and "missing patient0002_4CH_ES.nii.gz" in dataset.skipped[0][1]
    assert "patient0002" in caplog.text
    with pytest.raises(
        CamusFormatError, match=r"patient0002: incomplete patient, missing patient0002_4CH_ES\.nii\.gz$"
    ):
        load_patient(folder)


def test_missing_file_named_with_the_release_extension(mhd_root):
    folder = next(mhd_root.rglob("patient0001"))
    for path in folder.glob("*_2CH_ED.*"):
        path.unlink()
    with pytest.raises(CamusFormatError, match=r"missing patient0001_2CH_ED\.mhd$"):
        load_patient(folder)


def test_missing_cfg_and_bad_cfg_skip_the_patient(nifti_root):
    (nifti_root / "database_nifti" / "patient0001" / "Info_2CH.cfg").unlink()
    (nifti_root / "database_nifti" / "patient0002" / "Info_4CH.cfg").write_text(
        "ED: x\nES: 2\nImageQuality: Good\n"
    )
    dataset = scan_camus(nifti_root)
    assert [p.patient_id for p in dataset.patients] == ["patient0003"]
    reasons = dict((path.name, reason) for path, reason in dataset.skipped)
    assert "Info_2CH.cfg" in reasons["patient0001"]
    assert "Info_4CH.cfg: field ED" in reasons["patient0002"]


def test_non_camus_names_are_ignored_with_a_count(nifti_root, caplog):
    holder = nifti_root / "database_nifti"
    (holder / "notes.txt").write_text("hello")
    (holder / "patient12").mkdir()
    (holder / "patient0001" / "thumbnail.png").write_bytes(b"x")
    (holder / "patient0001" / "patient0009_2CH_ED.nii.gz").write_bytes(b"x")  # id of another patient
    with caplog.at_level(logging.INFO):
        dataset = scan_camus(nifti_root)
    assert len(dataset.patients) == 3 and len(dataset.ignored) == 4
    assert "4 names ignored" in caplog.text


def test_empty_folder_and_missing_folder_are_clear_errors(tmp_path):
    with pytest.raises(CamusFormatError, match=rf"{tmp_path}: no usable CAMUS patient folder"):
        scan_camus(tmp_path)
    with pytest.raises(CamusFormatError, match="not a folder"):
        scan_camus(tmp_path / "nope")


def test_labels_outside_range_and_shape_mismatch(tmp_path):
    folder = write_patient(tmp_path, "patient0001", ".mhd", sequence_name="sequence")
    record = load_patient(folder)
    bad = label_map(12)
    bad[0, 0] = 7
    write_image(folder / "patient0001_2CH_ED_gt.mhd", bad, SPACING)
    with pytest.raises(
        CamusFormatError, match=r"patient0001_2CH_ED_gt\.mhd: label values \[7\] outside 0\.\.3"
    ):
        record.load("2CH", "ED")
    write_image(folder / "patient0001_2CH_ES_gt.mhd", np.zeros((60, 48), np.uint8), SPACING)
    with pytest.raises(CamusFormatError, match=r"patient0001_2CH_ES_gt\.mhd: label shape \(60, 48\) differs"):
        record.load("2CH", "ES")


def test_multi_frame_file_where_a_frame_is_expected(tmp_path):
    folder = write_patient(tmp_path, "patient0001", ".nii.gz")
    write_image(folder / "patient0001_4CH_ED.nii.gz", np.zeros((3, *SHAPE), np.uint8), SPACING)
    with pytest.raises(
        CamusFormatError, match=r"patient0001_4CH_ED\.nii\.gz: expected a single frame, found 3"
    ):
        load_patient(folder).load("4CH", "ED")


def test_missing_raw_fails_at_load_naming_the_file(mhd_root):
    record = scan_camus(mhd_root).patients[0]
    shutil.move(record.path("2CH", "ED").with_suffix(".raw"), mhd_root / "elsewhere.raw")
    with pytest.raises(
        CamusFormatError, match=r"patient0001_2CH_ED\.mhd: data file patient0001_2CH_ED\.raw not found"
    ):
        record.load("2CH", "ED")


def test_ef_category_boundaries():
    assert [ef_category(v) for v in (45.0, 45.01, 54.99, 55.0, None, float("nan"))] == [
        "<=45", "45-55", "45-55", ">=55", "unknown", "unknown"
    ]  # fmt: skip


def test_missing_optional_files_are_listed(nifti_root):
    folder = nifti_root / "database_nifti" / "patient0001"
    (folder / "patient0001_2CH_half_sequence.nii.gz").unlink()
    (folder / "patient0001_4CH_ES_gt.nii.gz").unlink()
    dataset = scan_camus(nifti_root)
    assert [p.name for p in dataset.missing] == [
        "patient0001_2CH_half_sequence.nii.gz",
        "patient0001_4CH_ES_gt.nii.gz",
    ]
    assert [p.has_ground_truth for p in dataset.patients] == [False, True, True]
    with pytest.raises(CamusFormatError, match="no 2CH sequence file for patient0001"):
        dataset.patients[0].load_sequence("2CH")
