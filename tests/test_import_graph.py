"""lunet's import graph has no cycle (issue 12: layers import downward only).

The graph is built with ``ast`` from the sources under ``src/lunet``: an edge ``a → b`` for every
``import lunet.b`` / ``from lunet.b import x`` / relative import in module ``a``, at module level *and* inside
functions (a lazy import is still a dependency; it only defers the cost). ``from lunet.pkg import name``
counts as an edge to ``lunet.pkg.name`` when that is a module, else to ``lunet.pkg``. Imports under
``if TYPE_CHECKING:`` are left out (they never run). A package's ``__init__`` is the node ``lunet.pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

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
