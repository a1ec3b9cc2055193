"""The alias page: a deleted alias still shows its history (and says it is deleted), so
its rollback is reachable from the page; the rollback commands it prints name the
server's repository, so they can be pasted as they are."""

from __future__ import annotations

import re
import shlex
from html import unescape

import pytest

from tests.server.conftest import Filled, Live

pytestmark = pytest.mark.timeout(120)

PAGE = "/artifacts/model/aliases/prod"


def commands(html: str) -> list[str]:
    """The rollback commands printed on the page, as text."""
    found = re.findall(r'<code class="command">(.*?)</code>', html, re.S)
    return [unescape(c) for c in found]


def test_rollback_commands_name_the_repository(live: Live, filled: Filled) -> None:
    answer = live.client.get(PAGE, headers={"Accept": "text/html"})
    assert answer.status_code == 200
    printed = commands(answer.text)
    assert len(printed) == 2  # revisions 1 and 2; 3 is the current one
    for command, revision in zip(printed, (2, 1), strict=True):
        assert shlex.split(command) == [
            "versioned",
            "--repo",
            filled.repo.uri,
            "alias",
            "rollback",
            "model",
            "prod",
            "--to",
            str(revision),
        ]


def test_a_deleted_alias_shows_its_history(live: Live, filled: Filled) -> None:
    filled.repo.delete_alias("model", "prod", reason="retired")
    answer = live.client.get(PAGE, headers={"Accept": "text/html"})
    assert answer.status_code == 200, answer.text
    assert "deleted" in answer.text
    revisions = re.findall(r'data-revision="(\d+)"', answer.text)
    assert revisions == ["4", "3", "2", "1"]
    assert "retired" in answer.text
    printed = commands(answer.text)
    assert [shlex.split(c)[-1] for c in printed] == ["3", "2", "1"]  # each one that set it


def test_an_alias_that_never_existed_is_not_found(live: Live) -> None:
    answer = live.client.get("/artifacts/model/aliases/never", headers={"Accept": "text/html"})
    assert answer.status_code == 404
