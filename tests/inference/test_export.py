"""ONNX export of the whole pipeline matches torch; predict picks the back-end; stale exports are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import SIZE, echo_like, make_bundle

from lunet.bundle import BundleError, load_bundle
from lunet.cli import main
from lunet.data.camus_io import read_image, write_image
from lunet.inference.backends import load_predictor
from lunet.inference.export import ONNX_FILE, export_onnx
from lunet.inference.predict import PredictOptions, predict_paths


@pytest.fixture(scope="module", params=["unet1", "lunet", "lunet-segbox", "lunet-atrium"])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """unet1, LU-Net as in the paper (regressed box), LU-Net with the box of its coarse segmentation (the
    default recipe's ``box_source="segmentation"``) and LU-Net trained on the left atrium (its o1 exported as
    ``coarse_logits``), exported to ONNX."""
    name = request.param.removesuffix("-segbox").removesuffix("-atrium")
    overrides: dict[str, object] = {"filters": (8, 8, 16, 16, 16, 16)} if name == "unet1" else {}
    if request.param.endswith("-segbox"):
        overrides["box_source"] = "segmentation"
    folder = make_bundle(tmp_path_factory.mktemp(request.param), name, seed=3, **overrides)
    if request.param.endswith("-atrium"):
        meta = json.loads((folder / "model.json").read_text())
        (folder / "model.json").write_text(json.dumps({**meta, "labels": [0, 1, 2, 3]}))
    assert main(["export", str(folder), "--format", "onnx"]) == 0
    return folder


def test_onnx_matches_torch(exported: Path) -> None:
    import torch

    from lunet.predictor import output_getters

    onnx_pred = load_predictor(exported, backend="onnx")
    assert onnx_pred.backend == "onnx"
    model, meta = load_bundle(exported)
    rng = np.random.default_rng(0)
    batch = rng.random((3, 1, SIZE, SIZE), dtype=np.float32)  # batch 3 ≠ the export's example: dynamic axis
    source = rng.random((3, 1, 2 * SIZE, 2 * SIZE), dtype=np.float32)
    native = meta["model"] == "lunet"  # default crop_grid: ROI from the crop source, composed by the runtime
    assert onnx_pred.inputs == (["image", "crop_source"] if native else ["image"])
    atrium = ["coarse_logits"] if meta.get("labels") == [0, 1, 2, 3] else []
    assert onnx_pred.outputs == (["roi_logits", "box", *atrium] if native else ["logits"])
    got = onnx_pred(batch, source if native else None)
    with torch.no_grad():
        kwargs = {"crop_source": torch.from_numpy(source)} if native else {}
        out = model(torch.from_numpy(batch), **kwargs)
    for name in onnx_pred.outputs:
        want = output_getters()[name](out).numpy()
        np.testing.assert_allclose(got[name], want, atol=1e-5 if name == "box" else 1e-4, rtol=0)
    with pytest.raises(ValueError, match=r"crop_source|expected"):
        onnx_pred(batch, None if native else source[:, :, :SIZE, :SIZE][:2])


def test_predict_masks_identical_across_backends(exported: Path, tmp_path: Path) -> None:
    inputs = [
        write_image(tmp_path / "in" / f"i{k}.nii.gz", echo_like(70 + k, 60, k), (0.3, 0.2)) for k in range(3)
    ]
    runs = {}
    for backend in ("onnx", "torch"):
        options = PredictOptions(backend=backend, progress=False, overlay=False, batch_size=2)
        result = predict_paths(exported, inputs, tmp_path / backend, options)
        assert result.backend == backend and result.n_done == 3
        runs[backend] = [read_image(tmp_path / backend / "masks" / f"i{k}.nii.gz")[0] for k in range(3)]
    for a, b in zip(runs["onnx"], runs["torch"]):
        np.testing.assert_array_equal(a, b)
    record = json.loads((tmp_path / "onnx" / "json" / "i0.json").read_text())
    if record["model"] == "lunet":  # the predicted box, normalised and in mm (70 rows × 0.3, 60 cols × 0.2)
        x0, y0, x1, y1 = record["box"]["normalised"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert record["box"]["mm"] == pytest.approx([x0 * 12.0, y0 * 21.0, x1 * 12.0, y1 * 21.0])
    else:
        assert "box" not in record
    assert load_predictor(exported).backend == "onnx"  # auto picks the current export


def test_stale_export_is_not_used(tmp_path: Path) -> None:
    folder = make_bundle(tmp_path / "run", "unet1", filters=(4, 4, 4, 4, 4, 4))
    export_onnx(folder)
    assert load_predictor(folder).backend == "onnx"
    make_bundle(folder, "unet1", seed=1, filters=(4, 4, 4, 4, 4, 4))  # retrained: new weights, old model.onnx
    assert (folder / ONNX_FILE).is_file()
    assert load_predictor(folder).backend == "torch"
    with pytest.raises(BundleError, match="stale"):
        load_predictor(folder, backend="onnx")
