"""pymust is an optional extra of the physics benchmark only: the package never imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_never_imports_pymust():
    offenders = []
    for path in (ROOT / "src" / "lunet").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "pymust"]
    assert offenders == []


def test_pymust_is_declared_as_the_physics_extra():
    tomllib = pytest.importorskip("tomllib")  # Python ≥ 3.11
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.startswith("pymust") for req in extras["physics"])
    assert not any("pymust" in req for name, reqs in extras.items() if name != "physics" for req in reqs)
