"""``lunet predict --model CV_RUN``: the fold models vote the masks, and the EF interval is CV+ over them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk
from inference_helpers import make_bundle

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from eval_helpers import SIZES, lv_labels, write_nifti, write_patient

from lunet.evaluation.cv_plus import CvPlusCalibration, cv_plus_interval, cv_plus_scores
from lunet.evaluation.interval_calibration import write_calibration
from lunet.inference.ensemble import vote_frames, vote_labels
from lunet.inference.predict import PredictOptions, predict_paths
from lunet.inference.tta import DEFAULT_PASSES
from lunet.models.postprocess import FramePrediction

SPACING = (0.4, 0.3)
SHAPE = (128, 112)
OPTS = PredictOptions(backend="torch", progress=False, batch_size=4, overlay=False)


def test_vote_known_answers() -> None:
    a = np.array([[0, 1, 2, 3]], dtype=np.uint8)
    b = np.array([[1, 1, 2, 0]], dtype=np.uint8)
    c = np.array([[1, 2, 3, 0]], dtype=np.uint8)
    assert vote_labels([a, b, c]).tolist() == [[1, 1, 2, 0]]
    assert vote_labels([a, c]).tolist() == [[0, 1, 2, 0]]  # 1–1 ties: the lowest label
    frames = [
        FramePrediction(a, np.array([0.1, 0.2, 0.5, 0.6])),
        FramePrediction(b, np.array([0.3, 0.2, 0.7, 0.8])),
    ]
    voted = vote_frames(frames)
    assert voted.box is not None and np.allclose(voted.box, [0.2, 0.2, 0.6, 0.7])
    with pytest.raises(ValueError, match="no label maps"):
        vote_labels([])


def test_vote_matches_monai_vote_ensemble() -> None:
    monai = pytest.importorskip("monai.transforms")
    import torch

    rng = np.random.default_rng(0)
    for members in (5, 4):  # odd, and even with ties
        maps = [rng.integers(0, 4, (16, 12)).astype(np.uint8) for _ in range(members)]
        theirs = monai.VoteEnsemble(num_classes=4)(torch.as_tensor(np.stack(maps)[:, None]))
        assert np.array_equal(vote_labels(maps), theirs[0].numpy().astype(np.uint8))


class ThresholdNet:
    """A stand-in fold model: LV where the normalised input exceeds its threshold (the fixture's LV is
    bright on a soft ramp, so each threshold gives a slightly different LV, hence EF)."""

    size, source_size, model_name, backend = 64, None, "stand-in", "torch"

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.meta: dict[str, Any] = {"labels": [0, 1, 2]}

    def __call__(self, batch: np.ndarray) -> dict[str, Any]:
        lv = (batch[:, 0] > self.threshold).astype(np.float32)
        logits = np.zeros((len(batch), 4, self.size, self.size), dtype=np.float32)
        logits[:, 1], logits[:, 0] = 10.0 * lv, 10.0 * (1.0 - lv)
        return {"logits": logits}


@pytest.fixture
def stand_in_cv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A cross-validation folder of three stand-in folds and one patient whose LV is a bright ellipse with a
    blurred edge."""
    from scipy.ndimage import gaussian_filter

    data = tmp_path / "data"
    folder = write_patient(data, "patient0007", "Good", SIZES, SPACING)
    for key, (a, b) in SIZES.items():
        lv = (lv_labels(SHAPE, SPACING, a, b) == 1).astype(np.float64)
        write_nifti(folder / f"patient0007_{key}.nii.gz", 10.0 + 100.0 * gaussian_filter(lv, 3.0), SPACING)
    run = tmp_path / "cv"
    thresholds = {"fold_1": 0.3, "fold_2": 0.5, "fold_3": 0.7}
    for name in thresholds:
        (run / name).mkdir(parents=True)
        (run / name / "model.safetensors").write_bytes(b"")
    import lunet.inference.backends as backends

    monkeypatch.setattr(
        backends, "load_predictor", lambda path, *a, **k: ThresholdNet(thresholds[Path(path).name])
    )
    return run, folder


