"""A history that catches every tampering, dates changes when they land, and pages to its
oldest entry (issue 15, items 3 to 5), on both backends.

The tampering is done on raw storage, behind the library's back, the way a console edit
or a stray script would: entries cut off the end (a deleted alias's too), a whole history
removed, an entry rewritten with its own hash recomputed, an entry forged on top, two
entries swapped, and a whole chain rewritten consistently from some entry on.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import Backend, LocalBackend, Repository, S3Backend, raises_versioned
from versioned import exc
from versioned.chain import new_entry, recomputed
from versioned.stores.base import AliasChange, Targets
from versioned.stores.s3.alias_items import encode_entry, entry_sort_key
from versioned.timestamps import to_storage

NAME = "my-app"


@pytest.fixture
def published(repo: Repository) -> Repository:
    for number in (1, 2, 3, 4):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    return repo


# --- raw access ------------------------------------------------------------------------------
def entries(backend: Backend, alias: str = "prod") -> list[AliasChange]:
    """Every entry as stored, oldest first (read through the store, not the engine)."""
    store = backend.repo._engine.backend
    return list(reversed(store.alias_history(NAME, alias, 10_000, None)))


def remove(backend: Backend, revision: int, alias: str = "prod") -> None:
    if isinstance(backend, S3Backend):
        key = {"pk": {"S": f"__{NAME}-alias#history"}, "sk": {"S": entry_sort_key(alias, revision)}}
        backend.dynamodb.delete_item(TableName=backend.table, Key=key)
        return
    with _raw(backend) as conn:
        conn.execute(
            "DELETE FROM alias_history WHERE name = ? AND alias = ? AND revision = ?",
            (NAME, alias, revision),
        )


def write(backend: Backend, entry: AliasChange, *, as_revision: int | None = None) -> None:
    """Store ``entry`` as it is (under ``as_revision``'s key when given)."""
    revision = entry.revision if as_revision is None else as_revision
    if isinstance(backend, S3Backend):
        item = encode_entry(entry, entry_sort_key(entry.alias, revision))
        backend.dynamodb.put_item(TableName=backend.table, Item=item)
        return

    def targets(value: Targets | None) -> str | None:
        return None if value is None else json.dumps(dataclasses.asdict(value), sort_keys=True)

    with _raw(backend) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO alias_history (name, alias, revision, update_at, action, "
            "who, reason, before, after, previous_sha256, sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.name,
                entry.alias,
                revision,
                to_storage(entry.update_at),
                entry.action,
                entry.who,
                entry.reason,
                targets(entry.before),
                targets(entry.after),
                entry.previous_sha256,
                entry.sha256,
            ),
        )


def move_marks(backend: Backend, entry: AliasChange) -> None:
    """Point the head marker (and, on S3, the alias item) at ``entry``: what a forger who
    knows the layout does last."""
    if isinstance(backend, S3Backend):
        write_item = encode_entry(entry, entry.alias)
        backend.dynamodb.put_item(TableName=backend.table, Item=write_item)
        backend.dynamodb.update_item(
            TableName=backend.table,
            Key={"pk": {"S": f"__{NAME}-alias"}, "sk": {"S": entry.alias}},
            UpdateExpression="SET history_head = :h",
            ExpressionAttributeValues={":h": {"S": entry.sha256}},
        )
        return
    with _raw(backend) as conn:
        conn.execute(
            "UPDATE alias_heads SET revision = ?, sha256 = ? WHERE name = ? AND alias = ?",
            (entry.revision, entry.sha256, NAME, entry.alias),
        )


class _raw:
    def __init__(self, backend: Backend) -> None:
        assert isinstance(backend, LocalBackend)
        self.conn = sqlite3.connect(backend.root / "versioned.sqlite3")

    def __enter__(self) -> sqlite3.Connection:
        return self.conn.__enter__()

    def __exit__(self, *info: Any) -> None:
        self.conn.__exit__(*info)
        self.conn.close()


def resealed(entry: AliasChange, **changes: Any) -> AliasChange:
    """``entry`` with ``changes``, its own hash recomputed."""
    changed = dataclasses.replace(entry, **changes)
    return dataclasses.replace(changed, sha256=recomputed(changed))


