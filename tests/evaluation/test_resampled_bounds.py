"""Anatomical bounds from references passed through the network grid (the synthetic-data rule)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eval_helpers import SIZES, lv_labels, write_nifti

from lunet.cli import main
from lunet.evaluation.evaluate import EvaluationError, evaluate_folder
from lunet.evaluation.references import network_round_trip

SPACING = (0.4, 0.3)
SHAPE = (128, 112)
SIZE = 24  # a coarse network grid: its staircase is what predictions carry back


def test_round_trip_at_the_native_size_is_the_identity() -> None:
    label = lv_labels((64, 64), SPACING, 10.0, 6.0)
    assert np.array_equal(network_round_trip(label, SPACING, 64), label)
    coarse = network_round_trip(label, SPACING, 16)
    assert coarse.shape == label.shape and 0 < (coarse != label).mean() < 0.1  # close, not equal


def _write(folder: Path, notch: str | None = None) -> None:
    """Each patient's references through the SIZE grid (perfect network-size predictions); ``notch``: one
    image (``patient_view_instant``) gets a bite out of its LV cavity (a bad shape)."""
    for pid in ("patient0001", "patient0002", "patient0003"):
        for key, (a, b) in SIZES.items():
            labels = network_round_trip(lv_labels(SHAPE, SPACING, a, b), SPACING, SIZE)
            if f"{pid}_{key}" == notch:
                rows, cols = np.nonzero(labels == 1)
                centre = (int(rows.mean()), int(cols.mean()))
                labels[centre[0] - 12 : centre[0] + 12, centre[1] : centre[1] + 40] = 2  # the bite
            write_nifti(folder / pid / f"{pid}_{key}.nii.gz", labels, SPACING)


def test_resampled_bounds_pass_network_size_shapes_and_flag_bad_ones(camus_dir: Path, tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    _write(good)
    _write(bad, notch="patient0002_4CH_ES")
    native = evaluate_folder(good, camus_dir, tmp_path / "a", anatomical_bounds="reference")
    resampled = evaluate_folder(good, camus_dir, tmp_path / "b", network_size=SIZE)  # auto on synthetic data
    assert (
        f"round trip through the {SIZE}×{SIZE} network grid" in resampled["thresholds"]["anatomical_source"]
    )
    assert resampled["thresholds"]["lv_convexity"] < native["thresholds"]["lv_convexity"]
    # the native references' bounds flag perfect network-size predictions; the resampled ones do not
    assert native["table4"]["rows"][0]["anatomical_images"]["count"] > 0
    assert resampled["table4"]["rows"][0]["anatomical_images"]["count"] == 0
    flagged = evaluate_folder(
        bad, camus_dir, tmp_path / "c", anatomical_bounds="resampled", network_size=SIZE
    )
    assert flagged["thresholds"] == resampled["thresholds"]  # bounds depend on the references only
    assert flagged["table4"]["rows"][0]["anatomical_images"]["count"] == 1  # only the bitten image
    with pytest.raises(EvaluationError, match="network input size"):
        evaluate_folder(good, camus_dir, tmp_path / "d", anatomical_bounds="resampled")
    args = ["evaluate-folder", "--pred", str(bad), "--ref", str(camus_dir), "--out", str(tmp_path / "e")]
    assert main([*args, "--network-size", str(SIZE)]) == 0
    assert "network grid" in (tmp_path / "e" / "tables.md").read_text()
