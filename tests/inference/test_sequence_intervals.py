"""EF/EDV/ESV intervals of ``lunet predict --sequence``'s patient JSON (``patients/<id>_sequence.json``).

Known answers with a stand-in network that segments the dark disk of analytic cines exactly
(:class:`sequence_helpers.DarkDiskPredictor`), loaded in place of a bundle whose folder holds a hand-written
``calibration.json``; the CLI end to end with a tiny random-weight bundle.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import make_bundle, split_calibration
from sequence_helpers import SPACING, DarkDiskPredictor, disk_cine, half_cycle_radii

from lunet.cli import main
from lunet.data.camus_io import write_image
from lunet.evaluation.clinical import patient_volumes
from lunet.evaluation.interval_calibration import write_calibration
from lunet.inference.sequence import SequenceOptions
from lunet.inference.sequence_intervals import DETECTED_FRAMES_NOTE, NO_MODEL_NOTE
from lunet.inference.sequence_outputs import predict_cine_groups, predict_sequences
from lunet.inference.sequence_pictures import _ef_title
from lunet.inference.tta import DEFAULT_PASSES

OPTIONS = SequenceOptions(animation=False)
KEYS = ("ef_interval_percent", "edv_interval_ml", "esv_interval_ml")


calibration = split_calibration


def cines(root: Path) -> list[Path]:
    """A CAMUS patient's two half sequences: disks shrinking from ED (frame 1) to ES (the last frame)."""
    folder = root / "patient0001"
    return [
        write_image(folder / "patient0001_2CH_half_sequence.nii.gz", disk_cine(half_cycle_radii(9)), SPACING),
        write_image(
            folder / "patient0001_4CH_half_sequence.nii.gz",
            disk_cine(half_cycle_radii(7, 20.0, 13.0), seed=1),
            SPACING,
        ),
    ]


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model folder (calibration.json written by each test) whose 'network' is the dark-disk stand-in."""
    import lunet.inference.backends as backends

    folder = tmp_path / "model"
    folder.mkdir()
    monkeypatch.setattr(backends, "load_predictor", lambda *a, **k: DarkDiskPredictor())
    return folder


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the TTA passes run (each a call of ``tta.pass_labels``)."""
    import lunet.inference.tta as tta

    seen: list[str] = []
    original = tta.pass_labels
    monkeypatch.setattr(tta, "pass_labels", lambda *a, **k: seen.append(a[3].name) or original(*a, **k))
    return seen


def predicted(model: Path, tmp_path: Path, options: SequenceOptions = OPTIONS) -> dict:
    out = tmp_path / "out"
    rows = predict_sequences(model, cines(tmp_path / "data"), out, options)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    return json.loads((out / "patients" / "patient0001_sequence.json").read_text())


def test_absolute_interval_is_the_point_plus_minus_the_quantile_clipped(
    model: Path, tmp_path: Path, calls: list[str]
) -> None:
    """Quantile 4: EF ± 4 points; the volumes (a few ml for these disks) are clipped at 0 ml."""
    write_calibration(model, calibration("absolute", 4.0, passes=1))
    data = predicted(model, tmp_path)
    ef, edv, esv = data["ef_percent"], data["edv_ml"], data["esv_ml"]
    assert 50 < ef < 90 and edv > esv > 0
    assert data["ef_interval_percent"] == pytest.approx([ef - 4, ef + 4])
    assert data["edv_interval_ml"] == pytest.approx([max(0.0, edv - 4), edv + 4])
    assert data["esv_interval_ml"] == pytest.approx([max(0.0, esv - 4), esv + 4])
    assert data["esv_interval_ml"][0] == 0.0  # esv < 4 ml: the clip is exercised
    assert (data["interval_level"], data["interval_score"], data["interval_passes"]) == (0.9, "absolute", 1)
    assert data["interval_flags"] == [] and DETECTED_FRAMES_NOTE in data["interval_note"]
    assert calls == []  # the absolute score needs no extra passes


