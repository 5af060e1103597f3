"""The project's packages import each other in one direction, and the checker imports none of them.

The import graph is built from the source with `ast` (every `import`, lazy ones in function
bodies included), so the test is pure and fast. Module names are read with or without the
`mfa_harness.` prefix and the checker is one package whether it lives in `checker/`
(`mfa_harness.checker.x`) or top-level `checker/` (`mfa_harness.checker.x`). Modules directly in
the shared `mfa_harness/` folder are one node each, so a `python -m mfa_harness` dispatcher and a
shared helper the packages use do not make a cycle through a common name.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "fake_smtp", "loadtests", "scenarios", "checker")
FOLDERS = (*PACKAGES, "mfa_harness")
CHECKER = "checker"

Edges = dict[str, dict[str, list[str]]]   # package -> imported package -> ["file:line", ...]


def package_of(module: str) -> str | None:
    """The graph node of a dotted module name; None outside the project (stdlib, third party)."""
    parts = module.split(".")
    if parts[0] == "mfa_harness":
        parts = parts[1:]
        if not parts:
            return "mfa_harness"
        if parts[0] not in PACKAGES:
            return f"mfa_harness.{parts[0]}"
    if parts[:2] == ["scenarios", CHECKER]:
        return CHECKER
    return parts[0] if parts[0] in PACKAGES else None


def module_name(path: Path) -> str:
    """The installed name of a source file: `mfa_harness.checker.index` and the like."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts[0] != "mfa_harness":
        parts.insert(0, "mfa_harness")
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Every module `path` imports, as absolute names, with the line of the import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[:len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from scenarios import checker` imports a subpackage: judge `base.name` for each name
            out.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)
    return out


@cache
def import_graph() -> Edges:
    """Package-level edges of the project, each with the import lines that make it (read once)."""
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            source = package_of(module_name(path))
            for module, line in imported_modules(path):
                target = package_of(module)
                where = f"{path.relative_to(REPO)}:{line}"
                if source and target and target != source and where not in edges[source][target]:
                    edges[source][target].append(where)
    return edges


def cycles(edges: Edges) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def test_the_graph_sees_the_known_edges():
    """A graph that saw nothing would pass the two tests below: the runner does import loadtests."""
    edges = import_graph()
    assert "loadtests" in edges["scenarios"]
    assert CHECKER in edges["scenarios"] and CHECKER in edges["loadtests"]


def test_no_import_cycle_between_packages():
    edges = import_graph()
    found = cycles(edges)
    detail = [f"{a} -> {b}: {', '.join(edges[a][b][:3])}"
              for component in found for a in component for b in component if b in edges.get(a, {})]
    assert found == [], "import cycle between packages:\n" + "\n".join(detail)


def test_checker_imports_nothing_else_of_the_project():
    edges = import_graph()
    leaks = dict(edges.get(CHECKER, {}))
    assert leaks == {}, f"the checker must stay a leaf (it is used by loadtests and the runner): {leaks}"


def test_names_are_read_before_and_after_the_namespace_move():
    assert package_of("mfa_harness.checker.index") == package_of("mfa_harness.checker.index") == CHECKER
    assert package_of("mfa_harness.scenarios.runner") == package_of("mfa_harness.scenarios.runner") == "scenarios"
    assert package_of("mfa_harness.cmdline") == "mfa_harness.cmdline"
    assert package_of("json") is None and package_of("locust.runners") is None
    assert cycles({"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b": ["x"]}, "b": {}}) == []