def _calibration(score: str) -> CvPlusCalibration:
    rng = np.random.default_rng(3)
    members, truths = np.arange(30) % 3, rng.uniform(30, 70, 30)
    spreads = rng.uniform(0.5, 2.0, 30) if score == "normalised" else None
    scores = cv_plus_scores(
        members, truths + rng.normal(0, 4, 30), truths, spreads, 0.25 if spreads is not None else 0.0
    )
    names = tuple(p.name for p in DEFAULT_PASSES[: 3 if score == "normalised" else 1])
    return CvPlusCalibration(0.9, score, names, ("fold_1", "fold_2", "fold_3"),
                             {k: scores for k in ("ef_percent", "edv_ml", "esv_ml")}, 30)  # fmt: skip


def test_ensemble_without_calibration_votes_and_says_how_to_calibrate(stand_in_cv: tuple[Path, Path]) -> None:
    run, folder = stand_in_cv
    result = predict_paths(run, [folder], run.parent / "out", OPTS)
    assert result.n_done == 4 and result.n_failed == 0
    data = json.loads((run.parent / "out" / "patients" / "patient0007.json").read_text())
    assert data["ensemble"]["members"] == ["fold_1", "fold_2", "fold_3"] and data["ensemble"]["n_models"] == 3
    low, mid, high = data["member_ef_percent"]
    assert all(np.isfinite([low, mid, high])) and len({low, mid, high}) == 3  # thresholds differ: EFs differ
    assert data["ef_percent"] == pytest.approx(mid, abs=1e-9)  # 2 of 3 agree with the middle model: its masks
    assert data["ef_interval_percent"] == [None, None] and "CV+" in data["interval_note"]
    # the voted mask is the middle threshold's (the majority of three nested masks)
    voted = sitk.GetArrayFromImage(
        sitk.ReadImage(str(run.parent / "out" / "masks" / "patient0007_2CH_ED.nii.gz"))
    )
    single = predict_paths(run / "fold_2", [folder], run.parent / "single", OPTS)
    assert single.n_done == 4
    alone = sitk.GetArrayFromImage(
        sitk.ReadImage(str(run.parent / "single" / "masks" / "patient0007_2CH_ED.nii.gz"))
    )
    assert np.array_equal(voted, alone)


