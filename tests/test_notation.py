"""One notation for where an alias points, shared by the CLI, the page and the docs:
``5``, ``5 (80%) + 6 (20%)``, ``-`` for nowhere; the page takes it from
:mod:`versioned.notation`, never from the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import versioned
from versioned.model import AliasState
from versioned.notation import describe_state, describe_targets

SOURCE = Path(versioned.__file__).parent


def test_a_single_target_is_its_version() -> None:
    assert describe_targets("5", None, None) == "5"
    assert describe_targets("LATEST", None, None) == "LATEST"


def test_a_split_names_each_version_with_its_percent() -> None:
    assert describe_targets("5", "6", 20) == "5 (80%) + 6 (20%)"
    assert describe_targets("LATEST", "6", 1) == "LATEST (99%) + 6 (1%)"


def test_states_use_the_same_notation() -> None:
    assert describe_state(None) == "-"
    assert describe_state(AliasState("5", "6", 20)) == "5 (80%) + 6 (20%)"


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports from, relative ones spelled with their dots."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_the_page_takes_the_notation_from_below_the_cli() -> None:
    pages = _imports(SOURCE / "server" / "pages.py")
    assert "..notation" in pages
    assert not [m for m in pages if m.startswith("..cli")]


def test_the_notation_sits_below_the_cli_and_the_server() -> None:
    assert {m for m in _imports(SOURCE / "notation.py") if m.startswith(".")} <= {".model"}
