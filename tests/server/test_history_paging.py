"""Paging an alias's history through the API reaches its first revision even when a
store answers a page shorter than asked (DynamoDB stops a Query at 1 MB): the next cursor
is the last entry's revision whenever that is above 1. The stores here are stand-ins that
cut every page short, as the S3 store on this branch fills its pages itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from versioned import AliasChange, AliasState
from versioned.server import catalog

pytestmark = pytest.mark.timeout(300)


class TruncatingRepo:
    """A repository whose history of ``count`` changes comes at most ``cap`` entries a
    page, whatever the page size asked (as a store under a byte limit answers)."""

    def __init__(self, count: int, cap: int) -> None:
        self.count, self.cap = count, cap

    def list_alias_history(
        self, name: str, alias: str, *, limit: int, before_revision: int | None
    ) -> list[AliasChange]:
        top = self.count if before_revision is None else before_revision - 1
        return [self._change(r) for r in range(top, max(0, top - min(limit, self.cap)), -1)]

    @staticmethod
    def _change(revision: int) -> AliasChange:
        state = AliasState("1", None, None)
        moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
        return AliasChange(
            "model", "prod", revision, moment, "set", "me", None, state, state, "", ""
        )


def walk(page: Callable[[int | None], dict[str, Any]]) -> list[int]:
    """Every revision, following ``next_before_revision`` from the newest page."""
    seen: list[int] = []
    cursor: int | None = None
    for _ in range(1_000):
        found = page(cursor)
        seen += [c["revision"] for c in found["changes"]]
        cursor = found["next_before_revision"]
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize(("count", "cap", "limit"), [(240, 225, 500), (30, 7, 10), (5, 1, 50)])
def test_short_pages_still_lead_to_the_first_revision(count: int, cap: int, limit: int) -> None:
    repo = TruncatingRepo(count, cap)
    seen = walk(lambda before: catalog.history(repo, "model", "prod", limit, before))
    assert seen == list(range(count, 0, -1))


def test_the_last_page_says_there_is_no_next() -> None:
    repo = TruncatingRepo(3, 50)
    assert catalog.history(repo, "m", "a", 3, None)["next_before_revision"] is None
    assert catalog.history(repo, "m", "a", 50, None)["next_before_revision"] is None
    assert catalog.history(repo, "m", "a", 2, None)["next_before_revision"] == 2