@pytest.mark.parametrize("score", ["absolute", "normalised"])
def test_ensemble_interval_is_cv_plus_over_the_members(
    stand_in_cv: tuple[Path, Path], score: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, folder = stand_in_cv
    cal = _calibration(score)
    write_calibration(run, cal)
    import lunet.inference.tta as tta

    calls: list[str] = []
    original = tta.pass_labels
    monkeypatch.setattr(tta, "pass_labels", lambda *a, **k: calls.append(a[3].name) or original(*a, **k))
    predict_paths(run, [folder], run.parent / "out", OPTS)
    data = json.loads((run.parent / "out" / "patients" / "patient0007.json").read_text())
    assert data["interval_method"] == "cv+" and data["interval_level"] == 0.9 and "interval_note" not in data
    lo, hi = data["ef_interval_percent"]
    assert lo <= data["ef_percent"] <= hi
    if score == "absolute":
        assert calls == [] and data["interval_passes"] == 1
        expected = cv_plus_interval(cal.indices["ef_percent"], data["member_ef_percent"], None, 0.9, (0, 100))
        assert (lo, hi) == pytest.approx(
            (min(expected[0], data["ef_percent"]), max(expected[1], data["ef_percent"]))
        )
    else:  # 2 extra passes for each of 3 members, once per batch
        assert sorted(calls) == sorted(["zoom0.95", "zoom1.05"] * 3) and data["interval_passes"] == 3
        assert hi > lo


def test_a_split_calibration_at_the_cv_folder_is_not_used(stand_in_cv: tuple[Path, Path]) -> None:
    from lunet.evaluation.interval_calibration import IntervalCalibration
    from lunet.evaluation.intervals import ConformalCalibration

    run, folder = stand_in_cv
    one = ConformalCalibration(0.9, "absolute", 5.0, 20)
    write_calibration(run, IntervalCalibration(0.9, "absolute", ("identity",), {"ef_percent": one}))
    predict_paths(run, [folder], run.parent / "out", OPTS)
    data = json.loads((run.parent / "out" / "patients" / "patient0007.json").read_text())
    assert data["ef_interval_percent"] == [None, None] and "not the CV+ calibration" in data["interval_note"]


def test_real_bundles_as_folds(tmp_path: Path) -> None:
    """Two random-weight bundles as the folds of a cross-validation: predict loads both and writes the voted
    labels (0–2: neither trained the LA); export writes every fold's ONNX; folds that read different input
    sizes are refused."""
    from inference_helpers import echo_like

    from lunet.data.camus_io import write_image
    from lunet.inference.ensemble import Ensemble

    run = tmp_path / "cv"
    for k in (1, 2):
        make_bundle(run / f"fold_{k}", "unet1", seed=k, filters=(8, 8, 8, 8, 8, 8))
    image = tmp_path / "in" / "patient0003_2CH_ED.nii.gz"
    write_image(image, echo_like(80, 64), (0.3, 0.25))
    result = predict_paths(run, [image], tmp_path / "out", OPTS)
    assert result.n_done == 1 and len(Ensemble.open(run, "torch").members) == 2
    mask = sitk.GetArrayFromImage(
        sitk.ReadImage(str(tmp_path / "out" / "masks" / "patient0003_2CH_ED.nii.gz"))
    )
    assert mask.shape == (80, 64) and set(np.unique(mask)) <= {0, 1, 2}
    # `lunet export --model CV_RUN` exports every fold, and the ensemble then predicts on ONNX Runtime
    from lunet.cli import main

    assert main(["export", "--model", str(run), "--out", str(tmp_path / "x.onnx")]) == 2
    assert main(["export", "--model", str(run)]) == 0
    assert all((run / f"fold_{k}" / "model.onnx").is_file() for k in (1, 2))
    onnx = predict_paths(run, [image], tmp_path / "onnx", PredictOptions(backend="onnx", progress=False))
    assert onnx.n_done == 1 and onnx.backend == "onnx"
    assert main(["predict", "--sequence", "--model", str(run), str(image), "--out", str(tmp_path / "s")]) == 2
    meta = json.loads((run / "fold_2" / "model.json").read_text())
    meta["size"] = 96
    (run / "fold_2" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="fold_2: its input size"):
        Ensemble.open(run, "torch")


def test_a_fold_model_without_an_lv_gives_no_interval_and_says_which(
    stand_in_cv: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """fold_3 segments nothing (threshold above every pixel): the vote still gives the LV of the other two,
    but CV+ needs fold_3's estimate, so the interval is null and the note names fold_3."""
    import lunet.inference.backends as backends

    run, folder = stand_in_cv
    thresholds = {"fold_1": 0.3, "fold_2": 0.5, "fold_3": 1.5}
    monkeypatch.setattr(
        backends, "load_predictor", lambda path, *a, **k: ThresholdNet(thresholds[Path(path).name])
    )
    write_calibration(run, _calibration("absolute"))
    predict_paths(run, [folder], run.parent / "out", OPTS)
    data = json.loads((run.parent / "out" / "patients" / "patient0007.json").read_text())
    assert data["member_ef_percent"][2] is None and data["ef_percent"] is not None
    assert data["ef_interval_percent"] == [None, None] and "fold_3 gave no EF" in data["interval_note"]


def test_a_fold_retrained_after_the_cv_plus_calibration_is_named(stand_in_cv: tuple[Path, Path]) -> None:
    from dataclasses import replace

    from lunet.run_files import weights_sha256

    run, folder = stand_in_cv
    shas = {name: weights_sha256(run / name) for name in ("fold_1", "fold_2", "fold_3")}
    write_calibration(run, replace(_calibration("absolute"), weights_sha256=shas))
    predict_paths(run, [folder], run.parent / "same", OPTS)
    data = json.loads((run.parent / "same" / "patients" / "patient0007.json").read_text())
    assert data["ef_interval_percent"][0] is not None
    (run / "fold_2" / "model.safetensors").write_bytes(b"retrained")
    predict_paths(run, [folder], run.parent / "out", OPTS)
    data = json.loads((run.parent / "out" / "patients" / "patient0007.json").read_text())
    assert data["ef_interval_percent"] == [None, None]
    assert "other weights than fold_2 has now" in data["interval_note"]
