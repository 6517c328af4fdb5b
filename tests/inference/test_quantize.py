"""INT8 static quantization: a QDQ graph that ONNX Runtime runs, close to the fp32 export, metadata kept."""

from __future__ import annotations

import numpy as np
import pytest
from inference_helpers import SIZE, make_bundle

from lunet.cli import main

pytest.importorskip("onnxruntime")


def test_export_int8_writes_a_qdq_model_close_to_fp32(tmp_path, capsys):
    import onnx

    from lunet.inference.quantize import INT8_FILE, phantom_calibration
    from lunet.predictor import make_session, onnx_metadata

    bundle = make_bundle(tmp_path / "run", "unet1")
    assert main(["export", str(bundle), "--int8"]) == 0
    int8 = tmp_path / "run" / INT8_FILE
    assert str(int8) in capsys.readouterr().out
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    images = phantom_calibration(6, SIZE, seed=7)
    assert images.shape == (6, 1, SIZE, SIZE) and 0.0 <= images.min() and images.max() <= 1.0
    fp32 = make_session(tmp_path / "run" / "model.onnx", threads=1).run(["logits"], {"image": images})[0]
    session = make_session(int8, threads=1)
    quant = session.run(["logits"], {"image": images})[0]
    meta = onnx_metadata(session)
    assert meta["lunet_model"] == "unet1" and meta["quantization"] == "int8-qdq"
    assert "SYNTHETIC" in meta["calibration"]
    # a random-weight network: logits agree to a fraction of their spread (not bit-exact)
    assert np.abs(quant - fp32).mean() < 0.1 * fp32.std()
    assert np.corrcoef(quant.ravel(), fp32.ravel())[0, 1] > 0.95
    # lunet predict --backend int8 runs it
    from lunet.inference.backends import load_predictor

    predictor = load_predictor(bundle, backend="int8", threads=1)
    assert predictor.backend == "int8"
    np.testing.assert_allclose(predictor(images[:2])["logits"], quant[:2], rtol=1e-4, atol=1e-4)


def test_int8_backend_needs_the_export(tmp_path):
    from lunet.bundle import BundleError
    from lunet.inference.backends import load_predictor

    bundle = make_bundle(tmp_path / "run", "unet1")
    with pytest.raises(BundleError, match="--int8"):
        load_predictor(bundle, backend="int8")


def test_calibration_needs_images():
    from lunet.inference.quantize import phantom_calibration

    with pytest.raises(ValueError, match="at least 1 image"):
        phantom_calibration(0, SIZE)
