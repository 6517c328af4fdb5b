import pytest
import torch

from lunet.models.crop import crop_to_box
from lunet.models.outputs import BoxOutput, LocalizerOutput, LUNetOutput, OracleOutput, RUNetOutput, SHGOutput
from lunet.training.losses import LossConfig, box_l1_loss, composite_loss, one_hot_labels, soft_dice_loss


def _monai_losses():
    """MONAI's losses, the reference of the two Dice tests (the only tests here that need MONAI)."""
    return pytest.importorskip("monai.losses")


def _random(seed=0, b=3, c=4, s=16):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, s, s, generator=g) * 3, torch.randint(0, c, (b, s, s), generator=g)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dice_matches_monai_with_and_without_background(seed):
    monai_losses = _monai_losses()
    logits, label = _random(seed)
    for include_background, classes in [(True, (0, 1, 2, 3)), (False, (1, 2, 3))]:
        ref = monai_losses.DiceLoss(include_background=include_background, to_onehot_y=True, softmax=True)
        expected = ref(logits, label[:, None])
        assert torch.allclose(soft_dice_loss(logits, label, classes), expected, atol=1e-6)


def test_dice_on_lv_and_myo_matches_monai_on_the_selected_channels():
    monai_losses = _monai_losses()
    logits, label = _random(3)
    probs, onehot = torch.softmax(logits, 1), one_hot_labels(label, 4)
    expected = monai_losses.DiceLoss()(probs[:, [1, 2]], onehot[:, [1, 2]])
    assert torch.allclose(soft_dice_loss(logits, label, (1, 2)), expected, atol=1e-6)


def test_dice_soft_target_equals_hard_target_when_one_hot():
    logits, label = _random(4)
    assert torch.allclose(soft_dice_loss(logits, label), soft_dice_loss(logits, one_hot_labels(label, 4)))


def test_dice_perfect_prediction_is_zero_and_wrong_one_is_one():
    _, label = _random(5)
    perfect = one_hot_labels(label, 4) * 40.0
    assert soft_dice_loss(perfect, label).item() == pytest.approx(0.0, abs=1e-6)
    wrong = one_hot_labels((label + 1) % 4, 4) * 40.0
    assert soft_dice_loss(wrong, label).item() == pytest.approx(1.0, abs=1e-6)


def test_box_l1_known_values_and_clip_modes():
    pred = torch.tensor([[0.1, 0.2, 0.6, 0.8], [0.0, 0.0, 1.0, 1.0]])
    target = torch.tensor([[0.2, 0.2, 0.5, 0.6], [1.0, 0.5, 0.5, 0.5]])
    # image 1: 0.1 + 0 + 0.1 + 0.2 = 0.4; image 2 per value: min(1, .99) + .5 + .5 + .5 = 2.49
    assert box_l1_loss(pred, target).item() == pytest.approx((0.4 + 2.49) / 2, abs=1e-6)
    assert box_l1_loss(pred, target, mode="sum").item() == pytest.approx((0.4 + 0.99) / 2, abs=1e-6)
    with pytest.raises(ValueError):
        box_l1_loss(pred, target, mode="max")


def test_box_l1_gradient_is_dropped_beyond_the_clip():
    pred = torch.tensor([[0.0, 0.0, 0.5, 0.5]], requires_grad=True)
    box_l1_loss(pred, torch.tensor([[1.0, 0.1, 0.5, 0.7]])).backward()
    assert pred.grad.tolist() == [[0.0, -1.0, 0.0, -1.0]]


def _batch(s=32):
    label = torch.zeros(2, s, s, dtype=torch.long)
    label[:, 8:24, 10:20] = 2
    label[:, 11:21, 12:18] = 1
    box = torch.tensor([[10 / s, 8 / s, 20 / s, 24 / s]] * 2)
    return {"label": label, "box": box}


