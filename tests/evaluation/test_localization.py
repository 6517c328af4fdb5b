"""Known answers for box IoU, box errors in mm and BB out."""

from __future__ import annotations

import numpy as np
import pytest

from lunet.boxes import reference_box
from lunet.evaluation.localization import bb_out, box_errors_mm, box_iou


def test_iou() -> None:
    a = np.array([0.0, 0.0, 0.5, 0.5])
    b = np.array([0.25, 0.25, 0.75, 0.75])
    assert box_iou(a, a) == 1.0
    assert box_iou(a, b) == pytest.approx(0.0625 / (0.25 + 0.25 - 0.0625))
    assert box_iou(a, np.array([0.6, 0.6, 0.9, 0.9])) == 0.0


def test_errors_mm() -> None:
    ref = np.array([0.2, 0.3, 0.6, 0.7])
    pred = np.array([0.25, 0.3, 0.6, 0.8])  # x_min +0.05; y_max +0.1
    err = box_errors_mm(pred, ref, shape=(200, 100), spacing=(0.5, 0.3))  # 100 mm tall, 30 mm wide
    assert err["xc_mm"] == pytest.approx(0.025 * 30)
    assert err["w_mm"] == pytest.approx(0.05 * 30)
    assert err["yc_mm"] == pytest.approx(0.05 * 100)
    assert err["h_mm"] == pytest.approx(0.1 * 100)


def test_bb_out() -> None:
    labels = np.zeros((50, 40), np.uint8)
    labels[10:30, 8:20] = 2
    labels[14:26, 11:17] = 1
    epi = labels > 0
    exact = reference_box(labels, 0.0)
    assert not bb_out(exact, epi)
    assert not bb_out(reference_box(labels, 0.15), epi)
    shrunk = exact + np.array([0.0, 0.0, 0.0, -1.0 / 50])  # loses the last row
    assert bb_out(shrunk, epi)
    assert not bb_out(exact, np.zeros_like(epi))
