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
