"""End-to-end prediction: masks on the original grid in the input's format, JSON, summary, failures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import SIZE, echo_like, make_bundle, write_dicom
from PIL import Image

from lunet.cli import main
from lunet.data.camus_io import read_image, write_image
from lunet.data.preprocess import prepare_image
from lunet.inference.predict import PredictOptions, predict_paths
from lunet.models.postprocess import labels_on_grid


@pytest.fixture(scope="module")
def unet_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small U-Net1 (8 filters per level) bundle."""
    return make_bundle(tmp_path_factory.mktemp("unet1"), "unet1", filters=(8, 8, 8, 8, 8, 8))


OPTS = PredictOptions(backend="torch", progress=False, batch_size=3)


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "summary.csv") as handle:
        return list(csv.DictReader(handle))


def test_labels_on_grid_known_answer() -> None:
    logits = np.zeros((4, 8, 8), np.float32)
    logits[1, :, :4] = 5.0  # LV on the left half
    logits[2, :, 4:] = 5.0  # myocardium on the right half
    label = labels_on_grid(logits, (30, 50))
    assert label.shape == (30, 50) and label.dtype == np.uint8
    assert (label[:, :25] == 1).all() and (label[:, 25:] == 2).all()


def test_masks_match_the_model_on_the_original_grid(tmp_path: Path, unet_bundle: Path) -> None:
    import torch

    from lunet.bundle import load_bundle

    image = echo_like(90, 70)
    src = write_image(tmp_path / "in" / "case.nii.gz", image, (0.35, 0.2))
    result = predict_paths(unet_bundle, [src], tmp_path / "out", OPTS)
    assert result.n_done == 1 and result.n_failed == 0
    mask, spacing = read_image(tmp_path / "out" / "masks" / "case.nii.gz")
    assert mask.shape == (90, 70) and mask.dtype == np.uint8 and spacing == pytest.approx((0.35, 0.2))
    model, _ = load_bundle(unet_bundle)
    with torch.no_grad():
        logits = model(
            torch.from_numpy(prepare_image(image.astype(np.float32), (0.35, 0.2), SIZE)[0])[None, None]
        )
    np.testing.assert_array_equal(mask, labels_on_grid(logits[0].numpy(), (90, 70)))
    record = json.loads((tmp_path / "out" / "json" / "case.json").read_text())
    pixel = 0.35 * 0.2
    assert record["areas_mm2"]["lv"] == pytest.approx((mask == 1).sum() * pixel)
    assert record["areas_mm2"]["lv_epi"] == pytest.approx(np.isin(mask, (1, 2)).sum() * pixel)
    assert record["spacing_mm"] == pytest.approx([0.35, 0.2]) and record["shape"] == [90, 70]
    assert isinstance(record["qc_pass"], bool) and record["qc_pass"] == (record["qc"]["flags"] == [])
    assert record["backend"] == "torch" and "box" not in record
    assert (tmp_path / "out" / "overlays" / "case.png").is_file()


def test_formats_round_trip_and_corrupted_file_is_skipped(tmp_path: Path, unet_bundle: Path) -> None:
    src = tmp_path / "in"
    write_image(src / "a.mhd", echo_like(50, 40, 1), (0.3, 0.3))
    Image.fromarray(echo_like(33, 47, 2), mode="L").save(src / "b.png")
    write_dicom(
        src / "c.dcm", np.stack([echo_like(36, 44, k) for k in range(2)]), region_delta_cm=(0.05, 0.04)
    )
    (src / "broken.nii.gz").write_bytes(b"\x1f\x8b this is not gzip")
    out = tmp_path / "out"
    result = predict_paths(
        unet_bundle, [src], out, PredictOptions(**{**OPTS.__dict__, "spacing": (0.2, 0.1), "cines": "frames"})
    )  # cines="frames": the 2-frame DICOM as two images (the default predicts a cine as a sequence)
    assert (result.n_done, result.n_failed) == (4, 1)
    assert read_image(out / "masks" / "a.mhd")[0].shape == (50, 40)
    assert np.asarray(Image.open(out / "masks" / "b.png")).shape == (33, 47)
    frame1, spacing = read_image(out / "masks" / "c_f0001.nii.gz")
    assert frame1.shape == (36, 44) and spacing == pytest.approx((0.5, 0.4))
    rows = {r["name"]: r for r in _rows(out)}
    assert rows["broken"]["status"] == "error" and "broken.nii.gz" in rows["broken"]["error"]
    assert rows["b"]["status"] == "ok" and float(rows["b"]["row_mm"]) == 0.2
    note = json.loads((out / "json" / "c_f0000.json").read_text())["note"]
    assert "NIfTI" in note


