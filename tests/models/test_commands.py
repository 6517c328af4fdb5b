"""``lunet models`` on the command line, and ONNX export of the LU-Net pipeline."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from lunet.models import MODELS, create_model
from lunet.models.commands import register


def _run(argv: list[str]) -> int:
    # only this area's sub-command: the test does not depend on the other areas' CLI modules
    parser = argparse.ArgumentParser(prog="lunet")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_models_json_lists_every_model(capsys):
    assert _run(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(MODELS)
    assert all(set(r) == {"name", "params", "paper_params"} for r in rows)
    unet1 = next(r for r in rows if r["name"] == "unet1")
    assert unet1["params"] == 1_994_660 and unet1["paper_params"] == 2_000_000


def test_models_bad_size_is_a_value_error():
    with pytest.raises(ValueError, match="multiple of 32"):
        _run(["models", "--size", "100"])


@pytest.mark.slow
def test_lunet_exports_to_onnx(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = create_model("lunet").eval()
    image = torch.randn(1, 1, 64, 64)
    path = tmp_path / "lunet.onnx"
    torch.onnx.export(model, (image,), str(path), opset_version=17, dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: image.numpy()})
    with torch.no_grad():
        expected = model(image)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-4)