def test_absolute_interval_beyond_100_percent_is_clipped_and_flagged(model: Path, tmp_path: Path) -> None:
    write_calibration(model, calibration("absolute", 30.0, passes=1))
    data = predicted(model, tmp_path)
    assert data["ef_interval_percent"] == pytest.approx([data["ef_percent"] - 30, 100.0])
    assert data["interval_flags"] == ["ef_interval_wide"]


def _expected_ef_spread(paths: list[Path]) -> float:
    """SD (ddof 1) of the EF over the 7 default passes on the detected frames (ED = 1, ES = last of each
    view, as the disks give them), computed here from the public pieces."""
    from lunet.inference.inputs import network_inputs
    from lunet.inference.sequence_io import read_cine
    from lunet.inference.tta import pass_labels

    predictor = DarkDiskPredictor()
    frames = {}
    for path, view in zip(paths, ("2CH", "4CH")):
        cine = read_cine(path)  # its spacing as stored (float32 in NIfTI), as the sequence uses it
        frames[(view, "ED")], frames[(view, "ES")] = cine.frames[0], cine.frames[-1]
    efs = []
    for each in DEFAULT_PASSES:
        masks = {}
        for key, image in frames.items():
            inputs = [network_inputs(image, cine.spacing, predictor)]
            (label,) = pass_labels(predictor, inputs, [image.shape], each)
            masks[key] = (label == 1, cine.spacing)
        efs.append(patient_volumes(masks)["ef_percent"])
    return float(np.std(efs, ddof=1))


def test_normalised_interval_takes_the_spread_of_the_passes_on_the_detected_frames(
    model: Path, tmp_path: Path, calls: list[str]
) -> None:
    """The calibration's 6 extra passes run once each on the 4 detected frames; the EF interval is
    point ± q · SD over the 7 passes (the identity pass included), so it brackets the point and is three
    times wider for a quantile three times larger."""
    widths = []
    for k, quantile in enumerate((1.0, 3.0)):
        write_calibration(model, calibration("normalised", quantile))
        calls.clear()
        data = predicted(model, tmp_path / str(k))
        assert calls == [p.name for p in DEFAULT_PASSES[1:]]
        assert data["interval_passes"] == 7 and data["interval_score"] == "normalised"
        lo, hi = data["ef_interval_percent"]
        assert lo < data["ef_percent"] < hi
        for key, index in zip(KEYS[1:], ("edv_ml", "esv_ml")):
            assert data[key][0] <= data[index] <= data[key][1]
        widths.append(hi - lo)
    spread = _expected_ef_spread(cines(tmp_path / "again"))
    assert spread > 0.25  # above the spread floor: the passes' SD sets the width
    assert widths[0] == pytest.approx(2 * 1.0 * spread, rel=1e-6)
    assert widths[1] / widths[0] == pytest.approx(3.0, rel=1e-6)


def test_without_calibration_and_with_no_intervals_the_intervals_are_null(
    model: Path, tmp_path: Path, calls: list[str]
) -> None:
    data = predicted(model, tmp_path / "a")
    assert all(data[k] == [None, None] for k in KEYS) and data["interval_level"] is None
    assert "no calibration.json" in data["interval_note"] and data["interval_flags"] == []
    write_calibration(model, calibration("normalised", 1.5))
    data = predicted(model, tmp_path / "b", replace(OPTIONS, intervals=False))
    assert all(data[k] == [None, None] for k in KEYS) and "--no-intervals" in data["interval_note"]
    assert calls == []


def test_ensemble_calibration_is_refused_and_another_backend_is_said(
    model: Path, tmp_path: Path, calls: list[str]
) -> None:
    write_calibration(model, calibration("normalised", 1.5, models=3))
    data = predicted(model, tmp_path / "a")
    assert data["ef_interval_percent"] == [None, None] and "ensemble of 3" in data["interval_note"]
    assert calls == []
    write_calibration(model, replace(calibration("normalised", 1.5), backend="int8"))
    data = predicted(model, tmp_path / "b")
    assert data["interval_level"] == 0.9 and data["ef_interval_percent"][0] is not None
    assert "--backend test" in data["interval_note"] and DETECTED_FRAMES_NOTE in data["interval_note"]


