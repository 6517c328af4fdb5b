"""The crop models' ROI path: a native-resolution crop composed on the original grid vs the network grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lunet.data.labels import Label
from lunet.data.preprocess import crop_source_size, prepare_image
from lunet.models import create_model
from lunet.models.blocks import InputShapeError
from lunet.models.postprocess import labels_on_grid
from lunet.models.roi import uses_crop_source

NATIVE, SIZE = 256, 64  # original frame side, network side (4× coarser); crop source 2S = 128
BOX = torch.tensor([[0.25, 0.25, 0.75, 0.75]])  # original columns/rows 64..192: ROI pitch 2 px at 2S


def _threshold_segmenter(threshold: float = 0.6) -> torch.nn.Conv2d:
    """A stand-in for a perfect U-Net1: myocardium wherever the intensity exceeds ``threshold``."""
    conv = torch.nn.Conv2d(1, 4, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.copy_(torch.tensor([0.0, -100.0, -40.0 * threshold, -100.0]))
        conv.weight[int(Label.MYO), 0] = 40.0
    return conv


def _thin_line_frame() -> np.ndarray:
    """256×256: a 2-pixel bright line (columns 100-101, rows 80-175) and a bright block outside the box."""
    image = np.zeros((NATIVE, NATIVE), np.float32)
    image[80:176, 100:102] = 1.0
    image[4:20, 4:20] = 1.0  # keeps the min-max normalisation of every resized copy at [0, 1]
    return image


def _oracle(crop_grid: str) -> torch.nn.Module:
    model = create_model("unet1-oracle", crop_grid=crop_grid).eval()
    model.segmenter = _threshold_segmenter()
    return model


@torch.no_grad()
def test_thin_structure_is_recovered_at_native_resolution_and_lost_on_the_network_grid():
    frame, spacing = _thin_line_frame(), (0.3, 0.3)
    image = torch.from_numpy(prepare_image(frame, spacing, SIZE)[0])[None, None]
    source = torch.from_numpy(prepare_image(frame, spacing, crop_source_size(SIZE))[0])[None, None]
    truth = np.zeros((NATIVE, NATIVE), bool)
    truth[80:176, 100:102] = True

    native = _oracle("native")
    out = native(image, BOX, crop_source=source)
    fine = labels_on_grid(out.roi_logits[0], (NATIVE, NATIVE), BOX[0].numpy()) == int(Label.MYO)
    np.testing.assert_array_equal(fine[84:172], truth[84:172])  # exactly columns 100-101 (ends: ±1 ROI px)
    assert fine.sum() == pytest.approx(truth.sum(), rel=0.05)

    coarse_model = _oracle("network")
    coarse_out = coarse_model(image, BOX, crop_source=source)  # the network grid ignores the source
    coarse = labels_on_grid(coarse_out.logits[0], (NATIVE, NATIVE)) == int(Label.MYO)
    # 4× bilinear sampling puts the line at half intensity: below the segmenter's 0.6, the line is lost
    assert float(image.max()) == 1.0 and float(image[0, 0, 20:44, 24:26].max()) == pytest.approx(0.5)
    assert coarse.sum() == 0


@torch.no_grad()
def test_lunet_crops_with_the_given_box_from_the_source_and_keeps_its_predicted_box():
    torch.manual_seed(0)
    model = create_model("lunet").eval()
    image, source = torch.rand(2, 1, 64, 64), torch.rand(2, 1, 128, 128)
    box = torch.tensor([[0.1, 0.2, 0.6, 0.9], [0.3, 0.3, 0.7, 0.8]])
    out = model(image, crop_box=box, crop_source=source)
    from lunet.models.crop import crop_to_box

    torch.testing.assert_close(out.roi_logits, model.segmenter(crop_to_box(source, box, 64)))
    torch.testing.assert_close(out.box, model.localizer(image).box)
    plain = model(image)  # no crop source: the ROI is cropped from the input
    torch.testing.assert_close(plain.roi_logits, model.segmenter(crop_to_box(image, plain.box, 64)))
    with pytest.raises(InputShapeError, match="crop_source"):
        model(image, crop_source=source[:1])


def test_crop_options_are_checked_and_the_native_grid_is_the_default():
    assert uses_crop_source(create_model("lunet")) and uses_crop_source(create_model("unet1-oracle"))
    assert not uses_crop_source(create_model("lunet", crop_grid="network"))
    assert not uses_crop_source(create_model("unet1"))
    assert create_model("unet1-oracle", box_margin=0.15).box_margin == 0.15
    with pytest.raises(ValueError, match="crop_grid"):
        create_model("lunet", crop_grid="fine")
    with pytest.raises(ValueError, match="box_margin"):
        create_model("unet1-oracle", box_margin=1.5)
