"""The page's contents over HTTP (the browser tests check the layout): the target
notation shared with the CLI, times marked UTC, a page per version, error pages inside
the layout with a way back, and download names that keep the repository's suffix."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from html import unescape

import pytest

from tests.helpers import LocalBackend
from tests.server.conftest import Filled, Live, fill

pytestmark = pytest.mark.timeout(120)

HTML = {"Accept": "text/html"}


@pytest.fixture
def site(local_backend: LocalBackend, serve: Callable[..., Live]) -> tuple[Live, Filled]:
    """The filled local repository, served read-only."""
    filled = fill(local_backend.repo)
    return serve(filled.repo), filled


def page(live: Live, path: str, status: int = 200) -> str:
    answer = live.client.get(path, headers=HTML)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def commands(html: str) -> list[list[str]]:
    return [
        shlex.split(unescape(c))
        for c in re.findall(r'<code class="command">(.*?)</code>', html, re.S)
    ]


# --- one notation (issue 17, item 7) ----------------------------------------------------


def test_splits_are_written_as_the_cli_writes_them(site: tuple[Live, Filled]) -> None:
    live, _ = site
    overview = text_of(page(live, "/"))
    assert "1 (80%) + 2 (20%)" in overview
    assert "80 % v1" not in overview
    history = text_of(page(live, "/artifacts/model/aliases/prod"))
    assert "3 → 1 (80%) + 2 (20%)" in history
    assert "1 → 3" in history
    assert "- → 1" in history  # the alias did not exist before revision 1


# --- times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/artifacts/model", "/artifacts/model/aliases/prod"],
)
def test_every_time_shown_is_marked_utc(site: tuple[Live, Filled], path: str) -> None:
    live, _ = site
    html = page(live, path)
    shown = re.findall(r'<time datetime="([^"]+)">([^<]*)</time>', html)
    assert shown, "no time on the page"
    for iso, text in shown:
        assert iso.endswith("+00:00")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text), text