def test_composite_terms_per_output_type():
    batch, cfg = _batch(), LossConfig()
    perfect = one_hot_labels(batch["label"], 4) * 40.0
    box = batch["box"].clone()
    total, terms = composite_loss(perfect, batch, cfg)
    assert set(terms) == {"dice"} and total.item() == pytest.approx(0, abs=1e-5)
    total, terms = composite_loss(SHGOutput((perfect, perfect * 0, perfect), perfect), batch, cfg)
    assert set(terms) == {"dice_s1", "dice_s2", "dice_s3"} and terms["dice_s2"].item() > 0.3
    _, terms = composite_loss(RUNetOutput(perfect, perfect[:, :1], perfect), batch, cfg)
    assert set(terms) == {"dice_o1", "dice"}
    total, terms = composite_loss(LocalizerOutput(box + 0.01, perfect), batch, cfg)
    assert set(terms) == {"box_l1", "dice"} and total.item() == pytest.approx(10 * 0.04, abs=1e-4)
    _, terms = composite_loss(LocalizerOutput(box, perfect), batch, LossConfig(ul2_mode="mo"))
    assert set(terms) == {"box_l1"}
    total, terms = composite_loss(BoxOutput(box + 0.01), batch, cfg)
    assert set(terms) == {"box_l1"} and total.item() == pytest.approx(0.04, abs=1e-4)
    with pytest.raises(TypeError):
        composite_loss("logits", batch, cfg)


def test_lunet_roi_loss_follows_the_predicted_box():
    # the papers' loss (LV, MYO): the batch has no atrium, whose empty Dice would dilute the wrong crop's
    batch, cfg = _batch(), LossConfig(dice_classes=(1, 2))
    full = one_hot_labels(batch["label"], 4)
    # boxes on pixel edges, cropped to their own pixel size: the crop is an exact slice (a hard target)
    pred_box = torch.tensor([[0.25, 0.25, 0.75, 0.75], [0.125, 0.25, 0.625, 0.75]])
    roi_perfect = crop_to_box(full, pred_box, 16) * 40.0  # the crop of the label by the *predicted* box
    out = LUNetOutput(full * 40.0, pred_box, roi_perfect, full * 40.0)
    total, terms = composite_loss(out, batch, cfg)
    assert set(terms) == {"box_l1", "dice_o1", "dice_roi"}
    assert terms["dice_roi"].item() < 1e-5 and terms["dice_o1"].item() < 1e-5
    assert total.item() == pytest.approx(10 * terms["box_l1"].item() + terms["dice_roi"].item(), abs=1e-4)
    # the same ROI judged against the crop by the reference box is wrong
    _, ref_terms = composite_loss(out, batch, cfg, crop_box=batch["box"])
    assert ref_terms["dice_roi"].item() > 0.3
    _, o2_terms = composite_loss(out, batch, LossConfig(lunet_o2_loss=True))
    assert "dice" in o2_terms


def test_oracle_roi_loss_uses_the_given_box():
    batch = _batch()
    roi = crop_to_box(one_hot_labels(batch["label"], 4), batch["box"], (16, 10)) * 40.0  # exact slice
    _, terms = composite_loss(OracleOutput(batch["box"], roi, roi), batch, LossConfig())
    assert set(terms) == {"dice_roi"} and terms["dice_roi"].item() < 1e-5


def test_lunet_loss_gradient_reaches_the_box_only_through_the_prediction():
    batch = _batch()
    box = torch.tensor([[0.2, 0.2, 0.8, 0.8]] * 2, requires_grad=True)
    roi = torch.zeros(2, 4, 32, 32, requires_grad=True)
    out = LUNetOutput(torch.zeros(2, 4, 32, 32), box, roi, torch.zeros(2, 4, 32, 32))
    total, _ = composite_loss(out, batch, LossConfig(loc_weight=0.0))
    total.backward()
    assert box.grad is None or float(box.grad.abs().sum()) == 0.0  # target crop uses a detached box
    assert float(roi.grad.abs().sum()) > 0


def test_uint8_labels_give_the_int64_losses():
    """The data module hands uint8 labels; every loss term equals the one of int64 labels."""
    batch = _batch()
    narrow = {**batch, "label": batch["label"].to(torch.uint8)}
    logits = torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    output = LUNetOutput(logits, batch["box"] + 0.02, logits[:, :, :16, :16], logits)
    wide_total, wide = composite_loss(output, batch, LossConfig())
    narrow_total, terms = composite_loss(output, narrow, LossConfig())
    assert narrow_total.item() == pytest.approx(wide_total.item(), abs=1e-6) and set(terms) == set(wide)
    for name, value in wide.items():
        assert terms[name].item() == pytest.approx(value.item(), abs=1e-6), name