def test_cine_groups_without_a_model_folder_say_why_the_intervals_are_null(tmp_path: Path) -> None:
    paths = cines(tmp_path / "data")
    predict_cine_groups(DarkDiskPredictor(), [paths], tmp_path / "out", OPTIONS)
    data = json.loads((tmp_path / "out" / "patients" / "patient0001_sequence.json").read_text())
    assert data["ef_interval_percent"] == [None, None] and data["interval_note"] == NO_MODEL_NOTE


def test_volume_plot_title_gives_the_interval() -> None:
    assert _ef_title({"ef_percent": 55.24}) == "EF 55.2 %"
    with_interval = {"ef_percent": 55.24, "ef_interval_percent": [49.11, 61.34], "interval_level": 0.9}
    assert _ef_title(with_interval) == "EF 55.2 % (90 % interval 49.1–61.3)"
    assert _ef_title({**with_interval, "ef_interval_percent": [None, None]}) == "EF 55.2 %"
    assert _ef_title({"ef_percent": math.nan}) == "EF n/a"


def test_cli_sequence_accepts_no_intervals(tmp_path: Path) -> None:
    """A tiny bundle carrying an absolute calibration: ``lunet predict --sequence`` writes the interval keys
    at its level; with ``--no-intervals`` they are null and the note says why."""
    bundle = tmp_path / "bundle"
    shutil.copytree(make_bundle(tmp_path / "made", "unet1"), bundle)
    write_calibration(bundle, calibration("absolute", 4.0, passes=1))
    folder = cines(tmp_path / "data")[0].parent
    common = ["predict", "--model", str(bundle), str(folder), "--sequence", "--no-progress", "--no-overlay"]
    assert main([*common, "--out", str(tmp_path / "o1"), "--backend", "torch"]) == 0
    data = json.loads((tmp_path / "o1" / "patients" / "patient0001_sequence.json").read_text())
    assert (data["interval_level"], data["interval_score"], data["interval_passes"]) == (0.9, "absolute", 1)
    ef, (lo, hi) = data["ef_percent"], data["ef_interval_percent"]
    if ef is not None:  # random weights may give a degenerate LV (NaN EF, null interval)
        assert (lo, hi) == pytest.approx([max(0.0, ef - 4), min(100.0, ef + 4)])
    assert main([*common, "--out", str(tmp_path / "o2"), "--backend", "torch", "--no-intervals"]) == 0
    data = json.loads((tmp_path / "o2" / "patients" / "patient0001_sequence.json").read_text())
    assert all(data[k] == [None, None] for k in KEYS) and "--no-intervals" in data["interval_note"]


def test_plain_predict_hands_its_interval_setup_to_the_cines(
    model: Path, tmp_path: Path, calls: list[str]
) -> None:
    """`lunet predict` (no --sequence) on a folder of cines: the sequences get predict's own calibration
    (read once), so the patient's sequence JSON holds the same interval as `predict --sequence`."""
    from lunet.inference.predict import PredictOptions, predict_paths

    write_calibration(model, calibration("absolute", 4.0, passes=1))
    expected = predicted(model, tmp_path)
    options = PredictOptions(backend="torch", progress=False, overlay=False)
    result = predict_paths(model, [tmp_path / "data"], tmp_path / "plain", options)
    assert result.n_sequences_done == 2
    data = json.loads((tmp_path / "plain" / "patients" / "patient0001_sequence.json").read_text())
    assert data["interval_level"] == 0.9 and data["ef_interval_percent"] == pytest.approx(
        expected["ef_interval_percent"]
    )
    assert calls == []
