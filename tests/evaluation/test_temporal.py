"""The CAMUS authors' temporal-consistency check: attributes with known answers, the metric, the flags."""

from __future__ import annotations

import numpy as np
import pytest

from lunet.data.labels import Label
from lunet.evaluation.temporal import (
    ATTRIBUTES,
    THRESHOLDS,
    camus_ranges,
    consistency_metric,
    frame_attributes,
    temporal_flags,
)

SPACING = (0.3, 0.2)


def _heart(rows: int = 200, cols: int = 200, half_width: int = 30, top: int = 40, base: int = 150,
           shift: int = 0) -> np.ndarray:  # fmt: skip
    """A rectangular LV (rows top..base-1, columns 100±half_width) in a 6-pixel myocardium open at the base,
    the atrium below: base width, length and area are known in pixels."""
    label = np.zeros((rows, cols), np.uint8)
    c0, c1 = 100 - half_width + shift, 100 + half_width + shift
    label[top - 6 : base, c0 - 6 : c1 + 6] = Label.MYO
    label[top:base, c0:c1] = Label.LV
    label[base : base + 20, c0:c1] = Label.LA
    return label


def test_attributes_of_a_known_shape():
    values = frame_attributes(_heart(), SPACING)
    assert values["lv_area"] == pytest.approx(110 * 60 * 0.3 * 0.2)
    assert values["myo_area"] == pytest.approx((116 * 72 - 110 * 60) * 0.3 * 0.2)
    # base corners: the deepest LV pixels touching myocardium and atrium, columns 70 and 129 of row 149
    assert values["lv_base_width"] == pytest.approx(59 * 0.2)
    # base midpoint (149, 99.5) to the farthest LV pixel, a top corner (40, 70 or 129)
    assert values["lv_length"] == pytest.approx(np.hypot(109 * 0.3, 29.5 * 0.2))
    assert values["lv_orientation"] == pytest.approx(0.0, abs=1e-9)
    epi = np.argwhere(np.isin(_heart(), (Label.LV, Label.MYO))).mean(axis=0)
    assert values["epi_center_y"] == pytest.approx(epi[0] * 0.3)
    assert values["epi_center_x"] == pytest.approx(epi[1] * 0.2)


def test_orientation_of_a_tilted_lv_in_degrees_on_the_physical_grid():
    rr, cc = np.mgrid[:300, :300].astype(float)
    angle = np.radians(20.0)  # long axis 20° from the vertical, towards increasing columns
    along = (rr - 150) * 0.2 * np.cos(angle) + (cc - 150) * 0.2 * np.sin(angle)
    across = -(rr - 150) * 0.2 * np.sin(angle) + (cc - 150) * 0.2 * np.cos(angle)
    label = np.where((along / 20.0) ** 2 + (across / 8.0) ** 2 < 1, Label.LV, 0).astype(np.uint8)
    assert frame_attributes(label, (0.2, 0.2))["lv_orientation"] == pytest.approx(20.0, abs=0.5)


def test_missing_structures_are_undefined_not_made_up():
    values = frame_attributes(np.zeros((50, 50), np.uint8), SPACING)
    assert values["lv_area"] == 0.0
    assert all(np.isnan(values[name]) for name in ATTRIBUTES if name != "lv_area")


def test_metric_is_the_departure_from_the_neighbours_mean():
    assert consistency_metric(np.arange(6.0) * 7.0, 10.0) == pytest.approx(np.zeros(6))
    spike = np.array([1.0, 1.0, 3.0, 1.0, 1.0])
    assert consistency_metric(spike, 4.0) == pytest.approx([0.0, -0.25, 0.5, -0.25, 0.0])
    assert consistency_metric(np.array([1.0, 5.0]), 1.0) == pytest.approx([0.0, 0.0])
    with pytest.raises(ValueError, match="range"):
        consistency_metric(spike, 0.0)


def test_published_thresholds_and_ranges():
    assert THRESHOLDS["lv_area"] == 1.60e-2 and THRESHOLDS["epi_center_x"] == 4.56e-3
    ranges = camus_ranges()
    assert ranges["lv_area"] == pytest.approx((112404 - 19632) * 0.154 * 0.308)  # mm²
    assert ranges["lv_length"] == pytest.approx((612.8623418027902 - 301.42494919963076) * 0.154)  # mm
    assert 40.0 < ranges["lv_length"] < 60.0 and 30.0 < ranges["lv_base_width"] < 45.0


def _smooth_series(n: int = 12) -> np.ndarray:
    """An LV shrinking smoothly (a half cosine) from ED to ES."""
    widths = 24 + 6 * np.cos(np.linspace(0, np.pi, n))
    return np.stack([_heart(half_width=round(w), top=40 + round(30 - w)) for w in widths])


def test_smooth_series_is_consistent_and_a_corrupted_frame_is_flagged():
    series = _smooth_series()
    assert temporal_flags(series, SPACING)["flagged_frames"] == []
    corrupted = series.copy()
    corrupted[6] = _heart(half_width=24, top=46, shift=15)  # the LV jumps 3 mm sideways for one frame
    flags = temporal_flags(corrupted, SPACING)
    assert 7 in flags["flagged_frames"] and 7 in flags["by_attribute"]["epi_center_x"]
    assert set(flags["flagged_frames"]) <= {6, 7, 8}  # the neighbours depart by half as much
    assert flags["worst"]["epi_center_x"] > 1.0 and flags["frames"] == 12
    empty = series.copy()
    empty[3] = 0  # a frame with no LV cannot be measured: flagged as undefined
    assert temporal_flags(empty, SPACING)["undefined_frames"] == [4]
    lv_only = np.where(series == Label.LV, Label.LV, 0).astype(np.uint8)  # a model without myocardium
    flags = temporal_flags(lv_only, SPACING)
    assert flags["flagged_frames"] == [] and "myo_area" in flags["not_applicable"]
    assert "lv_area" not in flags["not_applicable"]


@pytest.fixture(scope="module")
def phantom_sequences(tmp_path_factory):
    from lunet.data.camus_io import read_sequence
    from lunet.data.synthetic.generate import generate_dataset

    root = generate_dataset(tmp_path_factory.mktemp("phantom"), 3, size="256", workers=1, progress=False,
                            sequence_frames="realistic", seed=3)  # fmt: skip
    paths = sorted(root.rglob("*_half_sequence_gt.nii.gz"))
    return [read_sequence(p) for p in paths]


def test_phantom_reference_sequences_pass_and_an_inserted_frame_fails(phantom_sequences):
    assert len(phantom_sequences) == 6
    for labels, spacing in phantom_sequences:
        assert labels.shape[0] >= 10
        assert temporal_flags(labels, spacing)["flagged_frames"] == []
        middle = labels.shape[0] // 2
        corrupted = np.concatenate([labels[:middle], labels[:1], labels[middle:]])  # ED inserted mid-systole
        flags = temporal_flags(corrupted, spacing)
        assert middle + 1 in flags["flagged_frames"]
        assert middle + 1 in flags["by_attribute"]["lv_area"]
