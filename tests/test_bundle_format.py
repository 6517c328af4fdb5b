"""Bundles written before the native-resolution crop (no ``bundle_format``) load as they were trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lunet.bundle import BUNDLE_FORMAT, atrium_trained, load_bundle, save_bundle, trained_labels
from lunet.models import create_model


def _old_bundle(folder: Path, model_name: str, overrides: dict[str, object]) -> Path:
    """A bundle as lunet 0.1.0 wrote it before 2026-11-30: ``margin`` override, no ``bundle_format``."""
    current = {("box_margin" if k == "margin" else k): v for k, v in overrides.items()}
    save_bundle(folder, create_model(model_name, **current), {"model": model_name, "size": 64})
    meta = json.loads((folder / "model.json").read_text())
    del meta["bundle_format"]
    meta["overrides"] = overrides
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("model_name", ["lunet", "unet1-oracle"])
def test_format1_crop_model_keeps_network_grid_crop_and_its_margin(tmp_path: Path, model_name: str) -> None:
    model, _ = load_bundle(_old_bundle(tmp_path / "b", model_name, {"margin": 0.15}))
    assert model.box_margin == pytest.approx(0.15)
    assert model.crop_grid == "network"


def test_format2_bundle_round_trips_native_crop(tmp_path: Path) -> None:
    meta = {"model": "lunet", "overrides": {"box_margin": 0.15}, "size": 64}
    save_bundle(tmp_path / "b", create_model("lunet", box_margin=0.15), meta)
    meta = json.loads((tmp_path / "b" / "model.json").read_text())
    assert meta["bundle_format"] == BUNDLE_FORMAT
    model, _ = load_bundle(tmp_path / "b")
    assert model.box_margin == pytest.approx(0.15)
    assert model.crop_grid == "native"


def test_format1_model_without_crop_is_unchanged(tmp_path: Path) -> None:
    model, meta = load_bundle(_old_bundle(tmp_path / "b", "unet1", {}))
    assert meta["model"] == "unet1"
    assert not hasattr(model, "crop_grid")


def test_labels_follow_the_recorded_loss_and_old_bundles_predate_the_atrium(tmp_path: Path) -> None:
    from lunet.config import TrainConfig

    model = create_model("unet1")
    new = TrainConfig.create(model="unet1", data="x").to_dict()
    save_bundle(tmp_path / "new", model, {"model": "unet1", "config": new})
    meta = json.loads((tmp_path / "new" / "model.json").read_text())
    assert meta["labels"] == [0, 1, 2, 3] and atrium_trained(meta)
    old = TrainConfig.create(model="unet1", data="x", dice_classes=(1, 2)).to_dict()
    save_bundle(tmp_path / "old", model, {"model": "unet1", "config": old})
    assert json.loads((tmp_path / "old" / "model.json").read_text())["labels"] == [0, 1, 2]
    # model.json written before the field: the recorded config decides, nothing recorded = LV and MYO only
    assert trained_labels({"model": "unet1", "config": {"dice_classes": [1, 2, 3]}}) == (0, 1, 2, 3)
    assert trained_labels({"model": "unet1", "config": old}) == (0, 1, 2)
    assert not atrium_trained({"model": "unet1"})
