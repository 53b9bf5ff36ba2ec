"""Imports inside each env package point one way: splits, generators, data extraction and proof export
use the env module, never the reverse. Read from the sources with `ast`, so imports inside functions
count too (a lazy import hides a cycle from Python, not from this test)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hyperprover.envs

ENVS = Path(hyperprover.envs.__file__).parent
PACKAGES = ("equations", "metamath", "sr")


def local_imports(path: Path, package: str) -> set[str]:
    """The modules of `package` (names without the package prefix) that the module at `path` imports."""
    prefix = f"hyperprover.envs.{package}."
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):  # every statement, function bodies included
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = f"hyperprover.envs.{package}".rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            # `from pkg import mod` imports the module pkg.mod; `from pkg.mod import name` imports pkg.mod
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n[len(prefix):].split(".")[0] for n in names if n.startswith(prefix))
    return found - {path.stem}


def import_graph(package: str) -> dict[str, set[str]]:
    files = sorted(p for p in (ENVS / package).glob("*.py") if p.stem != "__init__")
    return {p.stem: local_imports(p, package) for p in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of `graph` as a path `[a, b, ..., a]`, or None when the graph is acyclic."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            cycle = visit(nxt)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_the_scanner_sees_lazy_and_package_imports(tmp_path: Path) -> None:
    src = tmp_path / "mod.py"
    src.write_text("from hyperprover.envs.sr import generator\n"
                   "from hyperprover.envs.sr.env import SREnv\n"
                   "import hyperprover.envs.sr.rules\n"
                   "def f():\n    from hyperprover.envs.sr.benchmark import BENCH\n"
                   "    from hyperprover.envs.equations.env import EqGoal\n")
    assert local_imports(src, "sr") == {"generator", "env", "rules", "benchmark"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_env_module_imports_none_of_its_importers(package: str) -> None:
    graph = import_graph(package)
    importers = {m for m, deps in graph.items() if "env" in deps}
    back = sorted(graph["env"] & importers)
    assert not back, f"envs/{package}/env.py imports {', '.join(back)}, which import env.py"


@pytest.mark.parametrize("package", PACKAGES)
def test_env_package_import_graph_is_acyclic(package: str) -> None:
    cycle = find_cycle(import_graph(package))
    assert cycle is None, f"import cycle in envs/{package}: {' -> '.join(cycle or [])}"
