"""One contract test per registered network (looped over the registry)."""

from __future__ import annotations

import functools

import pytest
import torch

from lunet.models import MODELS, count_parameters, create_model
from lunet.models.blocks import InputShapeError
from lunet.models.outputs import BoxOutput, final_logits, first_logits, predicted_box
from lunet.models.registry import UnknownModelError

NAMES = list(MODELS)


@functools.cache
def _shared_model(name: str) -> torch.nn.Module:
    """One eval-mode instance per name for the read-only tests (building the 70M-parameter FCs is slow)."""
    torch.manual_seed(0)
    return create_model(name).eval()


#: Models whose FC layers are too heavy for a batch of 2 at 256×256 on the shared CPU.
HEAVY = {"alexnet-loc", "vgg-loc"}


def _inputs(name: str, batch: int, size: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(1)
    image = torch.randn(batch, 1, size, size, generator=gen)
    if MODELS[name].needs_reference_box:
        box = torch.tensor([[0.2, 0.1, 0.7, 0.85], [0.0, 0.0, 1.0, 1.0]])[:batch]
        return image, box
    return (image,)


def _tensors(output: object) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    out: list[torch.Tensor] = []
    for value in output:  # type: ignore[attr-defined]
        out += [v for v in value] if isinstance(value, tuple) else [value]
    return out


def _check_output(name: str, output: object, batch: int, size: int) -> None:
    spec = MODELS[name]
    if spec.has_segmentation:
        assert final_logits(output).shape == (batch, 4, size, size)
    else:
        assert isinstance(output, BoxOutput)
    if spec.two_stage:
        assert first_logits(output).shape == (batch, 4, size, size)
    box = predicted_box(output)
    assert (box is not None) == spec.has_box
    if box is not None and not spec.needs_reference_box:
        assert box.shape == (batch, 4)
        assert torch.all(box >= 0) and torch.all(box <= 1)
        assert torch.all(box[:, 2:] - box[:, :2] >= 1 / 32 - 1e-6)
    for t in _tensors(output):
        assert torch.isfinite(t).all(), f"{name}: non-finite output"


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_roundtrip(name):
    torch.manual_seed(0)
    model = create_model(name)
    inputs = _inputs(name, 1, 64)
    output = model(*inputs)
    _check_output(name, output, 1, 64)
    gen = torch.Generator().manual_seed(2)
    loss = sum((t * torch.randn(t.shape, generator=gen)).sum() for t in _tensors(output))
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"
        assert p.grad.abs().sum() > 0, f"{name}: zero gradient in {pname}"

    model.eval()
    clone = _shared_model(name)  # a second, independently initialised instance
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        for a, b in zip(_tensors(model(*inputs)), _tensors(clone(*inputs))):
            assert torch.equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_full_size_batch(name):
    batch = 1 if name in HEAVY else 2
    with torch.no_grad():
        output = _shared_model(name)(*_inputs(name, batch, 256))
    _check_output(name, output, batch, 256)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(1, 1, 65, 65), (1, 1, 64, 80), (1, 3, 64, 64), (1, 64, 64)])
def test_bad_input_shape_is_a_clear_value_error(name, shape):
    model = _shared_model(name)
    image = torch.zeros(shape)
    args = (image, torch.tensor([[0.1, 0.1, 0.9, 0.9]])) if MODELS[name].needs_reference_box else (image,)
    with pytest.raises(InputShapeError, match=r"(multiples of 32|channel|shape)"):
        model(*args)


def test_parameter_counts_near_the_papers():
    for name, spec in MODELS.items():
        params = count_parameters(_shared_model(name))
        assert abs(params / spec.paper_params - 1) <= 0.15, f"{name}: {params} vs paper {spec.paper_params}"
    assert count_parameters(_shared_model("unet1")) == 1_994_660


def test_runet_dilation_kernel_is_a_buffer_not_saved():
    model = create_model("runet", dil=5)
    assert "attention.kernel" in dict(model.named_buffers())
    assert not any("kernel" in n for n, _ in model.named_parameters())
    assert not any("kernel" in k for k in model.state_dict())


