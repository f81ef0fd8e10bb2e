"""The shape of the package: core imports no plugin package, and no module imports itself back.

Imports are read from the source (``ast``), lazy ones inside functions included: a cycle that
only closes at run time is still a cycle to a reader."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Source folder -> installed package (pyproject's package-dir mapping).
PACKAGES = {"iqabench": "iqabench", "methods": "iqabench.methods", "datasets": "iqabench.datasets",
            "protocols": "iqabench.protocols", "reports": "iqabench.reports"}
PLUGIN_PACKAGES = ("iqabench.methods", "iqabench.datasets", "iqabench.protocols", "iqabench.reports")


def modules() -> dict[str, Path]:
    out = {}
    for folder, package in PACKAGES.items():
        for path in (REPO / folder).rglob("*.py"):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere in its source (lazy imports included)."""
    is_package = path.name == "__init__.py"
    base = name if is_package else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:  # `if TYPE_CHECKING:` imports never run
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # `import iqabench.x.y` where only iqabench.x is ours, etc.
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def test_core_imports_no_plugin_package():
    offenders = []
    for name, deps in graph().items():
        if name.startswith(PLUGIN_PACKAGES) or name.startswith("iqabench.cli"):
            continue
        for dep in deps:
            if dep.startswith(PLUGIN_PACKAGES):
                offenders.append(f"{name} imports {dep}")
    assert not offenders, "\n".join(sorted(offenders))


def test_no_import_cycles():
    g = graph()
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def strongconnect(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    import sys

    sys.setrecursionlimit(10000)
    for v in sorted(g):
        if v not in index:
            strongconnect(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_graph_reads_lazy_imports():
    g = graph()
    # iqabench.cli.run_cmd imports the runner inside its command function: seen as an edge.
    assert "iqabench.runner" in g["iqabench.cli.run_cmd"]
