import json

import pytest

from lunet.config import ConfigError, TrainConfig


def test_json_round_trip_is_exact(tmp_path):
    config = TrainConfig(
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
    assert loaded == config and loaded.dice_classes == (1, 2, 3)
    assert json.loads(path.read_text())["model_overrides"] == {"dil": 30, "shift": 0.7}


def test_paper_defaults():
    config = TrainConfig()
    assert (config.lr, config.patience, config.loc_weight, config.box_clip) == (1e-3, 20, 10.0, 0.99)
    assert config.dice_classes == (1, 2) and config.warmup_reference_box_epochs == 0 and not config.augment


def test_replace_ignores_unset_flags_and_rejects_unknown_fields():
    config = TrainConfig(epochs=7)
    assert config.replace(epochs=None, lr=1e-4) == TrainConfig(epochs=7, lr=1e-4)
    with pytest.raises(ConfigError, match="unknown config field"):
        config.replace(epoch=3)


@pytest.mark.parametrize(
    "bad",
    [{"size": 100}, {"fold": 11}, {"ul2_mode": "mx"}, {"lr": 0}, {"margin": 1.5}, {"box_clip_mode": "x"}],
)
def test_invalid_values_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TrainConfig(**bad)


def test_bad_files_name_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=str(path)):
        TrainConfig.from_json(path)
    path.write_text('{"modle": "unet1"}')
    with pytest.raises(ConfigError, match="modle"):
        TrainConfig.from_json(path)
    with pytest.raises(ConfigError, match="no such config file"):
        TrainConfig.from_json(tmp_path / "missing.json")
