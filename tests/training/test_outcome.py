"""Why a run stopped, and the best-weights bundle (the fit tests cover a whole run)."""

import json
from types import SimpleNamespace

import pytest
import torch

from lunet.training.outcome import BestBundle, TrainingOutcome, read_outcome, stop_reason, write_outcome


def _trainer(epoch, max_epochs=30, step=100, max_steps=-1, metrics=None):
    return SimpleNamespace(
        current_epoch=epoch,
        max_epochs=max_epochs,
        global_step=step,
        max_steps=max_steps,
        sanity_checking=False,
        is_global_zero=True,
        callback_metrics=metrics or {},
    )


@pytest.mark.parametrize(
    ("trainer", "early", "max_time_s", "reason"),
    [
        (_trainer(30), False, None, "max_epochs"),
        (_trainer(12), True, None, "early_stopping"),
        (_trainer(3, step=50, max_steps=50), False, None, "max_steps"),
        (_trainer(8), False, 150.0, "max_time"),
        (_trainer(30), False, 150.0, "max_epochs"),
    ],
)
def test_stop_reason(trainer, early, max_time_s, reason):
    assert stop_reason(trainer, early, max_time_s) == reason


def test_outcome_round_trip(tmp_path):
    assert read_outcome(tmp_path) is None
    outcome = TrainingOutcome(12, 30, "early_stopping", 7, "val_loss", 144)
    write_outcome(tmp_path, outcome)
    assert read_outcome(tmp_path) == outcome
    assert json.loads((tmp_path / "training.json").read_text())["stop_reason"] == "early_stopping"


def test_best_bundle_keeps_the_lowest_loss_and_survives_a_resume(tmp_path):
    module = SimpleNamespace(model=torch.nn.Conv2d(1, 4, 1))
    best = BestBundle(tmp_path, "val_loss", {"model": "unet1"})
    for epoch, loss in enumerate([0.5, 0.3, float("nan"), 0.4]):
        if epoch == 1:
            saved = {k: v.clone() for k, v in module.model.state_dict().items()}
        best.on_train_epoch_end(_trainer(epoch, metrics={"val_loss": torch.tensor(loss)}), module)
        with torch.no_grad():
            module.model.weight.add_(1.0)
    assert (best.best_epoch, best.best_score) == (2, pytest.approx(0.3))
    state = json.loads((tmp_path / "model.json").read_text())
    assert state["epoch"] == 2
    from safetensors.torch import load_file

    weights = load_file(str(tmp_path / "model.safetensors"))
    assert all(torch.equal(weights[k], v) for k, v in saved.items())
    resumed = BestBundle(tmp_path, "val_loss", {"model": "unet1"})
    resumed.load_state_dict(best.state_dict())
    resumed.on_train_epoch_end(_trainer(4, metrics={"val_loss": torch.tensor(0.35)}), module)
    assert resumed.best_epoch == 2  # 0.35 is no better than epoch 2's 0.3
