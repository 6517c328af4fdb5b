"""Degenerate network outputs: non-finite logits and boxes partly or wholly outside the image."""

import numpy as np
import torch

from lunet.evaluation.segmentation import segmentation_scores
from lunet.models.crop import background_logits_fill, crop_to_box, paste_from_box
from lunet.models.postprocess import frame_labels, labels_on_grid, probabilities_on_grid


def test_nan_logits_become_background_not_an_arbitrary_class():
    logits = np.zeros((4, 16, 16), np.float32)
    logits[1, 4:12, 4:12] = 6.0  # an LV square
    logits[:, 0:2, :] = np.nan  # a diverged band
    logits[3, 14:, :] = np.inf
    label = labels_on_grid(logits, (32, 32))
    assert (label[0:4] == 0).all()  # the NaN band, resized ×2
    assert (label[28:] == 0).all()  # inf is not finite either
    assert (label[10:22, 10:22] == 1).all()


def test_the_untrained_atrium_channel_is_never_output():
    logits = np.zeros((4, 8, 8), np.float32)
    logits[3] = 5.0  # the LA channel wins everywhere …
    logits[1, :4] = 6.0  # … except where the LV beats it
    logits[0, 4:, :4] = -1.0  # below, background alone is weaker than LV, but BG + LA is not
    logits[1, 4:, :4] = 1.0
    label = labels_on_grid(logits, (8, 8))
    assert set(np.unique(label)) == {0, 1}
    assert (label[:4] == 1).all() and (label[4:] == 0).all()


def test_all_nan_logits_give_an_empty_mask_that_the_metrics_score_as_a_failure():
    label = labels_on_grid(torch.full((4, 8, 8), float("nan")), (8, 8))
    assert label.sum() == 0
    reference = np.zeros((8, 8), np.uint8)
    reference[2:6, 2:6] = 1
    scores = segmentation_scores(label, reference, spacing=(0.3, 0.3))
    assert scores["lv_endo_dice"] == 0.0 and np.isnan(scores["lv_endo_hd_mm"])


def test_box_outside_the_image_crops_zeros_and_pastes_background():
    image = torch.rand(1, 1, 32, 32)
    outside = torch.tensor([[1.2, 1.1, 1.6, 1.5]])  # wholly outside: beyond the bottom-right corner
    crop = crop_to_box(image, outside, 16)
    assert torch.isfinite(crop).all() and crop.abs().max() == 0
    logits = torch.randn(1, 4, 16, 16)
    pasted = paste_from_box(logits, outside, 32, fill=background_logits_fill(4))
    assert torch.isfinite(pasted).all()
    assert (pasted.argmax(1) == 0).all()  # nothing of the ROI lands in the image


def test_box_straddling_the_border_keeps_the_inside_part():
    image = torch.arange(32 * 32, dtype=torch.float32).reshape(1, 1, 32, 32)
    box = torch.tensor([[0.5, 0.5, 1.5, 1.5]])  # the right-bottom quarter of the box is the image's
    crop = crop_to_box(image, box, 32)
    np.testing.assert_allclose(crop[0, 0, :16, :16].numpy(), image[0, 0, 16:, 16:].numpy(), atol=1e-4)
    assert crop[0, 0, 17:, 17:].abs().max() == 0


def test_frame_prediction_reads_every_output_layout():
    """Full-image logits, an ROI with its box, o1 and a box alone: labels and box on the original grid."""
    from lunet.models.postprocess import frame_prediction

    logits = np.zeros((2, 4, 8, 8), np.float32)
    logits[:, 1, :, :4] = 5.0  # LV on the left half, myocardium on the right
    logits[:, 2, :, 4:] = 5.0
    box = np.array([[0.5, 0.0, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5]], np.float32)
    full = frame_prediction({"logits": logits, "o1_logits": logits[:, [0, 2, 1, 3]]}, 1, (20, 40))
    assert full.box is None and (full.labels[:, :20] == 1).all() and (full.labels[:, 20:] == 2).all()
    assert (full.coarse_labels[:, :20] == 2).all() and (full.coarse_labels[:, 20:] == 1).all()
    roi = frame_prediction({"roi_logits": logits, "box": box}, 0, (20, 40))  # the ROI in the right half
    assert roi.box.dtype == np.float64 and roi.box.tolist() == [0.5, 0.0, 1.0, 1.0]
    assert roi.coarse_labels is None and (roi.labels[:, :20] == 0).all()  # outside the box: background
    inner = roi.labels[1:-1]  # (the box's own edge rows blend with the background fill)
    assert (inner[:, 20:30] == 1).all() and (inner[:, 30:] == 2).all()
    regressor = frame_prediction({"box": box}, 1, (20, 40))
    assert regressor.labels is None and regressor.box.tolist() == [0.0, 0.0, 0.5, 0.5]


def test_a_model_trained_on_the_atrium_outputs_label_3():
    logits = np.zeros((4, 8, 8), np.float32)
    logits[3] = 5.0
    logits[1, :4] = 6.0
    label = labels_on_grid(logits, (8, 8), atrium=True)
    assert (label[:4] == 1).all() and (label[4:] == 3).all()
    assert probabilities_on_grid(logits, (8, 8), atrium=True).shape == (4, 8, 8)
    assert probabilities_on_grid(logits, (8, 8)).shape == (3, 8, 8)


def test_lunet_atrium_comes_from_o1_outside_the_box_and_never_overwrites_the_roi():
    roi = np.full((1, 4, 8, 8), -5.0, np.float32)
    roi[0, 1] = 5.0  # the ROI: all LV inside the box (top half of the image)
    coarse = np.full((1, 4, 16, 16), -5.0, np.float32)
    coarse[0, 3] = 5.0  # o1: LA everywhere, the ROI's LV included
    outputs = {
        "roi_logits": roi,
        "box": np.array([[0.0, 0.0, 1.0, 0.5]], np.float32),
        "coarse_logits": coarse,
    }
    label = frame_labels(outputs, 0, (16, 16), atrium=True)
    assert (label[:8] == 1).all() and (label[8:] == 3).all()
    old = frame_labels(outputs, 0, (16, 16))  # a model not trained on the LA ignores o1
    assert (old[:8] == 1).all() and (old[8:] == 0).all()
