"""LU-Net's box from its coarse segmentation (``box_source="segmentation"``), the cascade and the
half-resolution localizer: known boxes, fallback, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lunet.boxes import box_from_mask, enlarge_box
from lunet.models import create_model
from lunet.models.localizers import box_from_segmentation
from lunet.models.outputs import LUNetOutput


def one_hot_logits(label: np.ndarray, num_classes: int = 4) -> torch.Tensor:
    """(H, W) labels → (1, C, H, W) logits whose arg-max is ``label``."""
    hot = torch.nn.functional.one_hot(torch.from_numpy(label).long(), num_classes)
    return hot.permute(2, 0, 1)[None].float()


@pytest.mark.parametrize("margin", [0.0, 0.05, 0.15])
def test_box_of_a_known_segmentation_equals_box_from_mask(margin: float) -> None:
    label = np.zeros((64, 48), dtype=np.uint8)
    label[10:30, 20:41] = 1  # LV: rows 10..29, cols 20..40
    label[6:12, 18:30] = 2  # MYO widens it to rows 6..29, cols 18..40
    label[40:50, 5:15] = 3  # the atrium is not in the box
    box = box_from_segmentation(one_hot_logits(label), margin)[0].numpy()
    want = box_from_mask(np.isin(label, (1, 2)), margin)
    np.testing.assert_allclose(box, want, atol=1e-6)
    # by hand, margin 0: x 18/48..41/48, y 6/64..30/64
    if margin == 0.0:
        np.testing.assert_allclose(box, [18 / 48, 6 / 64, 41 / 48, 30 / 64], atol=1e-6)


def test_box_clipped_at_the_image_edge() -> None:
    label = np.zeros((32, 32), dtype=np.uint8)
    label[0:16, 0:8] = 1
    box = box_from_segmentation(one_hot_logits(label), 0.5)[0].numpy()
    np.testing.assert_allclose(box, enlarge_box(np.array([0, 0, 8 / 32, 16 / 32]), 0.5), atol=1e-6)
    assert box[0] == 0.0 and box[1] == 0.0


def test_empty_segmentation_falls_back() -> None:
    logits = torch.cat([one_hot_logits(np.zeros((32, 32), np.uint8))] * 2)
    whole = box_from_segmentation(logits, 0.05)
    np.testing.assert_allclose(whole.numpy(), [[0, 0, 1, 1]] * 2)
    fallback = torch.tensor([[0.1, 0.2, 0.5, 0.6], [0.2, 0.2, 0.4, 0.9]])
    np.testing.assert_allclose(box_from_segmentation(logits, 0.05, fallback).numpy(), fallback.numpy())


def test_lunet_crops_with_the_box_of_o1_and_trains_the_regression_head() -> None:
    torch.manual_seed(0)
    model = create_model("lunet", box_source="segmentation").eval()
    image = torch.rand(2, 1, 64, 64)
    out = model(image, crop_source=torch.rand(2, 1, 128, 128))
    assert isinstance(out, LUNetOutput)
    want = box_from_segmentation(out.coarse_logits, model.box_margin, out.regressed_box)
    torch.testing.assert_close(out.box, want)
    assert out.regressed_box is not None and out.regressed_box.requires_grad  # the L1 term trains the head
    assert not out.box.requires_grad


def test_paper_lunet_box_is_the_regressed_box() -> None:
    torch.manual_seed(0)
    model = create_model("lunet").eval()  # default: the paper's regressed box (old bundles load as trained)
    out = model(torch.rand(1, 1, 64, 64))
    assert model.box_source == "regressed"
    torch.testing.assert_close(out.box, out.regressed_box)
    assert out.box.requires_grad  # the ROI loss reaches the localizer through the crop, as in the paper


def test_unknown_box_source_is_refused() -> None:
    with pytest.raises(ValueError, match="box_source"):
        create_model("lunet", box_source="oracle")


class ThresholdSegmenter(torch.nn.Module):
    """A perfect segmenter of the test images: LV where the image is above 0.5 (4-class logits)."""

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        fg = (crop > 0.5).float()
        return torch.cat([1 - fg, fg, torch.zeros_like(fg), torch.zeros_like(fg)], dim=1) * 20.0


def test_cascade_on_a_perfect_first_box_returns_it_unchanged() -> None:
    label = np.zeros((64, 64), dtype=np.uint8)
    label[12:44, 20:40] = 1
    image = torch.from_numpy(label.astype(np.float32))[None, None]
    reference = torch.from_numpy(box_from_mask(label, 0.05)).float()[None]
    model = create_model("lunet", box_source="segmentation", crop_grid="network", refine_steps=1).eval()
    model.segmenter = ThresholdSegmenter()
    o1 = one_hot_logits(label)
    model.localizer.forward = lambda x: type("L", (), {"box": reference, "logits": o1})()
    out = model(image)
    torch.testing.assert_close(out.box, reference, atol=1.5 / 64, rtol=0)  # within a pixel of resampling
    first = create_model("lunet", box_source="segmentation", crop_grid="network").eval()
    first.segmenter, first.localizer = model.segmenter, model.localizer
    torch.testing.assert_close(out.logits.argmax(1), first(image).logits.argmax(1))


def test_cascade_moves_a_loose_first_box_onto_the_structure() -> None:
    label = np.zeros((64, 64), dtype=np.uint8)
    label[12:44, 20:40] = 1
    image = torch.from_numpy(label.astype(np.float32))[None, None]
    loose = torch.tensor([[0.1, 0.05, 0.9, 0.95]])  # contains the structure with a wide margin
    model = create_model("lunet", box_source="segmentation", crop_grid="network", refine_steps=1).eval()
    model.segmenter = ThresholdSegmenter()
    empty = one_hot_logits(np.zeros_like(label))
    model.localizer.forward = lambda x: type("L", (), {"box": loose, "logits": empty})()  # o1 empty
    out = model(image)
    want = torch.from_numpy(box_from_mask(label, 0.05)).float()[None]
    torch.testing.assert_close(out.box, want, atol=1.5 / 64, rtol=0)


def test_half_resolution_localizer_keeps_the_output_contract() -> None:
    torch.manual_seed(0)
    model = create_model("lunet", box_source="segmentation", localizer_scale=2).eval()
    out = model(torch.rand(2, 1, 64, 64), crop_source=torch.rand(2, 1, 128, 128))
    assert out.coarse_logits.shape == (2, 4, 64, 64) and out.logits.shape == (2, 4, 64, 64)
    assert out.box.shape == (2, 4)
    with pytest.raises(ValueError, match=r"multiple|divisible"):
        model(torch.rand(1, 1, 96, 96))  # 96 / 2 = 48 is not a multiple of 32
    with pytest.raises(ValueError, match="localizer_scale"):
        create_model("lunet", localizer_scale=3)


def test_stray_blobs_away_from_the_heart_do_not_stretch_the_box() -> None:
    label = np.zeros((128, 128), dtype=np.uint8)
    label[30:90, 40:80] = 2
    label[40:80, 50:70] = 1
    clean = box_from_mask(np.isin(label, (1, 2)), 0.05)
    noisy = label.copy()
    noisy[2:4, 120:123] = 1  # stray pixels far from the structure (top right, bottom left)
    noisy[118:121, 5:7] = 2
    box = box_from_segmentation(one_hot_logits(noisy), 0.05)[0].numpy()
    np.testing.assert_allclose(box, clean, atol=1e-6)
    # a blob of the seeded structure's own component is kept: a myocardium tongue attached to the wall
    attached = label.copy()
    attached[88:100, 60:64] = 2
    box = box_from_segmentation(one_hot_logits(attached), 0.0)[0].numpy()
    np.testing.assert_allclose(box, [40 / 128, 30 / 128, 80 / 128, 100 / 128], atol=1e-6)


def test_main_component_matches_scipy_on_separated_blobs() -> None:
    from scipy import ndimage

    from lunet.models.localizers import main_component

    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = np.zeros((64, 64), dtype=bool)
        mask[20:44, 20:44] = True  # the structure (the largest, highest score)
        for _ in range(3):  # blobs at least 4 px (two coarse cells) away from it and each other
            r, c = rng.choice([2, 52]), rng.integers(2, 58)
            mask[r : r + 3, c : c + 3] = True
        score = torch.from_numpy(mask.astype(np.float32))[None]
        got = main_component(torch.from_numpy(mask)[None], score)[0].numpy()
        labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
        want = labels == labels[32, 32]
        np.testing.assert_array_equal(got, want)


def test_box_loss_does_not_reach_the_segmentation_when_the_box_comes_from_it() -> None:
    torch.manual_seed(0)
    image = torch.rand(1, 1, 64, 64)
    for source, reaches in (("segmentation", False), ("regressed", True)):
        model = create_model("lunet", box_source=source)
        out = model(image)
        out.regressed_box.sum().backward()
        grads = [p.grad for p in model.localizer.unet.parameters()]
        touched = any(g is not None and g.abs().sum() > 0 for g in grads)
        assert touched is reaches, source
        head = [p.grad for p in model.localizer.head.parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in head)  # the head itself still learns
