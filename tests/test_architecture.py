"""The package's shape: imports point one way down the layers, and nothing imports in a circle.

The import graph is read with ``ast`` from the source, so every import counts: those at the
top of a module, those inside functions (imported late to start faster) and those only for
type checkers. A module may import from its own layer or a lower one, never a higher one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "portfolio_backtester"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Lowest first; a module belongs to the layer of its longest matching prefix.
    ("base", ("config", "errors", "constants", "_platform", "_yaml", "_identity_cache", "_lazy")),
    ("data", ("data",)),
    ("domain", ("strategies", "simulation", "metrics", "overlays")),
    (
        "objective",
        (
            "optimization.objective",
            "optimization.space",
            "optimization.windows",
            "optimization.results",
        ),
    ),
    ("reporting", ("reporting",)),
    ("applications", ("backtest", "scenarios", "optimization", "api")),
    ("interface", ("cli", "_terminal", "__main__", "storage_server", "")),
)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name relative to it ('' is the package)."""
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The package's modules that ``name`` imports, with the line of each import."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    package = [p for p in package if p]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield _known(alias.name.removeprefix(PACKAGE).lstrip("."), known), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE)):
                target = node.module.removeprefix(PACKAGE).lstrip(".")
            else:
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}".lstrip(".")
                # `from . import figures` imports a module; `from .x import y` a name of x.
                yield (submodule if submodule in known else _known(target, known)), node.lineno


def _known(target: str, known: dict[str, Path]) -> str:
    assert target in known, f"import of {PACKAGE}.{target}, which does not exist"
    return target


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        edges[name] |= {target for target, _ in imports_of(name, path, known) if target != name}
    return edges


def layer(name: str) -> int:
    best, rank = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = name == prefix or (prefix != "" and name.startswith(prefix + "."))
            if inside and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"module {name!r} is in no layer; add it to LAYERS"
    return rank


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_there_is_no_import_cycle_in_the_package() -> None:
    assert cycles(graph()) == []


def test_no_module_imports_from_a_higher_layer() -> None:
    known = modules()
    upward = [
        f"{name or PACKAGE} ({LAYERS[layer(name)][0]}) line {line} imports {target} "
        f"({LAYERS[layer(target)][0]})"
        for name, path in known.items()
        for target, line in imports_of(name, path, known)
        if layer(target) > layer(name)
    ]
    assert upward == []


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(
    edges: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert sorted(cycles(edges)) == expected


def test_the_graph_sees_imports_inside_functions_and_for_type_checkers() -> None:
    """``cli`` imports the applications only inside its commands; they still count."""
    edges = graph()
    assert "backtest" in edges["cli"]
    assert "optimization.parallel_optimization_runner" in edges["cli"]
    assert "reporting.plots" in edges["backtest"]  # inside BacktestResult.plot


def test_no_module_is_much_longer_than_400_lines() -> None:
    """A module past about 400 lines holds two concepts: split it by concept."""
    long = {
        name or PACKAGE: n
        for name, path in modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert long == {}