def problems(repo: Repository, alias: str = "prod") -> list[str]:
    check = repo.verify_alias_history(NAME, alias)
    assert check.ok == (not check.problems)
    return check.problems


def _deleted_twice(repo: Repository) -> None:
    """prod: 1 (r1), 2 (r2), deleted (r3), 3 (r4), deleted (r5)."""
    repo.put_alias(NAME, "prod", 1)
    repo.put_alias(NAME, "prod", 2)
    repo.delete_alias(NAME, "prod")
    repo.put_alias(NAME, "prod", 3)
    repo.delete_alias(NAME, "prod")
    assert not problems(repo)


# --- tampering -------------------------------------------------------------------------------
def test_cutting_the_newest_entries_of_a_deleted_alias_shows(
    backend: Backend, published: Repository
) -> None:
    _deleted_twice(published)
    remove(backend, 5)
    remove(backend, 4)  # the newest left is revision 3, a delete: it looked complete
    found = problems(published)
    assert any("head marker names revision 5" in p for p in found), found


def test_removing_the_whole_history_of_a_deleted_alias_shows(
    backend: Backend, published: Repository
) -> None:
    _deleted_twice(published)
    for revision in range(1, 6):
        remove(backend, revision)
    found = problems(published)
    assert any("has no entries" in p for p in found), found


def test_a_rewritten_newest_entry_with_its_hash_recomputed_shows(
    backend: Backend, published: Repository
) -> None:
    for version in (1, 2, 3):
        published.put_alias(NAME, "prod", version)
    newest = entries(backend)[-1]
    write(backend, resealed(newest, reason="nothing to see", who="mallory"))
    found = problems(published)
    assert any("head marker names revision 3" in p for p in found), found
    # no change is built on it: refused, or linked to the true entry (S3 plans from its
    # head item, which still holds it): either way the forgery stays visible
    try:
        published.put_alias(NAME, "prod", 4)
    except exc.BackendError as error:
        assert "does not verify" in str(error)
    assert problems(published)


def test_a_forged_entry_on_top_is_never_built_upon(backend: Backend, published: Repository) -> None:
    for version in (1, 2):
        published.put_alias(NAME, "prod", version)
    newest = entries(backend)[-1]
    forged = new_entry(
        name=NAME,
        alias="prod",
        revision=3,
        update_at=newest.update_at + timedelta(seconds=1),
        action="set",
        who="mallory",
        reason="looks legitimate",
        before=newest.after,
        after=Targets(4),
        previous_sha256=newest.sha256,
    )
    write(backend, forged)
    assert any("head marker" in p for p in problems(published))
    before = backend.state()
    with raises_versioned(exc.BackendError):
        backend.new_repository().put_alias(NAME, "prod", 3, reason="the next deploy")
    assert backend.state() == before
    assert problems(published)


def test_swapped_entries_show(backend: Backend, published: Repository) -> None:
    for version in (1, 2, 3, 4):
        published.put_alias(NAME, "prod", version)
    second, third = entries(backend)[1:3]
    write(backend, second, as_revision=3)
    write(backend, third, as_revision=2)
    assert problems(published)


def test_a_chain_rewritten_consistently_from_one_entry_on_shows(
    backend: Backend, published: Repository
) -> None:
    """Each hash recomputed and every marker moved: only ``before`` = previous ``after``
    is left to tell that revision 2 no longer starts where revision 1 ended."""
    for version in (1, 2, 3):
        published.put_alias(NAME, "prod", version)
    _, second, third = entries(backend)
    forged_second = resealed(second, before=Targets(4))
    forged_third = resealed(third, previous_sha256=forged_second.sha256)
    write(backend, forged_second)
    write(backend, forged_third)
    move_marks(backend, forged_third)
    found = problems(published)
    assert found == [
        "revision 2 does not start where the entry before it ended (its before is not that "
        "entry's after)"
    ]


def test_an_intact_history_of_a_deleted_alias_verifies(published: Repository) -> None:
    _deleted_twice(published)
    assert published.verify_alias_history(NAME, "prod").entries == 5


