"""The local store's side of alias history: one SQLite transaction per change and its
entries, ``who`` = user@host, repositories made before history existed, and changes made
by code that keeps no history (noticed and recorded as "outside")."""

from __future__ import annotations

import getpass
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest

from tests.helpers import LocalBackend, raises_versioned
from versioned import AliasState, exc
from versioned.chain import OUTSIDE_WHO

NAME = "my-app"


@pytest.fixture
def local(local_backend: LocalBackend) -> LocalBackend:
    repo = local_backend.repo
    for number in (1, 2, 3):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    return local_backend


@contextmanager
def raw(backend: LocalBackend) -> Iterator[sqlite3.Connection]:
    """The repository's database, opened without the library; committed on success."""
    conn = sqlite3.connect(backend.root / "versioned.sqlite3")
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def test_who_is_user_at_host(local: LocalBackend) -> None:
    local.repo.put_alias(NAME, "prod", 1)
    entry = local.repo.list_alias_history(NAME, "prod")[0]
    assert entry.who == f"{getpass.getuser()}@{socket.gethostname()}"


@pytest.mark.parametrize("table", ["alias_history", "aliases"])
def test_a_change_and_its_entry_commit_together(local: LocalBackend, table: str) -> None:
    repo = local.repo
    repo.put_alias(NAME, "prod", 1)
    repo.put_alias(NAME, "prod", 2)
    with raw(local) as conn:
        for event in ("INSERT", "UPDATE", "DELETE"):
            conn.execute(
                f"CREATE TRIGGER refuse_{event.lower()} BEFORE {event} ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
    before = local.raw_state()
    for change in (
        lambda: repo.put_alias(NAME, "prod", 3),
        lambda: repo.put_alias(NAME, "stage", 2),
        lambda: repo.delete_alias(NAME, "prod"),
        lambda: repo.rollback_alias(NAME, "prod"),
    ):
        with raises_versioned(exc.BackendError):
            change()
        assert local.raw_state() == before
    with raw(local) as conn:
        for event in ("insert", "update", "delete"):
            conn.execute(f"DROP TRIGGER refuse_{event}")
    assert repo.verify_alias_history(NAME, "prod").ok
    assert repo.get_alias(NAME, "prod").revision == 2


def test_an_alias_written_without_history(local: LocalBackend) -> None:
    repo = local.repo
    repo.put_alias(NAME, "prod", 1)
    with raw(local) as conn:  # what a version of versioned without history writes
        conn.execute(
            "INSERT OR REPLACE INTO aliases (name, alias, version, secondary_version, "
            "secondary_version_weight, update_at) "
            "VALUES (?, 'prod', 3, 2, 30, '2026-01-02T03:04:05.000000+0000')",
            (NAME,),
        )
    alias = repo.get_alias(NAME, "prod")
    assert (alias.version, alias.secondary_version, alias.revision) == ("3", "2", 2)
    check = repo.verify_alias_history(NAME, "prod")
    assert not check.ok and "does not match the newest entry" in check.problems[0]
    then = repo.get_alias(NAME, "prod", as_of=datetime.now(timezone.utc))
    assert (then.version, then.secondary_version, then.revision) == ("3", "2", 2)
    with raises_versioned(exc.RevisionMismatchError):
        repo.put_alias(NAME, "prod", 1, expected_revision=1)
    moved = repo.put_alias(NAME, "prod", 1, expected_revision=2, reason="after the outside change")
    assert moved.revision == 3
    changes = repo.list_alias_history(NAME, "prod")
    assert [(c.revision, c.action) for c in changes] == [(3, "set"), (2, "outside"), (1, "set")]
    outside = changes[1]
    assert (outside.who, outside.reason) == (OUTSIDE_WHO, None)
    assert (outside.before, outside.after) == (AliasState("1"), AliasState("3", "2", 30))
    # its writer dated it before revision 1: recorded just after it, as times grow with
    # the revision
    assert outside.update_at == changes[2].update_at + timedelta(microseconds=1)
    assert changes[0].before == AliasState("3", "2", 30)
    assert repo.verify_alias_history(NAME, "prod").ok


def test_an_alias_deleted_without_history(local: LocalBackend) -> None:
    repo = local.repo
    repo.put_alias(NAME, "prod", 1)
    with raw(local) as conn:
        conn.execute("DELETE FROM aliases WHERE alias = 'prod'")
    assert not repo.verify_alias_history(NAME, "prod").ok
    assert repo.put_alias(NAME, "prod", 2, expected_revision=0).revision == 3
    changes = repo.list_alias_history(NAME, "prod")
    assert [(c.action, c.before, c.after) for c in changes] == [
        ("set", None, AliasState("2")),
        ("outside", AliasState("1"), None),
        ("set", None, AliasState("1")),
    ]
    assert repo.verify_alias_history(NAME, "prod").ok


def test_a_repository_made_before_history_existed(local: LocalBackend) -> None:
    repo = local.repo
    repo.put_alias(NAME, "prod", 2)
    with raw(local) as conn:  # the tables as they were: no revision, no history
        conn.execute("ALTER TABLE aliases DROP COLUMN revision")
        conn.execute("DROP TABLE alias_history")
        conn.execute("DROP TABLE alias_heads")
        conn.execute("DELETE FROM settings WHERE key = 'alias_heads'")
    reopened = local.new_repository()
    alias = reopened.get_alias(NAME, "prod")
    assert (alias.version, alias.revision) == ("2", 1)
    assert reopened.list_alias_history(NAME, "prod") == []
    check = reopened.verify_alias_history(NAME, "prod")
    assert check.problems == ["the alias exists (revision 1) but has no history"]
    reopened.put_alias(NAME, "prod", 3, expected_revision=1)
    changes = reopened.list_alias_history(NAME, "prod")
    assert [(c.revision, c.action) for c in changes] == [(2, "set"), (1, "outside")]
    assert changes[1].after == AliasState("2")
    assert reopened.verify_alias_history(NAME, "prod").ok