def test_create_model_errors():
    with pytest.raises(UnknownModelError, match="known models"):
        create_model("resnet")
    with pytest.raises(UnknownModelError, match="no option"):
        create_model("unet1", dil=3)
    assert create_model("lunet", box_margin=0.15).box_margin == 0.15


@pytest.mark.parametrize("name", NAMES)
def test_predictor_runs_every_model_under_the_names_of_model_io(name):
    """``Predictor.from_model`` (a run's own predictions, ``--backend torch``) returns what the forward pass
    returns, under the names :func:`lunet.bundle.model_io` gives every back-end."""
    import numpy as np

    from lunet.bundle import model_io
    from lunet.models.registry import spec_of
    from lunet.models.roi import uses_crop_source
    from lunet.predictor import Predictor

    model, spec = _shared_model(name), MODELS[name]
    assert spec_of(model) is spec
    predictor = Predictor.from_model(model, 64, first_stage=True)
    inputs, outputs = model_io(spec, uses_crop_source(model))
    assert predictor.inputs == inputs and inputs[0] == "image"
    assert predictor.outputs == outputs + (["o1_logits"] if spec.two_stage else [])
    gen = torch.Generator().manual_seed(3)
    feeds = {"image": torch.randn(1, 1, 64, 64, generator=gen)}
    if "crop_box" in inputs:
        feeds["crop_box"] = torch.tensor([[0.2, 0.1, 0.7, 0.85]])
    if "crop_source" in inputs:
        feeds["crop_source"] = torch.randn(1, 1, 128, 128, generator=gen)
    got = predictor(*(feeds[k].numpy() for k in ("image", "crop_source") if k in feeds),
                    crop_box=feeds["crop_box"].numpy() if "crop_box" in feeds else None)  # fmt: skip
    with torch.no_grad():
        out = model(feeds.pop("image"), **feeds)
    want = {"box": predicted_box, "o1_logits": first_logits, "roi_logits": lambda o: o.roi_logits}
    for key in predictor.outputs:
        expected = want.get(key, final_logits)(out).numpy()
        np.testing.assert_array_equal(got[key], expected)
    wrong = {"crop_box": None} if "crop_box" in inputs else {"crop_box": np.zeros((1, 4), np.float32)}
    source = np.zeros((1, 1, 128, 128), np.float32) if "crop_source" in inputs else None
    with pytest.raises(ValueError, match="takes"):  # a missing or an extra input is refused by name
        predictor(np.zeros((1, 1, 64, 64), np.float32), source, **wrong)


def test_model_options_are_checked_in_one_place_and_the_margin_goes_to_box_models_only():
    from lunet.models.registry import check_options, model_options

    assert model_options("lunet", {"box_source": "segmentation"}, 0.15) == {
        "box_source": "segmentation",
        "box_margin": 0.15,
    }
    assert model_options("unet1", {"box_margin": 0.15}, 0.15) == {}  # U-Net1 has no box: no margin
    with pytest.raises(UnknownModelError, match=r"model 'unet1' has no option dil; options: .*filters"):
        model_options("unet1", {"dil": 3}, 0.05)
    with pytest.raises(UnknownModelError, match="has no option nope"):
        create_model("runet", nope=1)
    check_options("runet", ["dil", "shift"])


def test_every_output_names_its_segmentation_logits() -> None:
    """One name per concept (#25): the localizers' segmentation is ``logits`` like every other output's;
    the old ``seg_logits`` still reads it, with a DeprecationWarning."""
    from lunet.models.outputs import LocalizerOutput, final_logits

    logits = torch.randn(1, 4, 8, 8)
    output = LocalizerOutput(box=torch.zeros(1, 4), logits=logits)
    assert final_logits(output) is logits
    with pytest.warns(DeprecationWarning, match="seg_logits"):
        assert output.seg_logits is logits
