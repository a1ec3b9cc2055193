"""The overview (``/`` and ``GET /api/artifacts``) comes in pages by name, and reads only
the artifacts of the page it shows, on both backends."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import Repository
from tests.server.conftest import Live

pytestmark = pytest.mark.timeout(180)

#: sorted; the dot and the dash must survive the next-page link
NAMES = ["a-0", "a.1", "a_2", "b", "c", "d", "e"]


@pytest.fixture
def seven(repo: Repository, serve: Callable[..., Live]) -> Live:
    for name in NAMES:
        repo.put_artifact(name, name.encode())
    return serve(repo)


def _page(live: Live, **params: Any) -> dict[str, Any]:
    answer = live.client.get("/api/artifacts", params=params)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


def test_pages_walk_every_artifact_once(seven: Live) -> None:
    seen: list[list[str]] = []
    starts: list[int | None] = []
    after = None
    while True:
        page = _page(seven, limit=3, **({} if after is None else {"after": after}))
        assert page["total"] == len(NAMES)
        seen.append([a["name"] for a in page["artifacts"]])
        starts.append(page["first"])
        after = page["next_after"]
        if after is None:
            break
        assert after == seen[-1][-1]
    assert seen == [NAMES[0:3], NAMES[3:6], NAMES[6:]]
    assert starts == [1, 4, 7]


def test_default_page_holds_fifty_and_after_need_not_be_a_name(seven: Live) -> None:
    whole = _page(seven)
    assert [a["name"] for a in whole["artifacts"]] == NAMES and whole["next_after"] is None
    assert [a["name"] for a in _page(seven, after="a~")["artifacts"]] == ["b", "c", "d", "e"]
    beyond = _page(seven, after="zzz")
    assert beyond["artifacts"] == [] and beyond["first"] is None and beyond["total"] == 7


@pytest.mark.parametrize("limit", ["0", "501", "x", "-1", "2.5", "\u0663", "\u00b2"])
def test_a_bad_limit_is_a_400(seven: Live, limit: str) -> None:
    for path in ("/api/artifacts", "/"):
        answer = seven.client.get(path, params={"limit": limit})
        assert answer.status_code == 400, (path, limit)
    error = seven.client.get("/api/artifacts", params={"limit": limit}).json()["error"]
    assert error["kind"] == "InvalidArgumentError" and "limit" in error["message"]


def test_only_the_page_s_artifacts_are_read(
    repo: Repository, seven: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    original = repo.list_artifact_versions

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        read.append(name)
        return original(name, *args, **kwargs)

    monkeypatch.setattr(repo, "list_artifact_versions", counting)
    _page(seven, limit=2, after="a_2")
    assert read == ["b", "c"]


def test_the_page_links_to_the_next_one(seven: Live) -> None:
    first = seven.client.get("/", params={"limit": 3})
    assert first.status_code == 200
    assert "1\u20133 of 7" in first.text
    assert 'data-name="a-0"' in first.text and 'data-name="b"' not in first.text
    link = re.search(r'<a class="next" href="([^"]+)"', first.text)
    assert link is not None
    second = seven.client.get(link.group(1).replace("&amp;", "&"))
    assert "4\u20136 of 7" in second.text and 'data-name="b"' in second.text
    assert 'data-name="a_2"' not in second.text and "First page" in second.text
    last = seven.client.get("/", params={"limit": 3, "after": "d"})
    assert 'data-name="e"' in last.text and 'class="next"' not in last.text
