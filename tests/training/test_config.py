import dataclasses
import json
from pathlib import Path

import pytest

from lunet.config import (
    SECTIONS,
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    flag_fields,
    flat_view,
)

FLAT_V1 = Path(__file__).parent / "fixtures" / "config_flat_v1.json"


def test_json_round_trip_is_exact(tmp_path):
    config = TrainConfig.create(
        model="runet",
        model_overrides={"dil": 30, "shift": 0.7},
        data="/d",
        fold=3,
        lr=1e-4,
        dice_classes=(1, 2, 3),
        devices="auto",
        cache=None,
    )
    assert TrainConfig.from_json(config.to_json()) == config
    path = tmp_path / "config.json"
    config.to_json(path)
    loaded = TrainConfig.from_json(path)
    assert loaded == config and loaded.loss.dice_classes == (1, 2, 3)
    saved = json.loads(path.read_text())
    assert saved["format"] == 2 and saved["model"] == {
        "name": "runet",
        "overrides": {"dil": 30, "shift": 0.7},
        "recipe": "paper",  # recipes change only lunet; recorded for every model
    }
    assert set(saved) == {"format", "seed", *SECTIONS}


def test_each_field_has_one_owner_and_a_unique_flag_name():
    flags = [leaf.flag for leaf in flag_fields()]
    assert len(flags) == len(set(flags)) == 42
    # the learning rate, the loss weights and the augmentation exist once, in their section
    assert [leaf.section for leaf in flag_fields() if leaf.flag in ("lr", "loc_weight", "augment_shift")] == [
        "loss",
        "optim",
        "augment",
    ]


def test_paper_defaults():
    config = TrainConfig()
    assert (config.optim.lr, config.trainer.patience, config.loss.loc_weight, config.loss.box_clip) == (
        1e-3,
        20,
        10.0,
        0.99,
    )
    # the CAMUS label set: LV, myocardium and the left atrium (the papers: LV and myocardium)
    assert config.loss.dice_classes == (1, 2, 3) and config.trainer.warmup_reference_box_epochs == 0
    assert not config.augment.enabled and config.model.box_margin == 0.05


def test_a_config_naming_no_dice_classes_predates_the_atrium():
    nested = TrainConfig().to_dict()
    del nested["loss"]["dice_classes"]
    assert TrainConfig.from_dict(nested).loss.dice_classes == (1, 2)
    del nested["loss"]
    assert TrainConfig.from_dict(nested).loss.dice_classes == (1, 2)
    assert TrainConfig.from_dict(TrainConfig().to_dict()).loss.dice_classes == (1, 2, 3)
    flat = {"model": "unet1", "data": "x"}  # format 1 without the field
    assert TrainConfig.from_dict(flat).loss.dice_classes == (1, 2)


def test_replace_ignores_unset_flags_and_rejects_unknown_fields():
    config = TrainConfig.create(epochs=7)
    assert config.replace(epochs=None, lr=1e-4) == TrainConfig.create(epochs=7, lr=1e-4)
    with pytest.raises(ConfigError, match="unknown config field"):
        config.replace(epoch=3)


def test_margin_is_the_box_margin_override_and_nothing_else():
    config = TrainConfig.create(model="lunet", margin=0.15, model_overrides={"dil": 3})
    overrides = {"box_source": "segmentation", "dil": 3, "box_margin": 0.15}  # robust: lunet's default recipe
    assert config.model == ModelConfig("lunet", overrides, "robust")
    assert config.model.box_margin == 0.15 and '"margin"' not in json.dumps(config.to_dict())
    assert config.replace(model_overrides={"box_margin": 0.3}).model.box_margin == 0.3


def test_sections_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().data.size = 128  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"size": 100},
        {"fold": 11},
        {"ul2_mode": "mx"},
        {"lr": 0},
        {"margin": 1.5},
        {"box_clip_mode": "x"},
        {"epochs": 0},
        {"max_time_s": -1.0},
    ],
)
def test_invalid_values_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TrainConfig.create(**bad)


def test_a_flat_config_json_of_the_previous_version_still_loads():
    """The fixture was written by lunet's flat TrainConfig (format 1) before the sections existed."""
    config = TrainConfig.from_json(FLAT_V1)
    assert config.data == DataConfig(root="/data/CAMUS", fold=3, size=128, batch_size=8)
    assert config.model == ModelConfig("lunet", {"box_margin": 0.15})  # margin once, no stale copy
    assert (config.optim.lr, config.loss.loc_weight, config.trainer.epochs, config.trainer.patience) == (
        1e-4,
        5.0,
        60,
        10,
    )
    assert config.augment.enabled and config.augment.shift == 0.1 and config.trainer.devices == "auto"
    assert config.trainer.warmup_reference_box_epochs == 5 and not config.trainer.progress_bar
    assert TrainConfig.from_json(config.to_json()) == config
    flat = json.loads(FLAT_V1.read_text())
    view = flat_view(config.to_dict())
    assert {k: view[k] for k in flat if k != "model_overrides"} == {
        k: v for k, v in flat.items() if k != "model_overrides"
    }


def test_bad_files_name_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=str(path)):
        TrainConfig.from_json(path)
    path.write_text('{"modle": "unet1"}')
    with pytest.raises(ConfigError, match="modle"):
        TrainConfig.from_json(path)
    path.write_text('{"format": 2, "data": {"root": "/d", "sise": 64}}')
    with pytest.raises(ConfigError, match=f"{path}.*sise"):
        TrainConfig.from_json(path)
    path.write_text('{"format": 3, "data": {}}')
    with pytest.raises(ConfigError, match="format 3"):
        TrainConfig.from_json(path)
    with pytest.raises(ConfigError, match="no such config file"):
        TrainConfig.from_json(tmp_path / "missing.json")


def test_check_config_names_what_is_wrong_before_any_work(tmp_path):
    from lunet.models.registry import UnknownModelError
    from lunet.training.fit import RunFolderError, check_config

    good = TrainConfig.create(data=str(tmp_path), model="runet", model_overrides={"dil": 3})
    check_config(good)
    with pytest.raises(UnknownModelError, match="has no option sift"):
        check_config(good.replace(model_overrides={"sift": 1}))
    with pytest.raises(RunFolderError, match="fold-list folder not found"):
        check_config(good.replace(folds_dir=str(tmp_path / "nope")))
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="must be a folder"):
        check_config(good.replace(cache=str(tmp_path / "file")))
    check_config(good.replace(data=str(tmp_path / "later")), data_exists=False)
