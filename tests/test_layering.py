"""The import graph of ``mollifier``: dependencies point one way and no module cycle exists.

Every import counts, function-local ones included; only ``if TYPE_CHECKING:`` blocks are left
out. Imports of a package (its ``__init__`` re-exports) are followed to the package itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    out: set[str] = set()
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        out |= {n for n in names if n in modules}
    return out


def _walk(node: ast.AST):
    """Every node below ``node``, skipping the bodies of ``if TYPE_CHECKING:``."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _walk(other)
            continue
        yield from _walk(child)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in (SRC / "mollifier").rglob("*.py")}
    modules = set(files)
    return {m: _imports(ast.parse(p.read_text()), modules) - {m} for m, p in files.items()}


def _reaches(graph: dict[str, set[str]], start: str, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(t for t in graph[start] if t.startswith(prefixes))


LOWER = ("mollifier.kernels", "mollifier.nets", "mollifier.grid", "mollifier.layers")
ABOVE_INVERSE = (
    "mollifier.storm",
    "mollifier.sim",
    "mollifier.cli",
    "mollifier.config",
    "mollifier.report",
)
SOLVERS = ("mollifier.inverse.direct", "mollifier.inverse.network")
PROBLEM = (
    "mollifier.inverse.problem",
    "mollifier.inverse.unknowns",
    "mollifier.inverse.result",
    "mollifier.inverse.autowidth",
    "mollifier.inverse.solver",
)


def test_lower_layers_import_nothing_above_them(graph):
    for m in graph:
        if m.startswith(LOWER):
            bad = _reaches(graph, m, ("mollifier.inverse", *ABOVE_INVERSE, "mollifier.study"))
            assert not bad, f"{m} imports {bad}"


def test_the_problem_never_imports_a_solver(graph):
    for m in PROBLEM:
        assert not _reaches(graph, m, SOLVERS), f"{m} imports {_reaches(graph, m, SOLVERS)}"


def test_the_inverse_engine_imports_no_application_module(graph):
    for m in graph:
        if m.startswith("mollifier.inverse"):
            bad = _reaches(graph, m, (*ABOVE_INVERSE, "mollifier.study"))
            assert not bad, f"{m} imports {bad}"


def test_only_the_command_line_imports_the_report(graph):
    """The report reads what the commands wrote; the library that writes it never calls it."""
    users = sorted(
        m
        for m, deps in graph.items()
        if not m.startswith("mollifier.report")
        and any(d.startswith("mollifier.report") for d in deps)
    )
    assert users == ["mollifier.cli"], users


def test_nothing_imports_the_cli(graph):
    users = [m for m, deps in graph.items() if "mollifier.cli" in deps]
    assert users in ([], ["mollifier.__main__"]), users


def test_no_cycle_between_modules(graph):
    """Cycles through a package's ``__init__`` (a re-export facade) are not counted."""
    edges = {m: {t for t in d if not _is_package(t)} for m, d in graph.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in edges.get(m, ()):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " → ".join([*path, m, t]))
            if t not in state:
                visit(t, [*path, m])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [])


def _is_package(name: str) -> bool:
    return (SRC / Path(*name.split(".")) / "__init__.py").is_file()