# --- time ------------------------------------------------------------------------------------
def test_a_change_that_waited_is_dated_after_the_one_it_waited_for(
    backend: Backend, published: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine hands the store a change; before it lands, another one does. The late
    change is dated when it lands, so times grow with the revision and ``as_of``
    never answers a state the alias did not have yet."""
    repo = published
    repo.put_alias(NAME, "prod", 1)
    store = repo._engine.backend
    put = store.put_alias
    other = backend.new_repository()

    def someone_else_first(record: Any, note: Any) -> Any:
        if other.get_alias(NAME, "prod").revision == 1:
            other.put_alias(NAME, "prod", 2, reason="landed first")
        return put(record, note)

    monkeypatch.setattr(store, "put_alias", someone_else_first)
    late = repo.put_alias(NAME, "prod", 3, reason="waited")
    monkeypatch.undo()
    changes = repo.list_alias_history(NAME, "prod")
    assert [c.revision for c in changes] == [3, 2, 1]
    assert changes[0].update_at > changes[1].update_at > changes[2].update_at
    assert late.update_at == changes[0].update_at
    assert repo.get_alias(NAME, "prod").update_at == changes[0].update_at
    between = changes[1].update_at
    assert repo.get_alias(NAME, "prod", as_of=between).version == "2"


# --- paging ----------------------------------------------------------------------------------
def test_pages_are_full_however_short_the_stores_pages(
    published: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = published
    for version in (1, 2, 3, 4, 1, 2, 3):
        repo.put_alias(NAME, "prod", version)
    store = repo._engine.backend
    read: Callable[..., Any] = store.alias_history
    monkeypatch.setattr(
        store, "alias_history", lambda n, a, limit, before: read(n, a, min(limit, 2), before)
    )
    page = repo.list_alias_history(NAME, "prod", limit=5)
    assert [c.revision for c in page] == [7, 6, 5, 4, 3]
    rest = repo.list_alias_history(NAME, "prod", limit=50, before_revision=3)
    assert [c.revision for c in rest] == [2, 1]


def test_a_dynamodb_page_cut_at_1_mb_does_not_end_the_history(s3_backend: S3Backend) -> None:
    """240 large entries (about 1.5 MB): DynamoDB (DynamoDB Local and moto keep its 1 MB
    rule, each counting item sizes its own way) answers a Query for all of them with part
    of them; a page of the library still holds them all, and every revision down to 1 is
    reached."""
    repo = s3_backend.repo
    repo.put_artifact(NAME, b"v1")
    repo.publish_artifact_version(NAME)
    repo.put_alias(NAME, "prod", 1, reason="r" * 1024)
    first = entries(s3_backend)[0]
    chain = [first]
    for revision in range(2, 241):  # written raw: 240 changes through moto take minutes
        chain.append(
            new_entry(
                name=NAME,
                alias="prod",
                revision=revision,
                update_at=first.update_at + timedelta(seconds=revision),
                action="set",
                who="w" * 5000,
                reason="r" * 1024,
                before=Targets(1),
                after=Targets(1),
                previous_sha256=chain[-1].sha256,
            )
        )
    for entry in chain[1:]:
        write(s3_backend, entry)
    move_marks(s3_backend, chain[-1])
    s3_backend.dynamodb.update_item(
        TableName=s3_backend.table,
        Key={"pk": {"S": f"__{NAME}-alias"}, "sk": {"S": "prod"}},
        UpdateExpression="SET revision = :r, update_at = :t",
        ExpressionAttributeValues={
            ":r": {"N": "240"},
            ":t": {"S": to_storage(chain[-1].update_at)},
        },
    )
    raw = s3_backend.dynamodb.query(
        TableName=s3_backend.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"__{NAME}-alias#history"}},
        ScanIndexForward=False,
        Limit=500,
    )
    assert len(raw["Items"]) < 240 and "LastEvaluatedKey" in raw  # the store's page is short
    fresh = s3_backend.new_repository()
    page = fresh.list_alias_history(NAME, "prod", limit=500)
    assert [c.revision for c in page] == list(range(240, 0, -1))
    assert fresh.verify_alias_history(NAME, "prod").ok
    assert len(fresh.list_alias_history(NAME, "prod", limit=20, before_revision=16)) == 15
