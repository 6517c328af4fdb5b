"""lunet's import graph has no cycle and follows the documented layers (docs/architecture.md, "Layers").

The graph is built with ``ast`` from the sources under ``src/lunet``: an edge ``a → b`` for every
``import lunet.b`` / ``from lunet.b import x`` / relative import in module ``a``, at module level *and* inside
functions (a lazy import is still a dependency; it only defers the cost). ``from lunet.pkg import name``
counts as an edge to ``lunet.pkg.name`` when that is a module, else to ``lunet.pkg``. Imports under
``if TYPE_CHECKING:`` are left out (they never run). A package's ``__init__`` is the node ``lunet.pkg``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import lunet

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Line numbers of statements inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """``{module: {lunet modules it imports}}`` for every module under ``src/lunet``."""
    files = {_module_name(p, src): p for p in sorted((src / "lunet").rglob("*.py"))}
    packages = {name for name, p in files.items() if p.name == "__init__.py"}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skip = _type_checking_lines(tree)
        package = name if name in packages else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in files else base)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as ``[a, b, …, a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_graph_sees_imports_of_every_kind(tmp_path: Path) -> None:
    pkg = tmp_path / "lunet" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "lunet" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from lunet.sub import b\n")
    (pkg / "b.py").write_text("def f():\n    from .c import x\n")
    lazy = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lunet.sub.a import y\n"
    (pkg / "c.py").write_text(lazy + "import lunet.sub.a\n")
    graph = import_graph(tmp_path)
    assert graph["lunet.sub.a"] == {"lunet.sub.b"} and graph["lunet.sub.b"] == {"lunet.sub.c"}
    assert graph["lunet.sub.c"] == {"lunet.sub.a"}  # the TYPE_CHECKING import is left out
    assert find_cycle(graph) == ["lunet.sub.a", "lunet.sub.b", "lunet.sub.c", "lunet.sub.a"]
    (pkg / "c.py").write_text("import numpy\n")
    assert find_cycle(import_graph(tmp_path)) is None


def test_lunet_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50 and graph["lunet.evaluation.evaluate"]  # the sources were found and parsed
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


# The layers of docs/architecture.md: each area and the areas it may import (core is below everything). An
# area's ``commands`` module is that area's CLI and follows its area's rule; the CLI layer (``cli``,
# ``__main__``, ``lunet.commands``) and ``demo`` sit above every area.
CORE = {
    "lunet",
    "lunet.boxes",
    "lunet.io",
    "lunet.limits",
    "lunet.logs",
    "lunet.ranges",
    "lunet.data.labels",
    "lunet.run_files",
}
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "data": {"core"},
    "models": {"core"},
    "data.synthetic": {"data", "core"},
    "config": {"data", "core"},  # data.cache.FRAME_MODES
    "bundle": {"models", "data", "core"},  # data.preprocess: the input size and crop source of a model
    "evaluation": {"data", "config", "core"},
    "training": {"models", "data", "config", "bundle", "evaluation", "core"},
    "inference": {"models", "data", "data.synthetic", "bundle", "evaluation", "core"},
    "report": {"evaluation", "config", "data", "core"},
}
ALLOWED["demo"] = set(ALLOWED)
ALLOWED["cli"] = {*ALLOWED, "demo"}


def area_of(module: str) -> str:
    """The layer of a module of ``lunet`` (see ``ALLOWED``)."""
    if module in CORE:
        return "core"
    if module in ("lunet.cli", "lunet.__main__", "lunet.commands"):
        return "cli"
    if module == "lunet.predictor":  # runs what lunet.bundle opens: the same layer
        return "bundle"
    if module == "lunet.demo_summary":  # the demo's summary text
        return "demo"
    if module == "lunet.data.synthetic" or module.startswith("lunet.data.synthetic."):
        return "data.synthetic"
    return module.split(".")[1]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """``"a → b (area → area)"`` for every import that climbs or crosses the layers."""
    bad = []
    for module, targets in sorted(graph.items()):
        source = area_of(module)
        for target in sorted(targets):
            dest = area_of(target)
            if dest != source and dest not in ALLOWED[source]:
                bad.append(f"{module} → {target} ({source} → {dest})")
    return bad


def test_the_layer_rule_catches_an_upward_import() -> None:
    graph = {"lunet.evaluation.commands": {"lunet.inference.sequence_outputs", "lunet.data.summary"}}
    assert layer_violations(graph) == [
        "lunet.evaluation.commands → lunet.inference.sequence_outputs (evaluation → inference)"
    ]
    assert layer_violations({"lunet.training.task": {"lunet.evaluation.segmentation", "lunet.boxes"}}) == []
    assert layer_violations({"lunet.models.unet": {"lunet.data.cache"}}) == [
        "lunet.models.unet → lunet.data.cache (models → data)"
    ]
    assert (
        area_of("lunet.data.synthetic.render") == "data.synthetic" and area_of("lunet.data.labels") == "core"
    )


def test_lunet_follows_its_layers() -> None:
    graph = import_graph()
    assert {area_of(m) for m in graph} == set(ALLOWED)  # every area is known, every layer has modules
    bad = layer_violations(graph)
    assert not bad, "imports against docs/architecture.md's layers:\n" + "\n".join(bad)


def test_command_modules_import_only_the_standard_library_at_module_level() -> None:
    """What ``lunet --help`` imports: the ``commands`` modules' top level (their ``register`` may import light
    modules such as the config's flag fields; the work is imported inside the ``run_*`` functions)."""
    src = SRC / "lunet"
    paths = [src / "cli.py", src / "commands.py", *sorted(src.rglob("commands.py"))]
    for path in dict.fromkeys(paths):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    top = name.split(".")[0]
                    ok = top in sys.stdlib_module_names or name == "lunet"  # lunet: __version__
                    assert ok, f"{path.relative_to(SRC)} imports {name} at module level"


def test_help_does_not_import_heavy_libraries() -> None:
    """``python -m lunet --help`` builds the whole parser without scipy, scikit-image, torch & co."""
    heavy = ("scipy", "skimage", "torch", "lightning", "matplotlib", "SimpleITK", "onnxruntime", "onnx")
    code = (
        "import runpy, sys\n"
        "sys.argv = ['lunet', '--help']\n"
        "try:\n    runpy.run_module('lunet', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        f"print('LOADED', *[m for m in {heavy!r} if m in sys.modules])\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(lunet.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: lunet" in done.stdout and "evaluate" in done.stdout and "demo" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "LOADED", done.stdout.splitlines()[-1]
