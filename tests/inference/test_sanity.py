"""Sanity checks of predicted label maps: borders, LV area in mm², myocardium around the cavity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from inference_helpers import echo_like, make_bundle
from test_qc import SPACING, _disk, heart

from lunet.inference.qc import qc_report
from lunet.inference.sanity import SanityBounds, sanity_checks, sector_mask


def _fan(shape=(160, 200)) -> np.ndarray:
    """A 90° sector image from an apex at the top centre: speckle inside, 0 outside."""
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    angle = np.degrees(np.arctan2(cc - shape[1] / 2, rr + 1))
    inside = (np.abs(angle) <= 45) & (np.hypot(rr + 1, cc - shape[1] / 2) <= shape[0] - 2)
    return np.where(inside, 60 + echo_like(*shape) // 2, 0).astype(np.uint8)


def test_plausible_heart_passes_the_sanity_checks() -> None:
    flags, measures = sanity_checks(heart(), SPACING)
    assert flags == []
    assert measures["lv_area_mm2"] == pytest.approx(np.pi * 12.0**2, rel=0.02)
    assert 0.5 < measures["myo_enclosure"] < 1.0


def test_whole_frame_myocardium_fails_qc() -> None:
    """What a 1-epoch model gives: myocardium everywhere, a small LV: simple and convex, yet nonsense."""
    label = np.full((160, 200), 2, np.uint8)
    label[70:90, 90:110] = 1
    report = qc_report(label, SPACING)
    assert not {"lv_epi_simplicity", "lv_epi_convexity"} & set(report["flags"])  # the shape bounds pass it
    assert "lv_epi_touches_image_border" in report["flags"] and report["qc_pass"] is False


def test_lv_area_outside_the_physiological_range() -> None:
    label = np.zeros((160, 200), np.uint8)
    label[_disk(label.shape, (80, 100), 16.0, SPACING)] = 2
    label[_disk(label.shape, (80, 100), 8.0, SPACING)] = 1  # 201 mm² < 300 mm²
    flags, measures = sanity_checks(label, SPACING)
    assert flags == ["lv_area_out_of_range"] and measures["lv_area_mm2"] == pytest.approx(201, rel=0.03)
    assert sanity_checks(label, SPACING, bounds=SanityBounds(lv_area_mm2=(100, 400)))[0] == []
    assert "lv_area_out_of_range" in sanity_checks(heart(), (3.0, 2.0))[0]  # same pixels at 10× the spacing


def test_myocardium_not_enclosing_the_cavity() -> None:
    label = heart()
    enclosed = sanity_checks(label, SPACING)[1]["myo_enclosure"]
    label[:, 100:][label[:, 100:] == 2] = 0  # myocardium only on the left half
    flags, measures = sanity_checks(label, SPACING)
    assert measures["myo_enclosure"] < 0.5 < enclosed and "myo_not_enclosing" in flags


def test_lv_touching_the_image_border() -> None:
    label = np.zeros((60, 60), np.uint8)
    label[20:40, 0:30] = 1
    label[15:45, 0:35][label[15:45, 0:35] == 0] = 2
    flags, _ = sanity_checks(label, (0.5, 0.5))
    assert {"lv_touches_image_border", "lv_epi_touches_image_border"} <= set(flags)


def test_sector_border() -> None:
    image = _fan()
    sector = sector_mask(image)
    assert sector is not None and abs(sector.mean() - (image > 0).mean()) < 0.03
    assert sector_mask(echo_like(160, 200)) is None  # data over the whole frame: no sector
    label = np.zeros(image.shape, np.uint8)
    label[_disk(image.shape, (100, 100), 14.0, (0.3, 0.3))] = 2
    label[_disk(image.shape, (100, 100), 11.0, (0.3, 0.3))] = 1
    assert sanity_checks(label, (0.3, 0.3), image)[0] == []
    shifted = np.roll(label, -45, axis=1)  # the heart moved left, across the edge of the fan
    assert sanity_checks(shifted, (0.3, 0.3), image)[0] == ["lv_epi_touches_sector_border"]


def test_a_model_labelling_everything_myocardium_fails_qc_end_to_end(tmp_path: Path) -> None:
    import json

    import torch

    from lunet.bundle import load_bundle, save_bundle
    from lunet.data.camus_io import write_image
    from lunet.inference.predict import PredictOptions, predict_paths

    bundle = make_bundle(tmp_path / "m0", "unet1", filters=(8, 8, 8, 8, 8, 8))
    model, meta = load_bundle(bundle)
    head = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():  # a collapsed network: myocardium wins everywhere
        head.bias[:] = torch.tensor([0.0, 0.0, 50.0, 0.0])
    collapsed = save_bundle(tmp_path / "m1", model, meta)
    src = write_image(tmp_path / "in.nii.gz", echo_like(64, 64), (0.3, 0.3))
    options = PredictOptions(backend="torch", progress=False)
    predict_paths(collapsed, [src], tmp_path / "out", options)
    record = json.loads((tmp_path / "out" / "json" / "in.json").read_text())
    assert record["qc_pass"] is False and "lv_epi_touches_image_border" in record["qc"]["flags"]
    assert "la" not in record["areas_mm2"]
