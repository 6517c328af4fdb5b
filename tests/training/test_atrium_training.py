"""The left atrium end to end: trained by default, written by the run and by ``lunet predict``; a bundle
recorded as trained on LV and myocardium only predicts 0–2 from the very same weights.

One LU-Net epoch in the default suite (LU-Net: the model whose LA needs its own rule, taken from o1); the
same for U-Net1 is marked slow.
"""

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
def lunet_la_run(phantom_data, tmp_path_factory):
    """One epoch of LU-Net on the phantom with the default (4-class) loss: the issue's "a model trained for
    one epoch on the 4-class labels writes an LA channel", in the default suite (a few seconds)."""
    root = tmp_path_factory.mktemp("atrium")
    return train(tiny_config(phantom_data, root / "cache", model="lunet"), root / "lunet")


def _records_the_atrium(run):
    meta = json.loads((run / "model.json").read_text())
    assert meta["labels"] == [0, 1, 2, 3]
    assert meta["config"]["loss"]["dice_classes"] == [1, 2, 3]


def test_the_default_loss_covers_the_atrium_and_the_bundle_says_so(lunet_la_run):
    from lunet.config import TrainConfig

    _records_the_atrium(lunet_la_run)
    for model in ("unet1", "lunet"):  # the default is the model's config, not the model's code
        assert TrainConfig.create(data="x", model=model).loss.dice_classes == (1, 2, 3)


@pytest.mark.slow
def test_unet1_trained_by_default_records_and_writes_the_atrium(phantom_data, tmp_path):
    """The same for U-Net1 end to end (opt-in: another few seconds of training)."""
    run = train(tiny_config(phantom_data, tmp_path / "cache", model="unet1"), tmp_path / "unet1")
    _records_the_atrium(run)
    pid = (run / "folds" / "subGroup1_testing.txt").read_text().split()[0]
    pred, _ = read_image(run / "predictions" / pid / f"{pid}_4CH_ES.nii.gz")
    assert set(np.unique(pred)) <= {0, 1, 2, 3}


def test_lunet_takes_its_atrium_from_o1_and_keeps_its_box_on_the_ventricle(lunet_la_run):
    run = lunet_la_run
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
    lunet_la_run, phantom_data, tmp_path, as_pre_atrium_bundle
):
    run = lunet_la_run
    masks, patient = _predict(run, phantom_data, tmp_path / "new")
    assert all((m == Label.LA).any() for m in masks)
    assert patient["la_volume_ml"] > 0 and "area-length" in patient["la_method"]
    assert isinstance(patient["la_qc_flags"], list)
    frame = json.loads((tmp_path / "new" / "json" / "patient0001_4CH_ES.json").read_text())
    assert frame["areas_mm2"]["la"] > 0 and "la" in frame["qc"]["structures"]

    # the same weights, recorded as a bundle from before the LA (no labels, loss on LV and MYO): 0-2 only
    with as_pre_atrium_bundle(run):
        old_masks, old_patient = _predict(run, phantom_data, tmp_path / "old")
    assert all(set(np.unique(m)) <= {0, 1, 2} for m in old_masks)
    assert "la_volume_ml" not in old_patient
    for new, old in zip(masks, old_masks):  # LV and myocardium the same; the LA became background
        np.testing.assert_array_equal(np.where(new == Label.LA, 0, new), old)
