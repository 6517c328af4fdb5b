"""Shared blocks: input checks, export-friendly adaptive pooling, the box head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lunet.models.blocks import AdaptiveAvgPool, InputShapeError, adaptive_pool_matrix, check_input
from lunet.models.localizers import BoxHead


@pytest.mark.parametrize(
    ("size", "grid"), [((8, 8), (7, 7)), ((2, 2), (8, 8)), ((13, 5), (4, 4)), ((16, 8), (4, 4))]
)
def test_adaptive_pool_matches_torch(size, grid):
    x = torch.randn(2, 3, *size)
    torch.testing.assert_close(AdaptiveAvgPool(grid)(x), F.adaptive_avg_pool2d(x, grid), atol=1e-6, rtol=0)


def test_adaptive_pool_matrix_rows_are_averages():
    m = adaptive_pool_matrix(8, 7)
    torch.testing.assert_close(m.sum(1), torch.ones(7))
    assert torch.equal(m[0, :2], torch.tensor([0.5, 0.5])) and m[0, 2:].abs().sum() == 0


def test_check_input_messages():
    check_input(torch.zeros(1, 1, 64, 96), "net")
    with pytest.raises(InputShapeError, match="multiples of 32"):
        check_input(torch.zeros(1, 1, 65, 64), "net")
    with pytest.raises(InputShapeError, match="at least 64"):
        check_input(torch.zeros(1, 1, 32, 32), "net", min_size=64)
    assert issubclass(InputShapeError, ValueError)


def test_box_head_exports_to_onnx_at_a_non_divisible_size(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    head = BoxHead(8, (7, 7), (16,)).eval()
    features = torch.randn(1, 8, 8, 8)  # 8 → 7: torch's own adaptive pooling cannot be exported here
    path = tmp_path / "head.onnx"
    torch.onnx.export(head, (features,), str(path), opset_version=17, dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: features.numpy()})
    np.testing.assert_allclose(got, head(features).detach().numpy(), atol=1e-5)
