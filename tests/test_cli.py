import subprocess
import sys

from lunet import __version__
from lunet.cli import COMMAND_MODULES, build_parser, main


def test_version_and_help(capsys):
    assert main([]) == 1  # no command: help, non-zero
    proc = subprocess.run([sys.executable, "-m", "lunet", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_every_command_module_registers():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    expected_commands = "synth data folds models train cv demo evaluate predict report".split()
    for expected in expected_commands:
        assert expected in commands, f"sub-command {expected} missing; modules: {COMMAND_MODULES}"


def test_import_is_cheap():
    code = "import sys, lunet.cli; lunet.cli.build_parser(); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False", "building the CLI parser must not import torch"


def test_predict_frame_indices_and_its_deprecated_spelling(capsys):
    """``--frames`` is the frame *mode* of train/cv/demo/preprocess; predict's frame indices are
    ``--frame-indices`` (``--frames`` still parses the same, with a one-line notice)."""
    parser = build_parser()
    base = ["predict", "--model", "RUN", "in.nii.gz", "--out", "o"]
    new = parser.parse_args([*base, "--frame-indices", "0,5,10-12"])
    assert new.frame_indices == (0, 5, 10, 11, 12) and capsys.readouterr().err == ""
    old = parser.parse_args([*base, "--frames", "0,5,10-12"])
    assert old.frame_indices == new.frame_indices
    assert capsys.readouterr().err == (
        "lunet predict: --frames is deprecated, use --frame-indices (it works the same)\n"
    )
    assert parser.parse_args(base).frame_indices is None
    assert parser.parse_args(["train", "--out", "r", "--frames", "all"]).frames == "all"  # the mode


def test_export_takes_model_like_predict(tmp_path, capsys):
    parser = build_parser()
    assert parser.parse_args(["export", "--model", "RUN"]).model == "RUN"
    assert parser.parse_args(["export", "RUN"]).run == "RUN"  # old spelling: notice when run (test_quantize)
    assert main(["export"]) == 2 and "--model is required" in capsys.readouterr().err
    assert main(["export", "A", "--model", "B"]) == 2 and "give the model once" in capsys.readouterr().err
    missing = str(tmp_path / "nope")
    assert main(["export", missing]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "lunet export: the positional RUN is deprecated, use --model RUN (it works the same)"
    assert err[1].startswith("lunet export: error:") and "nope" in err[1]


def test_export_with_model_writes_the_onnx_file(tmp_path, capsys):
    from inference_helpers import make_bundle

    bundle = make_bundle(tmp_path / "run", "unet1", filters=(8, 8, 16, 16, 16, 16))
    assert main(["export", "--model", str(bundle)]) == 0
    assert (bundle / "model.onnx").is_file() and capsys.readouterr().err == ""
