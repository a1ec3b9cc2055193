"""The server package's modules import each other without a circle (counting imports made
inside functions too), so each can be read and loaded from the bottom up."""

from __future__ import annotations

import ast
from pathlib import Path

import versioned.server

PACKAGE = Path(versioned.server.__file__).parent


def server_imports(path: Path) -> set[str]:
    """The modules of ``versioned.server`` that ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path of imports from ``start`` back to itself, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        module, path = stack.pop()
        for imported in sorted(graph.get(module, ())):
            if imported == start:
                return [*path, start]
            if imported not in seen:
                seen.add(imported)
                stack.append((imported, [*path, imported]))
    return None


def test_no_module_of_the_server_imports_itself_back() -> None:
    graph = {p.stem: server_imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert graph.get("pages"), "the scan found no imports"
    circles = [c for m in sorted(graph) if (c := cycle_from(graph, m)) is not None]
    assert not circles, " | ".join(" -> ".join(c) for c in circles)


def test_query_parsing_imports_nothing_of_the_server() -> None:
    assert server_imports(PACKAGE / "query.py") == set()
