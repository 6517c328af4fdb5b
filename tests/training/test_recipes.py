"""LU-Net's recipes: what each sets, what a user's flags keep, old configs, jittered reference boxes."""

from __future__ import annotations

import json

import pytest
import torch

from lunet.config import ConfigError, TrainConfig
from lunet.config.recipes import DEFAULT_RECIPE, RECIPE_SETTINGS
from lunet.training.jitter import jitter_boxes


def test_new_lunet_config_gets_the_default_recipe() -> None:
    config = TrainConfig().replace(model="lunet")
    assert DEFAULT_RECIPE == "robust" and config.model.recipe == "robust"
    assert config.model.overrides["box_source"] == "segmentation"
    assert config.model.box_margin == 0.15  # the paper's m15, chosen on validation patients
    assert config.trainer.train_crop == RECIPE_SETTINGS["robust"]["train_crop"] == "predicted"
    assert config.trainer.reference_box_jitter == 0.0


def test_paper_recipe_is_the_published_lunet() -> None:
    config = TrainConfig.create(model="lunet", recipe="paper", margin=0.15)
    assert config.model.overrides == {"box_margin": 0.15}  # the constructor default: the regressed box
    assert config.trainer.train_crop == "predicted" and config.trainer.reference_box_jitter == 0.0
    assert config.trainer.warmup_reference_box_epochs == 0


def test_explicit_values_win_over_the_recipe() -> None:
    config = TrainConfig.create(
        model="lunet",
        train_crop="reference",
        reference_box_jitter=0.1,
        model_overrides={"box_source": "regressed"},
    )
    assert config.model.recipe == "robust"
    assert config.trainer.train_crop == "reference" and config.trainer.reference_box_jitter == 0.1
    assert config.model.overrides["box_source"] == "regressed"


def test_other_models_are_untouched() -> None:
    config = TrainConfig.create(model="unet1")
    assert config.model.recipe == "paper" and config.model.overrides == {}
    assert config.trainer.train_crop == "predicted"


def test_a_config_from_before_recipes_loads_as_the_paper() -> None:
    old = TrainConfig.create(model="lunet", recipe="paper").to_dict()
    del old["model"]["recipe"], old["trainer"]["train_crop"], old["trainer"]["reference_box_jitter"]
    old["model"]["overrides"] = {}
    config = TrainConfig.from_json(json.dumps(old))
    assert config.model.recipe == "paper" and config.trainer.train_crop == "predicted"
    assert "box_source" not in config.model.overrides  # the model's default: the regressed box
    again = config.replace(epochs=3)  # changing another field does not apply a recipe
    assert again.model == config.model and again.trainer.train_crop == "predicted"


def test_switching_recipes_drops_the_options_the_old_one_set() -> None:
    robust = TrainConfig.create(model="lunet", model_overrides={"dil": 3})
    paper = robust.replace(recipe="paper")
    assert paper.model.overrides == {"dil": 3} and paper.trainer.train_crop == "predicted"
    assert paper.model.box_margin == 0.05  # the constructor's m5, the paper's default
    assert paper.replace(recipe="robust").model == robust.model
    explicit = robust.replace(recipe="paper", margin=0.1)  # a margin given with the switch wins
    assert explicit.model.box_margin == 0.1


def test_an_explicit_margin_wins_over_the_robust_recipe() -> None:
    assert TrainConfig.create(model="lunet", margin=0.05).model.box_margin == 0.05
    assert TrainConfig.create(model="lunet", margin=0.05).model.overrides["box_source"] == "segmentation"


def test_unknown_recipe_is_refused() -> None:
    with pytest.raises(ConfigError, match="recipe"):
        TrainConfig.create(model="lunet", recipe="fast")


def test_jittered_boxes_keep_the_structure_inside() -> None:
    gen = torch.Generator().manual_seed(0)
    box0 = torch.rand(2000, 2) * 0.5
    box0 = torch.cat([box0, box0 + 0.1 + torch.rand(2000, 2) * 0.4], dim=1)
    extent = box0[:, 2:] - box0[:, :2]
    box = torch.cat([box0[:, :2] - 0.05 * extent, box0[:, 2:] + 0.05 * extent], 1).clamp(0, 1)
    jittered = jitter_boxes(box, box0, 0.1, gen)
    assert (jittered[:, :2] <= box0[:, :2] + 1e-7).all() and (jittered[:, 2:] >= box0[:, 2:] - 1e-7).all()
    assert (jittered >= 0).all() and (jittered <= 1).all()
    moved = (jittered - box).abs()
    assert (moved > 1e-4).float().mean() > 0.5  # the sides do move
    # outward moves are free: their spread follows sd × the box extent (0.1 × extent within 10 %)
    outward = (box[:, 2] - box0[:, 2] > 0) & (jittered[:, 2] > box[:, 2]) & (box[:, 2] < 0.9)
    ratio = ((jittered[:, 2] - box[:, 2]) / (box[:, 2] - box[:, 0]))[outward]
    assert ratio.mean().item() == pytest.approx(0.1 * (2 / torch.pi) ** 0.5, rel=0.1)


def test_zero_jitter_is_the_reference_box() -> None:
    box = torch.tensor([[0.2, 0.2, 0.6, 0.7]])
    assert jitter_boxes(box, box, 0.0) is box
