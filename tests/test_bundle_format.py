"""Bundles: what model.json says (size, box margin, inputs and outputs, current exports); bundles written
before the native-resolution crop (no ``bundle_format``) or before the box margin was recorded load as they
were trained."""

from __future__ import annotations

import hashlib
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


def _strip(folder: Path, *keys: str) -> Path:
    meta = json.loads((folder / "model.json").read_text())
    for key in keys:
        meta.pop(key, None)
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


def test_model_json_records_the_box_margin_and_older_bundles_read_their_options(tmp_path: Path) -> None:
    from lunet.bundle import Bundle

    meta = {"model": "lunet", "size": 64, "margin": 0.3}
    folder = save_bundle(tmp_path / "m15", create_model("lunet", box_margin=0.15), meta)
    meta = json.loads((folder / "model.json").read_text())
    assert meta["box_margin"] == 0.15 and "margin" not in meta  # from the model itself, never a stray key
    assert Bundle.open(folder).box_margin == 0.15
    # written before the key existed: the option the model was built with
    meta = {"model": "lunet", "overrides": {"box_margin": 0.15}, "size": 64}
    old = _strip(save_bundle(tmp_path / "old", create_model("lunet", box_margin=0.15), meta), "box_margin")
    assert Bundle.open(old).box_margin == 0.15 and load_bundle(old)[0].box_margin == 0.15
    assert Bundle.open(_old_bundle(tmp_path / "v1", "lunet", {"margin": 0.3})).box_margin == 0.3  # format 1
    plain = save_bundle(tmp_path / "u", create_model("unet1"), {"model": "unet1", "size": 64})
    assert "box_margin" not in json.loads((plain / "model.json").read_text())


def test_bundle_answers_from_model_json(tmp_path: Path) -> None:
    from lunet.bundle import Bundle, BundleError

    lunet = save_bundle(tmp_path / "l", create_model("lunet"), {"model": "lunet", "size": 64})
    bundle = Bundle.open(lunet / "model.safetensors")
    assert (bundle.folder, bundle.size, bundle.crop_grid, bundle.source_size) == (lunet, 64, "native", 128)
    assert (bundle.inputs, bundle.outputs) == (["image", "crop_source"], ["roi_logits", "box"])
    network = {"model": "lunet", "overrides": {"crop_grid": "network"}, "size": 64}
    bundle = Bundle.open(save_bundle(tmp_path / "n", create_model("lunet", crop_grid="network"), network))
    assert (bundle.source_size, bundle.inputs, bundle.outputs) == (None, ["image"], ["logits", "box"])
    oracle = Bundle.open(save_bundle(tmp_path / "o", create_model("unet1-oracle"), {"model": "unet1-oracle"}))
    assert oracle.size == 256  # model.json without a size: the papers' 256
    assert oracle.inputs == ["image", "crop_box", "crop_source"]
    with pytest.raises(BundleError, match="reference box"):
        oracle.check_predicts_alone()
    loc = Bundle.open(save_bundle(tmp_path / "a", create_model("ul2"), {"model": "ul2", "size": 64}))
    assert (loc.crop_grid, loc.inputs, loc.outputs) == (None, ["image"], ["logits", "box"])
    # a checkpoint's weights are the .ckpt, its model.json the run folder's above checkpoints/
    (lunet / "checkpoints").mkdir()
    ckpt = lunet / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(b"x")
    bundle = Bundle.open(ckpt)
    assert bundle.folder == lunet and bundle.weights == ckpt
    assert bundle.weights_sha256 == hashlib.sha256(b"x").hexdigest()
    with pytest.raises(BundleError, match="refused or unreadable checkpoint"):
        bundle.load_model()
    with pytest.raises(BundleError, match="no such model"):
        Bundle.open(tmp_path / "nothing")


def test_an_export_is_current_only_for_the_same_model_and_weights(tmp_path: Path) -> None:
    import onnx

    from lunet.bundle import Bundle

    meta = {"model": "unet1", "size": 64}
    folder = save_bundle(tmp_path / "b", create_model("unet1", filters=(4,) * 6), meta)
    bundle = Bundle.open(folder)
    assert "does not exist" in bundle.export_problem(folder / "model.onnx")
    graph = onnx.helper.make_graph([], "g", [], [])
    proto = onnx.helper.make_model(graph)
    for key, value in bundle.export_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(folder / "model.int8.onnx"))
    assert bundle.export_problem(folder / "model.int8.onnx") is None
    save_bundle(folder, create_model("unet1", filters=(4,) * 6), meta)  # retrained: other random weights
    assert "stale" in Bundle.open(folder).export_problem(folder / "model.int8.onnx")
    (folder / "model.json").write_text(json.dumps({"model": "runet", "size": 64}))
    assert "not 'runet'" in Bundle.open(folder).export_problem(folder / "model.int8.onnx")


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
