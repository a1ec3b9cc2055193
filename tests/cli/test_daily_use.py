"""Daily-use rough edges (issue 17): what scripts can trust on standard output, what a
terminal is spared, and remarks that say what a command quietly chose."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli, on_terminal
from versioned.cli.table import COMMANDS

NAME = "model"
BINARY = bytes(range(256)) * 64


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c.path))
def test_every_help_says_what_goes_to_standard_output(local_cli: Cli, command: object) -> None:
    path = command.path  # type: ignore[attr-defined]
    text = local_cli.text(*path, "--help")
    assert "standard output:" in text, text


def test_get_to_a_terminal_refuses_binary_and_says_how(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=BINARY)
    code, drawn = on_terminal(cli, ["get", NAME])
    assert code == 2, drawn
    assert BINARY[:64] not in drawn and b"\x00" not in drawn
    assert b"-o FILE" in drawn and b"-o -" in drawn, drawn
    code, drawn = on_terminal(cli, ["get", NAME, "-o", "-"], stderr=False)
    assert code == 0 and drawn.count(b"\xfe\xff") == 64  # insisted: the bytes, as stored


def test_alias_set_without_version_says_it_follows_latest(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=b"v1")
    cli.run("publish", NAME)
    stderr = cli.run("alias", "set", NAME, "dev").stderr.decode()
    assert "LATEST" in stderr and "every put" in stderr, stderr
    assert cli.json("alias", "get", NAME, "dev")["version"] == "LATEST"
    pinned = cli.run("alias", "set", NAME, "prod", "--version", "1").stderr
    assert b"LATEST" not in pinned
    assert cli.run("-q", "alias", "set", NAME, "dev").stderr == b""


def test_deleting_what_is_gone_succeeds_and_says_so(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=b"v1")
    cli.run("publish", NAME)
    cli.run("delete", NAME, "--version", "1")
    again = cli.run("delete", NAME, "--version", "1").stderr.decode()
    assert "already deleted" in again, again
    missing = cli.run("delete", NAME, "--version", "7").stderr.decode()
    assert "nothing to delete" in missing, missing
    assert cli.run("delete", "nosuch").stderr.startswith(b"versioned: nothing to delete")
    assert [v["version"] for v in cli.json("versions", NAME, "--all")] == ["LATEST", "1"]
