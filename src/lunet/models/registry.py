"""The model registry: an explicit mapping ``name → ModelSpec`` and the ``create_model`` factory.

Hyper-parameters are data: a spec's builder takes keyword overrides (e.g. ``create_model("runet", dil=30,
shift=0.7)``, ``create_model("lunet", box_margin=0.15)``); no class per variant. U-L2-mo / U-L2-mu and
LU-Net-m5 / -m15 differ only in their training loss or box targets, so they share one entry each.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from torch import nn

from lunet.boxes import DEFAULT_BOX_MARGIN
from lunet.models.attention_unet import AttentionUNet
from lunet.models.localizers import UL1, UL2, AlexNetLocalizer, VGGLocalizer
from lunet.models.lunet import LUNet
from lunet.models.oracle import OracleUNet1
from lunet.models.runet import RUNet
from lunet.models.shg import StackedUNet
from lunet.models.unet import UNet1


class UnknownModelError(ValueError):
    """A model name or override that the registry does not know."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered network.

    Attributes:
        name: registry name.
        builder: callable taking keyword overrides and returning the ``nn.Module``.
        paper_params: parameter count reported in the papers.
        description: one line for ``lunet models``.
        needs_reference_box: called as ``model(image, crop_box)`` (the oracle) instead of ``model(image)``.
        has_box: its output carries a predicted (or given) box; the model has a ``box_margin``
            hyper-parameter (the margin of its reference boxes, :func:`box_margin_of`).
        crops_roi: ``forward(image, crop_box=None, crop_source=None)`` (LU-Net, the oracle; see
            :mod:`lunet.models.roi`).
        two_stage: its output carries o1 (``coarse_logits``) as well as o2.
        has_segmentation: its output carries full-image segmentation logits.
        note: why the parameter count differs from the paper's, if it does.
    """

    name: str
    builder: Callable[..., nn.Module]
    paper_params: int
    description: str
    needs_reference_box: bool = False
    has_box: bool = False
    crops_roi: bool = False
    two_stage: bool = False
    has_segmentation: bool = True
    note: str = ""


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("unet1", UNet1, 2_000_000, "CAMUS U-Net1 (filters 32-32-64-128-128-128)"),
        ModelSpec(
            "shg",
            StackedUNet,
            4_500_000,
            "3 stacked light U-Net1 (image ⊕ previous softmax)",
            note="light U-Net1 filters 32-32-64-96-112-128 (1.52M each)",
        ),
        ModelSpec(
            "runet",
            RUNet,
            3_900_000,
            "RU-Net: U-Net1 → dilated epicardium × image → U-Net1",
            two_stage=True,
            note="2 × U-Net1; dilation kernel is a buffer",
        ),
        ModelSpec("agunet", AttentionUNet, 2_000_000, "U-Net1 with attention gates + deep supervision"),
        ModelSpec(
            "alexnet-loc",
            AlexNetLocalizer,
            71_000_000,
            "AlexNet-like box regressor, FC 4096-4096-4",
            has_box=True,
            has_segmentation=False,
            note="7×7 adaptive pooling before the FCs",
        ),
        ModelSpec(
            "vgg-loc",
            VGGLocalizer,
            70_000_000,
            "VGG19-like box regressor (BatchNorm), FC 4096-4096-4",
            has_box=True,
            has_segmentation=False,
            note="4×4 adaptive pooling before the FCs",
        ),
        ModelSpec(
            "ul1",
            UL1,
            9_000_000,
            "U-L1: U-Net1 + box from the bottleneck, FC 1024-256-32-4",
            has_box=True,
            note="bottleneck pooled to 7×7 (8×8 would give 10.7M)",
        ),
        ModelSpec(
            "ul2",
            UL2,
            11_000_000,
            "U-L2 (-mo/-mu): U-Net1 → downsampling branch → FC 1024-256-32-4",
            has_box=True,
        ),
        ModelSpec(
            "lunet",
            LUNet,
            13_000_000,
            "LU-Net: U-L2 box → crop → U-Net1 → paste back",
            has_box=True,
            crops_roi=True,
            two_stage=True,
        ),
        ModelSpec(
            "unet1-oracle",
            OracleUNet1,
            2_000_000,
            "U-Net1 on the reference-box crop (BB-m study)",
            needs_reference_box=True,
            has_box=True,
            crops_roi=True,
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; raises :class:`UnknownModelError` naming the known models."""
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


def spec_of(model: nn.Module) -> ModelSpec:
    """The spec whose builder made ``model`` (each registered network has its own class).

    Raises:
        UnknownModelError: a network the registry did not build.
    """
    for spec in MODELS.values():
        if type(model) is spec.builder:
            return spec
    raise UnknownModelError(f"{type(model).__name__} is not a registered lunet network")


def model_option_names(name: str) -> list[str]:
    """The keyword options of ``name``'s constructor (``create_model`` overrides it accepts)."""
    return list(inspect.signature(get_spec(name).builder).parameters)


def check_options(name: str, options: Iterable[str]) -> None:
    """The one check of model options: raise :class:`UnknownModelError` naming the ``options`` that ``name``'s
    constructor does not take, and the ones it does."""
    accepted = model_option_names(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UnknownModelError(
            f"model {name!r} has no option {', '.join(unknown)}; options: {', '.join(accepted) or 'none'}"
        )


def model_options(name: str, overrides: Mapping[str, object], box_margin: float) -> dict[str, object]:
    """The ``create_model`` keyword arguments of a configured model: ``overrides`` checked, with the box
    margin passed as ``box_margin`` to the models whose constructor takes it (and to no other).

    Raises:
        UnknownModelError: an override the model does not accept.
    """
    options = {k: v for k, v in overrides.items() if k != "box_margin"}
    check_options(name, options)
    if "box_margin" in model_option_names(name):
        options["box_margin"] = box_margin
    return options


def create_model(name: str, **overrides: object) -> nn.Module:
    """Build the registered network ``name`` with keyword ``overrides`` of its constructor's defaults.

    Raises:
        UnknownModelError: unknown name, or an override the constructor does not accept.
    """
    check_options(name, overrides)
    return get_spec(name).builder(**overrides)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; buffers such as RU-Net's dilation kernel are not counted."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def box_margin_of(model: nn.Module) -> float:
    """The margin ``m`` of the reference boxes a model is trained on and fed (its ``box_margin``
    hyper-parameter; :data:`lunet.boxes.DEFAULT_BOX_MARGIN` for models without a box, where it is unused)."""
    return float(getattr(model, "box_margin", DEFAULT_BOX_MARGIN))
