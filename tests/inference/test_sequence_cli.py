"""``lunet predict --sequence`` end to end: a CAMUS patient folder (both views) and a DICOM cine."""

from __future__ import annotations

import json

import numpy as np
import pytest
from inference_helpers import make_bundle, write_dicom
from sequence_helpers import SPACING, disk_cine, half_cycle_radii

from lunet.cli import main
from lunet.data.camus_io import write_image


def _patient(folder):
    folder.mkdir(parents=True)
    for view, n in (("2CH", 7), ("4CH", 5)):
        frames = disk_cine(half_cycle_radii(n))
        write_image(folder / f"patient0001_{view}_half_sequence.nii.gz", frames, SPACING)
        write_image(folder / f"patient0001_{view}_ED.nii.gz", frames[0], SPACING)
        write_image(folder / f"patient0001_{view}_ES.nii.gz", frames[-1], SPACING)
        (folder / f"Info_{view}.cfg").write_text(
            f"ED: 1\nES: {n}\nNbFrame: {n}\nImageQuality: Good\nFrameRate: 50\n"
        )
    return folder


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("model"), "unet1")


def test_predict_sequence_on_a_patient_folder_and_a_dicom_cine(tmp_path, bundle, capsys):
    import pydicom

    folder = _patient(tmp_path / "data" / "patient0001")
    cine = disk_cine(half_cycle_radii(6)).clip(0, 255).astype(np.uint8)
    (tmp_path / "dicoms").mkdir()
    dcm = write_dicom(tmp_path / "dicoms" / "cine.dcm", cine, pixel_spacing=SPACING)
    ds = pydicom.dcmread(dcm)
    ds.FrameTime = "33.3"
    ds.save_as(dcm)
    out = tmp_path / "out"
    args = [str(folder), str(dcm.parent), "--out", str(out), "--sequence", "--no-progress"]
    code = main(["predict", "--model", str(bundle), *args])
    assert code == 0
    assert "3 sequences predicted, 0 failed" in capsys.readouterr().out
    two = json.loads((out / "sequences" / "patient0001_2CH_half_sequence.json").read_text())
    assert two["frames"] == 7 and len(two["lv_area_mm2"]) == 7
    assert two["frame_time_ms"] == pytest.approx(20.0) and two["reference_ed"] == 1
    assert len(two["ed_frames"]) == len(two["es_frames"]) == 1 and 1 <= two["ed_frames"][0] <= 7
    patient = json.loads((out / "patients" / "patient0001_sequence.json").read_text())
    assert {"edv_ml", "esv_ml", "ef_percent", "volume_ml", "phase"} <= set(patient)
    assert (out / patient["plot"]).is_file()
    dicom = json.loads((out / "sequences" / "cine.json").read_text())
    assert dicom["frame_time_ms"] == pytest.approx(33.3) and dicom["timing_source"] == "DICOM FrameTime"
    assert dicom["mask"] == "masks/cine.nii.gz" and (out / dicom["animation"]).is_file()
    summary = (out / "sequences" / "summary.csv").read_text().splitlines()
    assert len(summary) == 4 and summary[0].startswith("name,input,status")


def test_predict_sequence_without_sequences_fails_cleanly(tmp_path, bundle, capsys):
    (tmp_path / "empty").mkdir()
    code = main(
        [
            "predict",
            "--model",
            str(bundle),
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "o"),
            "--sequence",
        ]
    )
    assert code == 2  # none predicted: the exit code of every predict mode
    assert "0 sequences predicted, 1 failed" in capsys.readouterr().out


def test_predict_sequence_applies_the_size_limits(tmp_path, bundle, capsys, caplog):
    """``--max-frames`` (and the other ``--max-*`` flags) hold for cines too: a 7-frame NIfTI and a 6-frame
    DICOM cine beyond a 5-frame limit are refused from their headers, each named with its size and the limit,
    while a 5-frame cine within it is predicted."""
    folder = _patient(tmp_path / "data" / "patient0001")  # 2CH: 7 frames, 4CH: 5 frames
    cine = disk_cine(half_cycle_radii(6)).clip(0, 255).astype(np.uint8)
    (tmp_path / "dicoms").mkdir()
    dcm = write_dicom(tmp_path / "dicoms" / "cine.dcm", cine, pixel_spacing=SPACING)
    out = tmp_path / "out"
    args = [str(folder), str(dcm), "--out", str(out), "--sequence", "--no-progress", "--max-frames", "5"]
    code = main(["predict", "--model", str(bundle), *args])
    assert code == 3  # the 4CH cine is within the limit: some predicted, some refused
    assert "1 sequences predicted, 2 failed" in capsys.readouterr().out
    refused = [r.getMessage() for r in caplog.records if "beyond the limit of 5 frames" in r.getMessage()]
    assert any("patient0001_2CH_half_sequence.nii.gz" in m and "7 frames" in m for m in refused)
    assert any("cine.dcm" in m and "6 frames" in m for m in refused)
    assert (out / "sequences" / "patient0001_4CH_half_sequence.json").is_file()
