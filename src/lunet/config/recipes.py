"""LU-Net's training recipes: named sets of settings, written into a config when it is made.

``paper`` is LU-Net as published (TUFFC 2020): the box regressed by U-L2, the segmenter trained end to end on
the crop of the predicted box (the ROI loss follows the evolving box). ``robust`` is lunet's default for
``lunet``: the box is the bounding box of U-L2's own coarse segmentation o1 (``box_source="segmentation"``;
U-L2's regression head then learns from a detached softmax, so o1 stays a segmentation), enlarged by the
paper's larger margin m15 (``box_margin=0.15``), and the segmenter is trained end to end on the crops of that
box, as in the paper. Chosen on validation phantom patients (BENCHMARKS.md, "LU-Net's localization"): m15
against m5 kept every box around the structure (BB-out 0 % vs 5.6 %) and lowered LV_Epi d_H (2.51 vs
3.06 mm); training the segmenter on jittered reference boxes instead (``train_crop="reference"``,
``reference_box_jitter``) was measured and kept as an option, not the default; a half-resolution localizer
(``localizer_scale=2``) lost the box at the selection budget (IoU 0.64) and is an option too.

A recipe is not looked up at training time: :func:`recipe_changes` turns it into explicit field values when
a config is created or its model or recipe changes (:meth:`lunet.config.TrainConfig.replace`), so every
``config.json`` holds the settings that ran, and a config written before recipes existed (no ``recipe``
field: ``"paper"``) trains and predicts as it did. Values the caller gives explicitly always win. Recipes
only change ``lunet``; for the other models the field is recorded and has no effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The models a recipe changes.
RECIPE_MODELS = ("lunet",)

#: Settings of each recipe: model overrides and trainer fields (flag names).
RECIPE_SETTINGS: dict[str, dict[str, Any]] = {
    "paper": {
        "overrides": {},  # the constructor defaults: the regressed box
        "train_crop": "predicted",
        "reference_box_jitter": 0.0,
    },
    "robust": {
        "overrides": {"box_source": "segmentation", "box_margin": 0.15},
        "train_crop": "predicted",
        "reference_box_jitter": 0.0,
    },
}

#: Model options a recipe owns: dropped from the current overrides when a recipe is (re)applied (an explicit
#: ``margin`` / ``model_overrides`` in the same change still wins).
RECIPE_OVERRIDES = ("box_source", "box_margin")

#: The recipe a new ``lunet`` config gets when none is named.
DEFAULT_RECIPE = "robust"


def default_recipe(model: str) -> str:
    """The recipe of a new config of ``model``: :data:`DEFAULT_RECIPE` for LU-Net, else ``"paper"``."""
    return DEFAULT_RECIPE if model in RECIPE_MODELS else "paper"


def recipe_changes(
    changes: Mapping[str, Any], current_model: str, current_overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """``changes`` (flag-named, ``None`` already dropped) completed with the settings of their recipe.

    A recipe applies when ``changes`` names one (``recipe``) or changes the model; otherwise ``changes`` is
    returned as it is. Explicit values in ``changes`` (``train_crop``, ``reference_box_jitter``, a key of
    ``model_overrides``) win over the recipe's.
    """
    out = dict(changes)
    model = out.get("model", current_model)
    if "recipe" not in out and model == current_model:
        return out
    recipe = out.setdefault("recipe", default_recipe(model))
    if model not in RECIPE_MODELS:
        return out
    settings = RECIPE_SETTINGS[recipe]
    for flag in ("train_crop", "reference_box_jitter"):
        out.setdefault(flag, settings[flag])
    given = dict(changes.get("model_overrides") or {})
    base = {k: v for k, v in current_overrides.items() if k not in RECIPE_OVERRIDES}
    base = base if model == current_model else {}
    out["model_overrides"] = {**base, **settings["overrides"], **given}
    return out
