"""The packages of hyperprover form layers: a package imports only packages of lower layers (never one of its
own layer, never one above). Read from the sources with `ast`, so imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import hyperprover

ROOT = Path(hyperprover.__file__).parent

# bottom to top; `cli` dispatches to the commands by module name, without importing them
LAYERS: list[set[str]] = [
    {"atomic"},
    {"config", "jsonl"},
    {"results", "experiment"},  # the results format sits below the envs, whose checkers read it
    {"envs"},
    {"search"},
    {"model"},
    {"provers", "train"},  # the Prover, its Ray actor and pool: below both eval and online
    {"evaluation", "online", "analysis"},
    {"cli"},
    {"demo", "sweep"},
]


def unit_of(module: str) -> str | None:
    """The top-level package or module of `hyperprover.X...` (None outside hyperprover)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "hyperprover" and len(parts) > 1 else None


def import_edges(root: Path = ROOT) -> dict[str, set[str]]:
    """unit -> the other units its modules import."""
    edges: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        me = rel.parts[0].removesuffix(".py")
        if me == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for name in names:
                unit = unit_of(name)
                if unit is not None and unit != me and ((root / unit).is_dir() or (root / f"{unit}.py").is_file()):
                    edges.setdefault(me, set()).add(unit)
    return edges


def violations(edges: dict[str, set[str]]) -> list[str]:
    level = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
    out = []
    for src, dsts in sorted(edges.items()):
        for dst in sorted(dsts):
            if src not in level or dst not in level:
                out.append(f"{src} -> {dst}: a package missing from LAYERS")
            elif level[dst] >= level[src]:
                out.append(f"{src} (layer {level[src]}) imports {dst} (layer {level[dst]})")
    return out


def test_every_package_is_in_a_layer() -> None:
    units = {p.name.removesuffix(".py") for p in ROOT.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")}
    placed = set().union(*LAYERS)
    assert units - placed == set(), "new package: give it a layer"
    assert placed - units == set(), "LAYERS names a package that no longer exists"


def test_imports_point_down_the_layers() -> None:
    assert violations(import_edges()) == []


def test_an_upward_import_is_caught() -> None:
    assert violations({"evaluation": {"online"}}) == ["evaluation (layer 7) imports online (layer 7)"]
    assert violations({"envs": {"results", "evaluation"}}) == ["envs (layer 3) imports evaluation (layer 7)"]
