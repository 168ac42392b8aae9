"""The import graph of ``detector/`` flows one way (issue 9, acceptance).

Every module is parsed with :mod:`ast`, never imported, and each ``import`` of a
``detector`` module is an edge between the two top-level packages (or single-module
packages such as ``detector.events``). Imports inside functions and under
``TYPE_CHECKING`` count too: a deferred import hides a dependency, it does not
remove it. Two rules:

- no edge goes up the layer table below (a stage importing the pipeline, a job
  importing the command line...);
- no cycle between packages, within a layer included (``incidents`` and ``sinks``
  importing each other was one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "detector"

# Lower layers never import higher ones; the same layer may, without a cycle.
# Decided from the code: core types import nothing of detector's but each other
# ("detector" is the package root, holding only __version__; config is the
# settings root every stage reads); stages are the pipeline's parts and the tools
# beside them (simulate, evaluate); pipeline and service compose stages; jobs put
# whole runs together; cli parses flags and calls a job.
LAYERS: dict[str, int] = {
    # 0: core types
    "detector": 0, "events": 0, "errors": 0, "durations": 0, "terminal": 0, "memo": 0,
    "gc_tuning": 0, "config": 0, "kinds": 0,
    # 1: stages
    "sources": 1, "decoding": 1, "routes": 1, "windows": 1, "detectors": 1, "analysis": 1,
    "incidents": 1, "deployments": 1, "sinks": 1, "kafka": 1, "state": 1, "models": 1,
    "online": 1, "simulate": 1, "evaluate": 1, "verdict": 1, "report": 1,
    # 2: composition of the stages
    "pipeline": 2, "service": 2,
    # 3: whole runs
    "jobs": 3,
    # 4: the command line
    "cli": 4, "__main__": 4,
}

# Known edges (importer, imported) still to remove; empty means the graph is clean.
# The lead empties this at merge: an edge listed here passes, so list none lightly.
ALLOWED: frozenset[tuple[str, str]] = frozenset()


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts.pop()
    return ".".join(parts), is_pkg


def _imports(path: Path) -> Iterator[str]:
    """Every module name ``path`` imports, relative imports resolved."""
    module, is_pkg = _module_name(path)
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                yield ".".join([*base, node.module] if node.module else base)
            else:
                yield node.module or ""


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "detector"


def package_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) package pairs -> the module imports making each one."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        module, _ = _module_name(path)
        src = _package(module)
        for target in _imports(path):
            if target != "detector" and not target.startswith("detector."):
                continue
            dst = _package(target)
            if dst != src:
                edges.setdefault((src, dst), []).append(f"{module} imports {target}")
    return edges


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_package_has_a_layer() -> None:
    packages = {_package(_module_name(p)[0]) for p in ROOT.rglob("*.py")}
    missing = sorted(packages - set(LAYERS))
    assert not missing, f"place these packages in LAYERS: {missing}"


def test_no_import_goes_up_the_layers() -> None:
    edges = package_edges()
    back = [f"{a} (layer {LAYERS[a]}) -> {b} (layer {LAYERS[b]}): {', '.join(why[:3])}"
            for (a, b), why in sorted(edges.items())
            if (a, b) not in ALLOWED and LAYERS.get(b, 0) > LAYERS.get(a, 0)]
    assert not back, "imports against the layering:\n" + "\n".join(back)


def test_no_cycle_between_packages() -> None:
    edges = {e for e in package_edges() if e not in ALLOWED}
    cycles = _cycles(edges)
    detail = package_edges()
    lines = []
    for comp in cycles:
        inside = [f"  {a} -> {b}: {detail[(a, b)][0]}" for a, b in sorted(edges)
                  if a in comp and b in comp]
        lines.append(" <-> ".join(comp) + "\n" + "\n".join(inside))
    assert not cycles, "import cycles between packages:\n" + "\n".join(lines)


def test_allowed_edges_are_still_needed() -> None:
    # A listed edge that no longer exists would hide the next one to appear.
    stale = sorted(ALLOWED - set(package_edges()))
    assert not stale, f"remove from ALLOWED, these imports are gone: {stale}"


def test_the_walk_sees_a_cycle() -> None:
    # The checker itself: two packages importing each other form one component.
    assert _cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
