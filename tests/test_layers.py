"""The import graph of `outreach/` and `workers/` points one way and has no cycle.

Checked on the source with `ast` (no import-linter: one dependency less, and the same
run in CI and here). Each module belongs to a node: a feature's `tables` and `api`
modules are nodes of their own, the other modules of a feature package form one node
(its services), a top-level module of `outreach` is a node, and so is each module of
`workers`. Layers, top to bottom: entry points (pages, `*.api`, `app`, `web`, `cli`,
`asgi`, `workers`), services, tables. An import may go sideways or down a layer, never
up, and the nodes must not import each other in a circle. Inside a node too, the modules
do not import each other in a circle (`booking.writes` may use `booking.rules`, never
both ways): a split module stays a one-way graph.

An import inside a function is allowed only where the start-up forces it (a real
cycle at import time, e.g. the Dramatiq actors declare themselves on the broker that
binds them); it carries a comment beginning "# Imported here:" on the line above,
giving the reason, and is left out of the graph. Any other import inside a function
fails the contract: it belongs at the top of its module.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("outreach", "workers")
START_UP = "# Imported here:"
ENTRY = {
    "outreach.app",
    "outreach.asgi",
    "outreach.cli",
    "outreach.pages",
    "outreach.web",
}
LAYERS = ("tables", "services", "entry")


@dataclass(frozen=True)
class Import:
    source: str  # module
    target: str  # module
    line: int
    in_function: bool
    reason: str  # the first line of the comment block above the import


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "piccolo_migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _under(tree: ast.AST, kinds: tuple[type, ...], test=None) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, kinds) and (test is None or test(node)):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    return inside


def _imports(modules: dict[str, Path]) -> Iterator[Import]:
    for name, path in modules.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        type_only = _under(tree, (ast.If,), lambda n: "TYPE_CHECKING" in ast.unparse(n.test))
        in_function = _under(tree, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [
                    f"{node.module}.{a.name}"
                    if f"{node.module}.{a.name}" in modules
                    else node.module
                    for a in node.names
                ]
            else:
                continue
            for target in targets:
                if target.split(".")[0] not in PACKAGES:
                    continue
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target == name:
                    continue
                yield Import(
                    name, target, node.lineno, id(node) in in_function, _comment(lines, node)
                )


def _comment(lines: list[str], node: ast.stmt) -> str:
    """The first line of the comment block right above `node` ("" if there is none)."""
    row = node.lineno - 2
    first = ""
    while row >= 0 and lines[row].strip().startswith("#"):
        first = lines[row].strip()
        row -= 1
    return first


def node_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "workers" or len(parts) < 3:
        return ".".join(parts[:2])
    if parts[2] in ("tables", "api"):
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def layer_of(node: str) -> int:
    if node.startswith("workers") or node in ENTRY or node.endswith(".api"):
        return LAYERS.index("entry")
    if node.endswith(".tables"):
        return LAYERS.index("tables")
    return LAYERS.index("services")


@cache  # parsing every module takes seconds: once for all the checks
def _parsed_imports() -> tuple[Import, ...]:
    return tuple(_imports(_modules()))


@cache
def _graph(
    node: Callable[[str], str] = node_of,
) -> tuple[dict[str, set[str]], dict[tuple[str, str], list[str]], list[Import]]:
    """The import graph between nodes (`node_of`), or between modules (`node=str`)."""
    edges: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], list[str]] = defaultdict(list)
    unexplained = []
    for imp in _parsed_imports():
        if imp.in_function:
            if imp.reason.startswith(START_UP):
                continue  # the documented exception
            unexplained.append(imp)
        a, b = node(imp.source), node(imp.target)
        if a != b:
            edges[a].add(b)
            if f"{imp.source}:{imp.line}" not in where[a, b]:  # one line may import many names
                where[a, b].append(f"{imp.source}:{imp.line}")
    return edges, where, unexplained


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(edges) | {b for targets in edges.values() for b in targets}):
        if node not in index:
            visit(node)
    return found


def _cycle_report(edges: dict[str, set[str]], where: dict[tuple[str, str], list[str]]) -> str:
    report = []
    for component in _cycles(edges):
        inside = set(component)
        report.append(" <-> ".join(component))
        for a in component:
            for b in sorted(edges[a] & inside):
                report.append(f"    {a} -> {b}: {', '.join(where[a, b][:3])}")
    return "\n".join(report)


def test_no_cycle_between_the_packages() -> None:
    edges, where, _ = _graph()
    report = _cycle_report(edges, where)
    assert not report, "import cycles:\n" + report


def test_no_cycle_between_the_modules() -> None:
    edges, where, _ = _graph(node=str)
    report = _cycle_report(edges, where)
    assert not report, "import cycles between modules:\n" + report


def test_imports_point_down_the_layers() -> None:
    edges, where, _ = _graph()
    upward = [
        f"{a} ({LAYERS[layer_of(a)]}) -> {b} ({LAYERS[layer_of(b)]}): {', '.join(where[a, b][:3])}"
        for a, targets in sorted(edges.items())
        for b in sorted(targets)
        if layer_of(b) > layer_of(a)
    ]
    assert not upward, "imports against the direction:\n" + "\n".join(upward)


def test_imports_inside_functions_only_where_the_start_up_forces_them() -> None:
    _, _, unexplained = _graph()
    assert not unexplained, f"imports inside functions without {START_UP!r}:\n" + "\n".join(
        f"{imp.source}:{imp.line} imports {imp.target}" for imp in unexplained
    )


def test_the_checks_catch_a_cycle_and_an_upward_import() -> None:
    """The contract is not vacuous: a made-up graph with both faults fails it."""
    edges = {
        "outreach.booking": {"outreach.events", "outreach.pages"},
        "outreach.events": {"outreach.booking", "outreach.events.tables"},
    }
    assert _cycles(edges) == [["outreach.booking", "outreach.events"]]
    assert layer_of("outreach.pages") > layer_of("outreach.booking")
    assert layer_of("outreach.events.tables") < layer_of("outreach.events")
    assert node_of("outreach.booking.services") == "outreach.booking"
    assert node_of("outreach.booking.tables") == "outreach.booking.tables"
    assert node_of("workers.scheduler") == "workers.scheduler"
    modules = {
        "outreach.booking.writes": {"outreach.booking.rules"},
        "outreach.booking.rules": {"outreach.booking.links"},
        "outreach.booking.links": {"outreach.booking.writes"},
    }
    assert _cycles(modules) == [sorted(modules)]
    assert node_of("outreach.booking.links") == node_of("outreach.booking.rules")
