"""``lunet calibrate``: a run's validation patients through the TTA passes → calibration.json (known answers
with a stand-in network that segments the LV of a CAMUS-style folder exactly)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from eval_helpers import SIZES, lv_labels, write_nifti, write_patient
from inference_helpers import LvBandNet

from lunet.cli import main
from lunet.evaluation.clinical import patient_volumes
from lunet.evaluation.interval_calibration import PASSES_FILE, read_calibration, read_passes
from lunet.evaluation.references import References
from lunet.inference.calibrate import calibrate_run
from lunet.inference.tta import DEFAULT_PASSES

VAL = [f"patient{i:04d}" for i in range(1, 11)]
TEST = [f"patient{i:04d}" for i in range(11, 14)]
SPACING = (0.4, 0.3)
SHAPE = (128, 112)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    for pid in VAL + TEST:
        folder = write_patient(data, pid, "Poor" if pid == "patient0011" else "Good", SIZES, SPACING)
        for key, (a, b) in SIZES.items():  # the image: a bright LV on a dark background
            write_nifti(folder / f"{pid}_{key}.nii.gz", 10.0 + 100.0 * (lv_labels(SHAPE, SPACING, a, b) == 1),
                        SPACING)  # fmt: skip
    run = tmp_path / "run"
    (run / "folds").mkdir(parents=True)
    for split, ids in (("training", ["patient0099"]), ("validation", VAL), ("testing", TEST)):
        (run / "folds" / f"subGroup1_{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    (run / "config.json").write_text(json.dumps({"model": "unet1", "data": str(data), "fold": 1}))
    import lunet.inference.backends as backends

    monkeypatch.setattr(backends, "load_predictor", lambda *a, **k: LvBandNet())
    return run


def test_calibrate_run_known_answer(run: Path) -> None:
    """Identical patients: every validation residual is |EF − 50| (cfg EF), so the absolute quantile is that
    residual; the point estimate is EF of the reference LV masks (the net is exact up to resampling), in the
    evaluation's Simpson convention of the folder."""
    cal = calibrate_run(run, level=0.9, score="absolute")
    assert cal.score == "absolute" and cal.n_patients == len(VAL) and cal.level == 0.9
    assert len(cal.passes) == 7 and cal.passes[0] == "identity"
    passes = read_passes(run / PASSES_FILE)
    assert sorted(passes) == sorted(VAL + TEST)
    assert set(read_passes(run / PASSES_FILE, "test")) == set(TEST)
    point = passes["patient0001"].point()
    ref = patient_volumes(
        {
            (v, i): (lv_labels(SHAPE, SPACING, *SIZES[f"{v}_{i}"]) == 1, SPACING)
            for v in ("2CH", "4CH")
            for i in ("ED", "ES")
        },
        References(run.parent / "data").simpson,
    )  # the folder has no phantom truth: the camus convention
    assert point["ef_percent"] == pytest.approx(ref["ef_percent"], abs=2.0)
    assert cal.indices["ef_percent"].quantile == pytest.approx(abs(point["ef_percent"] - 50.0))
    assert cal.indices["edv_ml"].quantile == pytest.approx(abs(point["edv_ml"] - 40.0))
    spread = passes["patient0001"].spread()["ef_percent"]
    assert 0 < spread < 3  # the passes move the EF a little, never by much on an exact segmentation
    assert read_calibration(run) == cal


def test_cli_calibrate_and_a_run_without_validation_patients(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", str(run), "--passes", "3", "--no-test", "--score", "normalised"]) == 0
    cal = read_calibration(run)
    assert cal is not None and cal.score == "normalised" and len(cal.passes) == 3
    assert "normalised score" in capsys.readouterr().out
    assert set(read_passes(run / PASSES_FILE)) == set(VAL)
    (run / "folds" / "subGroup1_validation.txt").write_text("")
    with pytest.raises(ValueError, match="no validation patients"):
        calibrate_run(run)


def test_ensemble_member_that_trained_on_a_calibration_patient_is_refused(run: Path, tmp_path: Path) -> None:
    """A second model whose training list holds a validation patient (as another fold of lunet cv would)."""
    member = tmp_path / "member"
    (member / "folds").mkdir(parents=True)
    for split, ids in (("training", ["patient0003"]), ("validation", ["patient0099"]), ("testing", TEST)):
        (member / "folds" / f"subGroup1_{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    (member / "config.json").write_text((run / "config.json").read_text())
    with pytest.raises(ValueError, match="trained on 1 of the calibration patients"):
        calibrate_run(run, ensemble=[member])
    (member / "folds" / "subGroup1_training.txt").write_text("patient0098\n")
    cal = calibrate_run(run, ensemble=[member], test=False, passes=DEFAULT_PASSES[:2])
    assert cal.models == 2 and len(read_passes(run / PASSES_FILE)["patient0001"].names) == 4


def test_after_training_with_too_few_validation_patients(run: Path, caplog: pytest.LogCaptureFixture) -> None:
    """10 validation patients: 95 % needs 19, so nothing is written and one line says why (the highest level
    10 allow is 0.90); a calibration.json older than the weights is flagged as stale."""
    import logging
    import os

    from lunet.inference.calibrate import calibrate_after_training, highest_level

    assert [highest_level(n) for n in (0, 1, 2, 4, 8, 9, 10, 19)] == [
        None,
        0.5,
        0.65,
        0.8,
        0.85,
        0.9,
        0.9,
        0.95,
    ]
    caplog.set_level(logging.INFO, logger="lunet.inference.calibrate")
    assert calibrate_after_training(run, level=0.95) is None
    assert not (run / "calibration.json").exists() and not (run / PASSES_FILE).exists()
    assert caplog.messages == [
        f"{run}: no EF/EDV/ESV intervals: 95 % intervals need at least 19 validation patients, fold 1 has "
        f"10; `lunet calibrate {run} --level 0.9` works with 10"
    ]
    (run / "calibration.json").write_text("{}")
    (run / "model.safetensors").write_bytes(b"")
    os.utime(run / "calibration.json", (1e9, 1e9))  # written long before the weights
    caplog.clear()
    assert calibrate_after_training(run, level=0.95) is None
    assert "predates the run's weights" in caplog.text
    cal = calibrate_after_training(run, level=0.9)  # 10 ≥ 9: calibrated, the stale file replaced
    assert cal is not None and read_calibration(run) == cal and cal.n_patients == len(VAL)
    import hashlib

    assert cal.weights_sha256 == hashlib.sha256(b"").hexdigest()  # the weights it calibrated, recorded
