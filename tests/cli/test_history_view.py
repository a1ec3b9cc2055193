"""Alias history for people (issue 17, item 7): WHO survives a narrow terminal, --limit
says when there is more, and alias targets are written one way everywhere."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.cli.conftest import Cli
from versioned.model import AliasChange, AliasState
from versioned.notation import describe_targets, short_who

NAME = "model"
ROLE = "arn:aws:sts::123456789012:assumed-role/deploy/ci"


@pytest.mark.parametrize(
    ("who", "shown"),
    [
        (ROLE, "deploy/ci"),
        ("arn:aws:iam::123456789012:user/alice", "user/alice"),
        ("arn:aws:iam::123456789012:root", "root"),
        ("alice@build-7", "alice@build-7"),
    ],
)
def test_who_is_shortened_to_what_tells_people_apart(who: str, shown: str) -> None:
    assert short_who(who) == shown


def test_targets_have_one_notation() -> None:
    assert describe_targets("5", None, None) == "5"
    assert describe_targets("5", "6", 20) == "5 (80%) + 6 (20%)"


def _change(revision: int, before: AliasState, after: AliasState, reason: str) -> AliasChange:
    when = datetime(2026, 11, 26, 9, revision, tzinfo=timezone.utc)
    return AliasChange(NAME, "prod", revision, when, "set", ROLE, reason, before, after, "", "")


@pytest.mark.parametrize("width", [60, 80, 100])
def test_who_survives_a_narrow_terminal(width: int) -> None:
    from versioned.cli.history_view import history_text

    ramp = [AliasState("5", "6", w) for w in (5, 20, 50)]
    changes = [
        _change(9, ramp[2], AliasState("6"), "promote 6 after a day without errors"),
        _change(8, ramp[1], ramp[2], "canary 50"),
        _change(7, ramp[0], ramp[1], "canary 20"),
    ]
    lines = history_text(changes, width).splitlines()
    assert lines[0].split()[-1] == "WHO"
    assert all(len(line) <= width for line in lines), lines
    assert all(line.endswith("deploy/ci") for line in lines[1:]), lines
    if width >= 100:  # wide enough: nothing is cut
        assert "5 (50%) + 6 (50%)" in lines[1] and "canary 50" in lines[2]


def test_limit_says_when_more_entries_exist(local_cli: Cli) -> None:
    local_cli.run("put", NAME, "-", stdin=b"one")
    local_cli.run("publish", NAME)
    for _ in range(3):
        local_cli.run("alias", "set", NAME, "prod", "--version", "1")
    page = local_cli.run("alias", "history", NAME, "prod", "--limit", "2")
    assert len(page.stdout.decode().splitlines()) == 3  # the header and two entries
    assert b"--before 2" in page.stderr, page.stderr
    whole = local_cli.run("alias", "history", NAME, "prod", "--limit", "3")
    assert whole.stderr == b""
    rest = local_cli.run("alias", "history", NAME, "prod", "--limit", "2", "--before", "2")
    assert rest.stderr == b"" and len(rest.stdout.splitlines()) == 2


def test_a_canary_pick_is_said_in_the_same_notation(local_cli: Cli) -> None:
    for content in (b"one", b"two"):
        local_cli.run("put", NAME, "-", stdin=content)
        local_cli.run("publish", NAME)
    local_cli.run("alias", "set", NAME, "prod", "--version", "1", "--secondary-version", "2",
                  "--weight", "20")  # fmt: skip
    stderr = local_cli.run("get", NAME, "--alias", "prod", "-o", "out.bin").stderr.decode()
    assert "1 (80%) + 2 (20%)" in stderr, stderr
