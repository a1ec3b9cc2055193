"""Alias revisions, compare-and-set, history, point-in-time reads and verify (issue 10,
items 1 and 2), on both backends."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.helpers import (
    Backend,
    LocalBackend,
    Repository,
    S3Backend,
    assert_aware_utc,
    raises_versioned,
)
from versioned import AliasChange, AliasState, HistoryCheck, exc

NAME = "my-app"


@pytest.fixture
def published(repo: Repository) -> Repository:
    """``my-app`` with versions 1, 2, 3 (contents b"v1".. b"v3") and LATEST = b"latest"."""
    for number in (1, 2, 3):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, b"latest")
    return repo


def history(repo: Repository, alias: str = "prod") -> list[AliasChange]:
    return list(repo.list_alias_history(NAME, alias, limit=1000))


def moment() -> datetime:
    """Now, with the clock moved on a little either side (entries carry microseconds)."""
    time.sleep(0.01)
    now = datetime.now(timezone.utc)
    time.sleep(0.01)
    return now


# --- revisions and compare-and-set ------------------------------------------------------------
def test_revision_grows_by_one_on_each_change(published: Repository) -> None:
    repo = published
    seen = [
        repo.put_alias(NAME, "prod", 1).revision,
        repo.put_alias(NAME, "prod", 2, 1, 10).revision,
        repo.put_alias(NAME, "prod").revision,
        repo.put_alias(NAME, "prod", 3).revision,
    ]
    assert seen == [1, 2, 3, 4]
    assert repo.get_alias(NAME, "prod").revision == 4
    assert [(a.alias, a.revision) for a in repo.list_aliases(NAME)] == [("prod", 4)]
    assert repo.put_alias(NAME, "stage", 1).revision == 1  # each alias counts its own


def test_expected_revision_sets_when_it_matches(published: Repository) -> None:
    repo = published
    created = repo.put_alias(NAME, "prod", 1, expected_revision=0)
    assert created.revision == 1
    moved = repo.put_alias(NAME, "prod", 2, expected_revision=1)
    assert (moved.version, moved.revision) == ("2", 2)
    assert repo.get_alias(NAME, "prod").version == "2"


@pytest.mark.parametrize("expected", [0, 1, 3, 17])
def test_expected_revision_refuses_and_writes_nothing(
    backend: Backend, published: Repository, expected: int
) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1)
    repo.put_alias(NAME, "prod", 3, 2, 25)  # revision 2
    before = backend.state()
    with raises_versioned(exc.RevisionMismatchError) as info:
        repo.put_alias(NAME, "prod", 1, expected_revision=expected, reason="late")
    error = info.value
    assert (error.name, error.alias, error.expected, error.current) == (NAME, "prod", expected, 2)
    assert error.current_target is not None and "3" in error.current_target
    message = str(error)
    for part in ("'prod'", f"'{NAME}'", f"revision {expected}", "revision 2", "version 3"):
        assert part in message, (part, message)
    assert "25%" in message and "version 2" in message
    assert not isinstance(error, exc.ConcurrentWriteError)  # never retried blindly
    assert backend.state() == before
    assert len(history(repo)) == 2


def test_expected_revision_of_a_missing_alias(backend: Backend, published: Repository) -> None:
    before = backend.state()
    with raises_versioned(exc.RevisionMismatchError) as info:
        published.put_alias(NAME, "prod", 1, expected_revision=1)
    assert (info.value.current, info.value.current_target) == (0, None)
    assert "does not exist" in str(info.value)
    assert backend.state() == before


def test_without_expected_revision_the_last_writer_wins(published: Repository) -> None:
    published.put_alias(NAME, "prod", 1)
    published.put_alias(NAME, "prod", 2)
    assert published.get_alias(NAME, "prod").version == "2"


def test_delete_with_expected_revision(backend: Backend, published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1)
    repo.put_alias(NAME, "prod", 2)
    before = backend.state()
    with raises_versioned(exc.RevisionMismatchError) as info:
        repo.delete_alias(NAME, "prod", expected_revision=1)
    assert (info.value.expected, info.value.current) == (1, 2)
    assert backend.state() == before
    repo.delete_alias(NAME, "prod", expected_revision=2, reason="retired")
    with raises_versioned(exc.AliasNotFoundError):
        repo.get_alias(NAME, "prod")
    newest = history(repo)[0]
    assert (newest.revision, newest.action, newest.reason) == (3, "delete", "retired")
    assert newest.before == AliasState("2") and newest.after is None
    # gone: it is at revision 0 for a compare-and-set
    with raises_versioned(exc.RevisionMismatchError):
        repo.delete_alias(NAME, "prod", expected_revision=3)


def test_deleting_a_missing_alias_records_nothing(backend: Backend, published: Repository) -> None:
    published.put_alias(NAME, "prod", 1)
    published.delete_alias(NAME, "prod")
    before = backend.state()
    published.delete_alias(NAME, "prod")
    published.delete_alias(NAME, "never")
    published.delete_alias(NAME, "never", expected_revision=0)
    assert backend.state() == before
    assert [c.action for c in history(published)] == ["delete", "set"]
    assert history(published, "never") == []


def test_a_recreated_alias_continues_its_history(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1)
    repo.delete_alias(NAME, "prod")
    again = repo.put_alias(NAME, "prod", 2, expected_revision=0)
    assert again.revision == 3
    assert [(c.revision, c.action) for c in history(repo)] == [
        (3, "set"),
        (2, "delete"),
        (1, "set"),
    ]
    assert repo.verify_alias_history(NAME, "prod").ok


# --- history ---------------------------------------------------------------------------------
def test_history_records_every_change_newest_first(published: Repository) -> None:
    repo = published
    start = datetime.now(timezone.utc)
    repo.put_alias(NAME, "prod", 1, reason="first deploy")
    repo.put_alias(NAME, "prod", 2, secondary_version=1, secondary_version_weight=20)
    repo.put_alias(NAME, "prod", secondary_version=3, secondary_version_weight=5, reason="edge")
    repo.delete_alias(NAME, "prod", reason="retire")
    end = datetime.now(timezone.utc)
    changes = history(repo)
    assert [c.revision for c in changes] == [4, 3, 2, 1]
    assert [c.action for c in changes] == ["delete", "set", "set", "set"]
    assert [c.reason for c in changes] == ["retire", "edge", None, "first deploy"]
    states = [(c.before, c.after) for c in reversed(changes)]
    assert states == [
        (None, AliasState("1")),
        (AliasState("1"), AliasState("2", "1", 20)),
        (AliasState("2", "1", 20), AliasState("LATEST", "3", 5)),
        (AliasState("LATEST", "3", 5), None),
    ]
    for change in changes:
        assert (change.name, change.alias) == (NAME, "prod")
        assert_aware_utc(change.update_at)
        assert start <= change.update_at <= end
        assert change.who and change.who == changes[0].who
    times = [c.update_at for c in changes]
    assert times == sorted(times, reverse=True)


def test_history_entries_chain_by_sha256(published: Repository) -> None:
    for version in (1, 2, 3):
        published.put_alias(NAME, "prod", version)
    oldest_first = list(reversed(history(published)))
    assert oldest_first[0].previous_sha256 == ""
    for older, newer in itertools.pairwise(oldest_first):
        assert newer.previous_sha256 == older.sha256
    assert len({c.sha256 for c in oldest_first}) == 3
    assert all(len(c.sha256) == 64 for c in oldest_first)


def test_history_pages(published: Repository) -> None:
    repo = published
    for index in range(7):
        repo.put_alias(NAME, "prod", 1 + index % 3)
    first = repo.list_alias_history(NAME, "prod", limit=3)
    assert [c.revision for c in first] == [7, 6, 5]
    second = repo.list_alias_history(NAME, "prod", limit=3, before_revision=first[-1].revision)
    assert [c.revision for c in second] == [4, 3, 2]
    third = repo.list_alias_history(NAME, "prod", limit=3, before_revision=second[-1].revision)
    assert [c.revision for c in third] == [1]
    assert repo.list_alias_history(NAME, "prod", before_revision=1) == []
    assert [c.revision for c in repo.list_alias_history(NAME, "prod")] == list(range(7, 0, -1))


def test_history_takes_any_page_size_and_revision(published: Repository) -> None:
    """Page sizes and revisions past what a store can spell (SQLite's 64-bit integers,
    DynamoDB's 32-bit Limit) are still just "everything" and "below everything"."""
    for version in (1, 2):
        published.put_alias(NAME, "prod", version)
    for huge in (2**31, 2**63, 10**30):
        assert [c.revision for c in published.list_alias_history(NAME, "prod", limit=huge)] == [
            2,
            1,
        ]
        below = published.list_alias_history(NAME, "prod", before_revision=huge)
        assert [c.revision for c in below] == [2, 1]


def test_history_of_an_alias_that_never_existed(published: Repository) -> None:
    assert published.list_alias_history(NAME, "prod") == []
    assert published.list_alias_history("no-such-artifact", "prod") == []
    check = published.verify_alias_history(NAME, "prod")
    assert check == HistoryCheck(ok=True, problems=[], entries=0)


# --- as_of -----------------------------------------------------------------------------------
def test_get_alias_as_of(published: Repository) -> None:
    repo = published
    before_any = moment()
    repo.put_alias(NAME, "prod", 1)
    during_first = moment()
    repo.put_alias(NAME, "prod", 2, 3, 40)
    during_second = moment()
    repo.delete_alias(NAME, "prod")
    while_deleted = moment()
    repo.put_alias(NAME, "prod", 3)
    now = moment()

    def pointed(at: datetime) -> tuple[str, str | None, int | None, int]:
        alias = repo.get_alias(NAME, "prod", as_of=at)
        return (
            alias.version,
            alias.secondary_version,
            alias.secondary_version_weight,
            alias.revision,
        )

    assert pointed(during_first) == ("1", None, None, 1)
    assert pointed(during_second) == ("2", "3", 40, 2)
    assert pointed(now) == ("3", None, None, 4)
    assert pointed(now.astimezone(timezone(timedelta(hours=-5)))) == ("3", None, None, 4)
    for at in (before_any, while_deleted):
        with raises_versioned(exc.AliasNotFoundError):
            repo.get_alias(NAME, "prod", as_of=at)
    then = repo.get_alias(NAME, "prod", as_of=during_second)
    assert then.version_uri == repo.get_artifact_version(NAME, 2).uri
    assert then.get_version_content() == b"v2"
    assert then.get_secondary_version_content() == b"v3"


def test_as_of_looks_again_when_a_delete_lands_between_its_reads(
    published: Repository, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History read, then a delete by versioned, then the alias read finds it gone: that
    is no outside delete, and the answer at a moment before the delete is still v1."""
    repo = published
    repo.put_alias(NAME, "prod", 1)
    at = moment()
    store = repo._engine.backend
    read_alias = store.get_alias
    raced: list[bool] = []

    def delete_first(name: str, alias: str) -> Any:
        if not raced:
            backend.new_repository().delete_alias(NAME, "prod")
            raced.append(True)
        return read_alias(name, alias)

    monkeypatch.setattr(store, "get_alias", delete_first)
    assert repo.get_alias(NAME, "prod", as_of=at).version == "1"
    assert raced and [(c.revision, c.action) for c in history(repo)] == [(2, "delete"), (1, "set")]
    with raises_versioned(exc.AliasNotFoundError) as info:
        repo.get_alias(NAME, "prod", as_of=moment())
    assert "outside" not in str(info.value)


# --- verify ----------------------------------------------------------------------------------
def test_verify_an_intact_history(published: Repository) -> None:
    for version in (1, 2, 3):
        published.put_alias(NAME, "prod", version)
    assert published.verify_alias_history(NAME, "prod") == HistoryCheck(True, [], 3)


def _tamper(backend: Backend, alias: str, revision: int, how: str) -> None:
    """Remove one history entry, or alter its ``who``, behind the library's back."""
    if isinstance(backend, S3Backend):
        # the agreed layout: entries in their own partition, one item per revision
        key = {"pk": {"S": f"__{NAME}-alias#history"}, "sk": {"S": f"{alias}#{revision:010d}"}}
        if how == "remove":
            backend.dynamodb.delete_item(TableName=backend.table, Key=key)
            return
        entry = backend.repo.list_alias_history(NAME, alias, limit=1, before_revision=revision + 1)
        found = backend.dynamodb.get_item(TableName=backend.table, Key=key, ConsistentRead=True)
        item: dict[str, Any] = found["Item"]
        who = next(name for name, value in item.items() if value == {"S": entry[0].who})
        item[who] = {"S": "mallory"}
        backend.dynamodb.put_item(TableName=backend.table, Item=item)
        return
    assert isinstance(backend, LocalBackend)
    conn = sqlite3.connect(backend.root / "versioned.sqlite3")
    try:
        with conn:
            sql = (
                "DELETE FROM alias_history"
                if how == "remove"
                else "UPDATE alias_history SET who = 'mallory'"
            )
            conn.execute(
                f"{sql} WHERE name = ? AND alias = ? AND revision = ?", (NAME, alias, revision)
            )
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("how", "revision", "expected"),
    [
        ("alter", 2, ["revision 2 was altered"]),
        ("alter", 4, ["revision 4 was altered"]),
        ("remove", 2, ["revision 2 is missing", "revision 3 does not follow"]),
        ("remove", 4, ["does not match the newest entry"]),
    ],
)
def test_verify_reports_entries_removed_or_altered(
    backend: Backend, published: Repository, how: str, revision: int, expected: list[str]
) -> None:
    for version in (1, 2, 3, 1):
        published.put_alias(NAME, "prod", version)
    published.put_alias(NAME, "stage", 2)
    _tamper(backend, "prod", revision, how)
    check = published.verify_alias_history(NAME, "prod")
    assert not check.ok
    assert check.entries == (3 if how == "remove" else 4)
    for part in expected:
        assert any(part in problem for problem in check.problems), (part, check.problems)
    assert published.verify_alias_history(NAME, "stage").ok  # other aliases untouched


def test_whole_history_reads_survive_short_pages(
    published: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify and as_of read every page, even when the store answers with fewer entries
    than asked (DynamoDB stops a query at 1 MB)."""
    repo = published
    first = None
    for version in (1, 2, 3, 1, 2):
        repo.put_alias(NAME, "prod", version)
        first = first or moment()
    store = repo._engine.backend
    read_history = store.alias_history
    calls: list[int | None] = []

    def at_most_two(name: str, alias: str, limit: int, before: int | None) -> Any:
        calls.append(before)
        return read_history(name, alias, min(limit, 2), before)

    monkeypatch.setattr(store, "alias_history", at_most_two)
    assert repo.verify_alias_history(NAME, "prod") == HistoryCheck(True, [], 5)
    assert calls == [None, 4, 2]
    assert repo.get_alias(NAME, "prod", as_of=first).version == "1"


# --- racing deployers ------------------------------------------------------------------------
@pytest.mark.parametrize("round_", range(3))
def test_two_deployers_racing_with_expected_revision(
    backend: Backend, published: Repository, round_: int
) -> None:
    published.put_alias(NAME, "prod", 1)
    seen = published.get_alias(NAME, "prod").revision
    deployers = {"alice": 2, "bob": 3}
    outcomes: dict[str, BaseException | int] = {}
    start = threading.Barrier(len(deployers))

    def deploy(who: str, version: int) -> None:
        repo = backend.new_repository()
        repo.list_aliases(NAME)  # warm up the connection: race the writes, not the set-up
        start.wait()
        try:
            alias = repo.put_alias(
                NAME, "prod", version, expected_revision=seen, reason=f"deploy by {who}"
            )
            outcomes[who] = alias.revision
        except BaseException as error:
            outcomes[who] = error

    threads = [threading.Thread(target=deploy, args=item) for item in deployers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [who for who, outcome in outcomes.items() if outcome == seen + 1]
    losers = [who for who, outcome in outcomes.items() if isinstance(outcome, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    (winner,), (loser,) = winners, losers
    error = outcomes[loser]
    assert isinstance(error, exc.RevisionMismatchError), error
    assert (error.expected, error.current) == (seen, seen + 1)
    changes = history(published)
    assert [c.revision for c in changes] == [seen + 1, seen]
    assert changes[0].reason == f"deploy by {winner}"
    assert changes[0].after == AliasState(str(deployers[winner]))
    assert published.get_alias(NAME, "prod").version == str(deployers[winner])
    assert published.verify_alias_history(NAME, "prod").ok
