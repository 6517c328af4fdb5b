"""The left atrium end to end: trained by default, written by the run and by ``lunet predict``; a bundle
recorded as trained on LV and myocardium only predicts 0–2 from the very same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lunet.boxes import reference_box
from lunet.data.camus_io import read_image
from lunet.data.labels import Label
from lunet.training.fit import train

FRAMES = ("2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES")


def tiny_config(data, cache, **changes):
    """The 64×64 runs of ``test_fit.py``."""
    from lunet.config import TrainConfig

    base = TrainConfig.create(
        data=str(data), cache=str(cache), size=64, epochs=1, batch_size=4, n_folds=3, deterministic=True,
        progress_bar=False, patience=0,
    )  # fmt: skip
    return base.replace(**changes)


@pytest.fixture(scope="module")
def atrium_runs(phantom_data, tmp_path_factory):
    """One epoch of U-Net1 and of LU-Net on the phantom, with the default (4-class) loss."""
    root = tmp_path_factory.mktemp("atrium")
    runs = {}
    for model in ("unet1", "lunet"):
        runs[model] = train(tiny_config(phantom_data, root / "cache", model=model, epochs=1), root / model)
    return runs


def test_the_default_loss_covers_the_atrium_and_the_bundle_says_so(atrium_runs):
    for run in atrium_runs.values():
        meta = json.loads((run / "model.json").read_text())
        assert meta["labels"] == [0, 1, 2, 3]
        assert meta["config"]["loss"]["dice_classes"] == [1, 2, 3]


def test_lunet_takes_its_atrium_from_o1_and_keeps_its_box_on_the_ventricle(atrium_runs):
    run = atrium_runs["lunet"]
    pid = (run / "folds" / "subGroup1_testing.txt").read_text().split()[0]
    for frame in FRAMES:
        pred, _ = read_image(run / "predictions" / pid / f"{pid}_{frame}.nii.gz")
        assert (pred == Label.LA).any()  # after one epoch o1 calls much of the image LA
    label = np.zeros((40, 40), np.uint8)
    label[5:20, 10:30] = Label.LV
    label[20:38, 2:38] = Label.LA  # a wide atrium below: never in the reference box
    np.testing.assert_allclose(reference_box(label), [10 / 40, 5 / 40, 30 / 40, 20 / 40])


def _predict(bundle, phantom_data, out):
    from lunet.inference.predict import PredictOptions, predict_paths

    pid = "patient0001"
    folder = phantom_data / "database_nifti" / pid
    inputs = [folder / f"{pid}_{frame}.nii.gz" for frame in FRAMES]
    result = predict_paths(
        bundle, inputs, out, PredictOptions(progress=False, overlay=False, backend="torch")
    )
    assert result.n_done == 4
    masks = [read_image(out / "masks" / f"{pid}_{frame}.nii.gz")[0] for frame in FRAMES]
    return masks, json.loads((out / "patients" / f"{pid}.json").read_text())


def test_predict_writes_the_atrium_and_its_volume_and_an_old_record_does_not(
    atrium_runs, phantom_data, tmp_path
):
    run = atrium_runs["lunet"]
    masks, patient = _predict(run, phantom_data, tmp_path / "new")
    assert all((m == Label.LA).any() for m in masks)
    assert patient["la_volume_ml"] > 0 and "area-length" in patient["la_method"]
    assert isinstance(patient["la_qc_flags"], list)
    frame = json.loads((tmp_path / "new" / "json" / "patient0001_4CH_ES.json").read_text())
    assert frame["areas_mm2"]["la"] > 0 and "la" in frame["qc"]["structures"]

    # the same weights, recorded as a bundle from before the LA (no labels, loss on LV and MYO): 0-2 only
    meta_path = run / "model.json"
    meta = json.loads(meta_path.read_text())
    del meta["labels"]
    meta["config"]["loss"]["dice_classes"] = [1, 2]
    meta_path.write_text(json.dumps(meta))
    try:
        old_masks, old_patient = _predict(run, phantom_data, tmp_path / "old")
    finally:
        meta_path.write_text(json.dumps({**meta, "labels": [0, 1, 2, 3]}))
    assert all(set(np.unique(m)) <= {0, 1, 2} for m in old_masks)
    assert "la_volume_ml" not in old_patient
    for new, old in zip(masks, old_masks):  # LV and myocardium the same; the LA became background
        np.testing.assert_array_equal(np.where(new == Label.LA, 0, new), old)
