import math

import pytest
import torch
from torch import nn

from lunet.boxes import box_iou
from lunet.config import OptimConfig
from lunet.evaluation.segmentation import dice as evaluation_dice
from lunet.training.checkpoint_io import AtomicCheckpointIO
from lunet.training.losses import LossConfig, composite_loss
from lunet.training.metrics import hard_dice
from lunet.training.task import SegmentationTask


class TinyNet(nn.Module):
    """Stand-in segmentation model: two 3×3 convolutions to 4 classes."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1))

    def forward(self, image):
        return self.net(image)


def _batch():
    label = torch.zeros(2, 32, 32, dtype=torch.long)
    label[:, 6:26, 8:24] = 2
    label[:, 10:22, 12:20] = 1
    image = (label == 2).float()[:, None] * 0.8 + 0.1
    return {"image": image, "label": label, "box": torch.tensor([[0.25, 0.19, 0.75, 0.81]] * 2)}


def test_a_few_adam_steps_reduce_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    task = SegmentationTask(TinyNet(), LossConfig(), OptimConfig(lr=1e-2))
    optimiser = task.configure_optimizers()
    batch = _batch()
    batch["label"][:, 27:31, 10:22] = 3  # an atrium below the base: the default loss covers LV, MYO and LA
    batch["image"][:, 0, 27:31, 10:22] = 0.5
    losses = []
    for _ in range(40):
        loss, _ = composite_loss(task(batch["image"]), batch, task.loss_config)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_hard_dice_and_box_iou_known_values():
    a = torch.zeros(2, 4, 4, dtype=torch.bool)
    b = a.clone()
    a[0, :2], b[0, :1] = True, True  # 8 vs 4 pixels, overlap 4 → 2·4/12
    dice = hard_dice(a, b)
    assert dice[0].item() == pytest.approx(2 / 3) and math.isnan(dice[1].item())  # both empty → NaN
    a_np, b_np = a.numpy(), b.numpy()  # the same rule as the evaluation's Dice
    assert dice[0].item() == pytest.approx(evaluation_dice(a_np[0], b_np[0]))
    assert math.isnan(evaluation_dice(a_np[1], b_np[1]))
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    assert box_iou(boxes, torch.tensor([[0.25, 0.0, 0.75, 0.5]])).item() == pytest.approx(1 / 3)
    assert math.isnan(box_iou(torch.zeros(1, 4), torch.zeros(1, 4)).item())  # empty union → NaN


def test_atomic_checkpoint_io_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)

    def broken_save(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # killed in the middle of the write

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    assert list(path.parent.iterdir()) == [path]
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(3))


def test_lunet_warmup_crops_with_the_reference_box():
    from lunet.models import create_model
    from lunet.models.crop import crop_to_box

    torch.manual_seed(0)
    model = create_model("lunet").eval()  # eval: BatchNorm running stats, so two passes agree
    task = SegmentationTask(model, LossConfig(), OptimConfig(), warmup_reference_box_epochs=1, crops_roi=True)
    batch = {**_batch(), "image": torch.rand(2, 1, 64, 64), "label": torch.zeros(2, 64, 64, dtype=torch.long)}
    task.train()
    model.eval()
    out, crop_box = task._run(batch)
    assert crop_box is batch["box"]
    with torch.no_grad():
        expected = model.segmenter(crop_to_box(batch["image"], batch["box"], 64))
    torch.testing.assert_close(out.roi_logits.detach(), expected)
    task.warmup_reference_box_epochs = 0
    _, crop_box = task._run(batch)
    assert crop_box is None


def test_reference_train_crop_uses_jittered_reference_boxes_in_training_only():
    from lunet.models import create_model

    torch.manual_seed(0)
    model = create_model("lunet", box_source="segmentation").eval()
    task = SegmentationTask(
        model, LossConfig(), OptimConfig(), crops_roi=True, train_crop="reference", reference_box_jitter=0.1
    )
    box0 = torch.tensor([[0.3, 0.25, 0.7, 0.75]] * 2)
    batch = {
        **_batch(),
        "image": torch.rand(2, 1, 64, 64),
        "label": torch.zeros(2, 64, 64, dtype=torch.long),
        "box0": box0,
        "box": torch.tensor([[0.28, 0.225, 0.72, 0.775]] * 2),
    }
    task.train()
    model.eval()
    out, crop_box = task._run(batch)
    assert crop_box is not None and not torch.equal(crop_box, batch["box"])  # jittered
    assert (crop_box[:, :2] <= box0[:, :2]).all() and (crop_box[:, 2:] >= box0[:, 2:]).all()
    loss, terms = composite_loss(out, batch, LossConfig(), crop_box)
    assert torch.isfinite(loss) and "box_l1" in terms
    task.eval()
    _, crop_box = task._run(batch)
    assert crop_box is None  # validation crops with the model's own box


def test_reference_train_crop_needs_a_crop_model():
    with pytest.raises(ValueError, match="reference"):
        SegmentationTask(TinyNet(), LossConfig(), OptimConfig(), train_crop="reference")
