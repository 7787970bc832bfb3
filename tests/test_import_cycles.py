"""No import cycles inside the package: stages import earlier stages, never the reverse.

Static parse (no module is imported): every `import` / `from … import` statement of every module
under edgedistill/, at any depth (a lazy import inside a function still ties the two modules
together). `from pkg import name` counts as an edge to `pkg.name` when that is a module, else to
`pkg`. All cycles are reported at once, one line each, shortest path first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import edgedistill

ROOT = Path(edgedistill.__file__).parent
PKG = "edgedistill"


def _modules() -> dict[str, Path]:
    """Dotted module name → source file, for every .py file of the package."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _resolve(current: str, is_pkg: bool, level: int, module: str | None) -> str:
    """The absolute name of a relative import `from .{level}module import …` in module `current`."""
    if level == 0:
        return module or ""
    base = current.split(".") if is_pkg else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports (anywhere in its body)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_pkg, node.level, node.module)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods and "." in t:  # `import edgedistill.bench.stage.x` → nearest module
                    t = t.rsplit(".", 1)[0]
                if t in mods and t != name and t.startswith(PKG):
                    graph[name].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected component of more than one module."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):  # Tarjan; the package is small, recursion depth is bounded by its module count
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted((_shortest_cycle(graph, comp) for comp in comps), key=lambda c: (len(c), c))


def _shortest_cycle(graph, comp: set[str]) -> list[str]:
    """The shortest path m → … → m inside one component (breadth first from each member)."""
    best: list[str] | None = None
    for start in sorted(comp):
        prev, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & comp):
                    if w == start and found is None:
                        found = [v]
                    elif w not in prev:
                        prev[w] = v
                        nxt.append(w)
            frontier = nxt
        path = found
        while path and prev[path[-1]] is not None:  # walk back from the last hop to the start
            path.append(prev[path[-1]])
        cycle = [*reversed(path), start]
        if best is None or len(cycle) < len(best):
            best = cycle
    return best


def test_cycle_finder_finds_a_planted_cycle_and_ignores_a_chain():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_graph_sees_lazy_imports_inside_functions():
    graph = import_graph()
    # the run/distill commands import the pipeline only inside their bodies: still an edge
    assert "edgedistill.pipeline" in graph["edgedistill.cli.train"]


def test_package_has_no_import_cycles():
    found = cycles(import_graph())
    assert not found, f"{len(found)} import cycle(s):\n" + "\n".join("  " + " → ".join(c) for c in found)


def test_only_the_task_registry_knows_a_recipe_by_name():
    """The char-LM is the `lm` task of the one pipeline: no module branches on the recipe's name (issue 12);
    recipes say `task = "lm"` and the registry (edgedistill/tasks/) is the one place that knows a kind."""
    named = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if "charlm" in p.read_text(encoding="utf-8")]
    assert named == []
    assert 'task = "lm"' in (ROOT / "recipes" / "charlm.toml").read_text()