def test_png_without_spacing_is_reported_not_guessed(tmp_path: Path, unet_bundle: Path) -> None:
    Image.fromarray(echo_like(20, 20), mode="L").save(tmp_path / "x.png")
    result = predict_paths(unet_bundle, [tmp_path / "x.png"], tmp_path / "out", OPTS)
    assert result.n_done == 0 and "--spacing" in result.rows[0]["error"]


def test_names_cannot_escape_out(tmp_path: Path, unet_bundle: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    write_image(tmp_path / "x.nii.gz", echo_like(20, 20), (0.3, 0.3))
    (tmp_path / "weird name;rm -rf.nii.gz").symlink_to(tmp_path / "x.nii.gz")
    listing = deep / "list.txt"
    listing.write_text("../../x.nii.gz\n../../weird name;rm -rf.nii.gz\n" + str(tmp_path / "x.nii.gz") + "\n")
    out = deep / "out"
    result = predict_paths(unet_bundle, [f"@{listing}"], out, OPTS)
    assert result.n_done == 3
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "masks/x.nii.gz" in written and "masks/weird_name_rm_-rf.nii.gz" in written
    assert "masks/x_2.nii.gz" in written
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "weird name;rm -rf.nii.gz", "x.nii.gz"]


def test_camus_patient_gets_volumes(tmp_path: Path, unet_bundle: Path) -> None:
    patient = tmp_path / "patient0003"
    for k, (view, instant) in enumerate([("2CH", "ED"), ("2CH", "ES"), ("4CH", "ED"), ("4CH", "ES")]):
        write_image(patient / f"patient0003_{view}_{instant}.nii.gz", echo_like(80, 64, k), (0.3, 0.25))
    out = tmp_path / "out"
    result = predict_paths(unet_bundle, [patient], out, OPTS)
    assert result.n_done == 4 and [p.name for p in result.patients] == ["patient0003.json"]
    data = json.loads((out / "patients" / "patient0003.json").read_text())
    assert set(data) >= {"edv_ml", "esv_ml", "ef_percent", "images", "all_images_qc_pass"}
    assert data["images"]["2CH_ED"] == "patient0003_2CH_ED"


def test_cli_predict(tmp_path: Path, unet_bundle: Path) -> None:
    write_image(tmp_path / "x.nii.gz", echo_like(20, 30), (0.3, 0.3))
    args = ["--out", str(tmp_path / "o"), "--backend", "torch", "--no-overlay", "--no-progress"]
    code = main(["predict", "--model", str(unet_bundle), str(tmp_path / "x.nii.gz"), *args])
    assert code == 0 and (tmp_path / "o" / "masks" / "x.nii.gz").is_file()
    assert not (tmp_path / "o" / "overlays").exists()
    assert main(["predict", "--model", str(tmp_path / "nope"), "x", "--out", str(tmp_path / "o")]) == 2


def test_streams_in_batches(tmp_path: Path, unet_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """7 frames at batch size 3 → model calls of 3, 3, 1 frames; outputs written as each batch completes."""
    from lunet.inference import backends

    calls: list[int] = []
    real = backends.load_predictor

    def counting(*args, **kwargs):
        predictor = real(*args, **kwargs)
        run = predictor._run

        def wrapped(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            calls.append(feeds["image"].shape[0])
            done = len(list((tmp_path / "out" / "json").glob("*.json"))) if (tmp_path / "out").exists() else 0
            assert done == sum(calls[:-1])  # the previous batches are on disk before the next one runs
            return run(feeds)

        predictor._run = wrapped
        return predictor

    monkeypatch.setattr(backends, "load_predictor", counting)
    inputs = [
        write_image(tmp_path / "in" / f"s{k}.nii.gz", echo_like(24, 24, k), (0.3, 0.3)) for k in range(7)
    ]
    result = predict_paths(unet_bundle, inputs, tmp_path / "out", OPTS)
    assert calls == [3, 3, 1] and result.n_done == 7
