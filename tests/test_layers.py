"""Imports point down only: every ``switchboard`` import is checked against the layers.

The layers, lowest first (ARCHITECTURE.md): ``errors``/``version`` < ``protocol`` <
``broker.base`` < ``core`` < broker implementations < ``config``, ``transport``,
``security``, ``observability``, ``cluster``, ``edge``, ``admin`` (the HTTP control plane,
an adapter that reads a node through ``admin/view.py``) < ``app``, ``wiring`` < ``cli``.
``protocol.codes`` (the codes a client sees) sits with ``errors``, which names them. Within
a layer imports may go either way, but never round in a cycle.
A module may import its own layer or lower ones. ``KNOWN`` would list upward imports
still to be removed; there are none (the last, the control plane reading ``App``, went),
and a new one is a failure to fix, not an entry to add. An entry whose import no longer
exists fails too, so it is struck off.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "switchboard"

LAYERS: dict[str, int] = {
    "errors": 0,
    "protocol.codes": 0,
    "version": 0,
    "types": 0,
    "tasks": 0,
    "protocol": 1,
    "broker.base": 2,
    "core": 3,
    "broker": 4,
    "config": 5,
    "transport": 5,
    "security": 5,
    "observability": 5,
    "cluster": 5,
    "edge": 5,
    "admin": 5,
    "backend": 5,
    "client": 5,
    "app": 6,
    "wiring": 6,
    "parts": 6,
    "serverside": 6,
    "testing": 7,
}
TOP = 7  # cli, __main__, the package's __init__, anything else at the top

KNOWN: set[tuple[str, str]] = set()


def layer(module: str) -> int:
    """The layer of a dotted module name (the longest matching prefix in ``LAYERS``)."""
    parts = module.split(".")[1:]
    for size in range(len(parts), 0, -1):
        found = LAYERS.get(".".join(parts[:size]))
        if found is not None:
            return found
    return TOP


def imports() -> list[tuple[str, str]]:
    """(importer, imported) for every ``switchboard`` import in the package, at any depth
    (function-level and ``TYPE_CHECKING`` ones too: they are dependencies all the same)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                # ``from . import models`` imports the submodule, not just the package
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [(module, name) for name in names if name.startswith("switchboard")]
    return found


def upward() -> set[tuple[str, str]]:
    return {(a, b) for a, b in imports() if layer(b) > layer(a)}


def test_the_walk_sees_the_package() -> None:
    edges = imports()
    assert ("switchboard.core.node", "switchboard.core.outbox") in edges
    assert ("switchboard.core.node", "switchboard.broker.base") in edges
    assert layer("switchboard.broker.memory") > layer("switchboard.core.node")
    assert layer("switchboard.broker.base") < layer("switchboard.core.node")


def test_no_import_points_up_beyond_the_known_ones() -> None:
    new = upward() - KNOWN
    assert not new, f"upward imports: {sorted(new)}"


def test_known_upward_imports_are_struck_off_once_gone() -> None:
    gone = KNOWN - upward()
    assert not gone, f"no longer imported, remove from KNOWN: {sorted(gone)}"


def test_brokers_never_import_the_core() -> None:
    """The core reaches brokers through ``broker.base``; a broker that imported the core
    back would tie the two (the broker calls the node through ``BrokerHandler`` instead)."""
    ties = [(a, b) for a, b in imports() if a.startswith("switchboard.broker") and ".core" in b]
    assert not ties


def cycles() -> list[list[str]]:
    """Every set of modules that import each other round in a circle."""
    graph: dict[str, set[str]] = {}
    edges = imports()
    modules = {a for a, _ in edges}
    for a, b in edges:
        if b in modules and b != a:
            graph.setdefault(a, set()).add(b)
    return circles(graph)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` larger than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    assert not cycles(), f"modules importing each other round: {cycles()}"


def test_the_cycle_finder_finds_circles_and_only_those() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"d"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
