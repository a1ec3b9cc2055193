"""One-command rollback, retention that keeps rollback targets, purge of history, and the
argument checks of the alias-history API (issue 10, item 3), on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.helpers import Backend, Repository, raises_versioned, versions_of
from versioned import AliasState, exc

NAME = "my-app"


@pytest.fixture
def published(repo: Repository) -> Repository:
    """``my-app`` with versions 1 to 4 (contents b"v1".. b"v4") and LATEST = b"latest"."""
    for number in (1, 2, 3, 4):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, b"latest")
    return repo


# --- rollback --------------------------------------------------------------------------------
def test_rollback_to_the_previous_revision(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1, secondary_version=2, secondary_version_weight=10)
    repo.put_alias(NAME, "prod", 3)
    rolled = repo.rollback_alias(NAME, "prod", reason="3 is broken")
    assert (rolled.version, rolled.secondary_version, rolled.secondary_version_weight) == (
        "1",
        "2",
        10,
    )
    assert rolled.revision == 3
    assert rolled.get_version_content() == b"v1"
    assert repo.get_alias(NAME, "prod").revision == 3
    newest = repo.list_alias_history(NAME, "prod", limit=1)[0]
    assert (newest.revision, newest.action, newest.reason) == (3, "rollback", "3 is broken")
    assert (newest.before, newest.after) == (AliasState("3"), AliasState("1", "2", 10))
    assert repo.verify_alias_history(NAME, "prod").ok
    # rolling back again never goes forward to what the rollback took out
    with raises_versioned(exc.InvalidArgumentError) as info:
        repo.rollback_alias(NAME, "prod")
    assert "nothing to roll back" in str(info.value)
    assert repo.get_alias(NAME, "prod").revision == 3


def test_rollback_to_a_given_revision(published: Repository) -> None:
    repo = published
    for version in (1, 2, 3, None):
        repo.put_alias(NAME, "prod", version)
    rolled = repo.rollback_alias(NAME, "prod", to_revision=2)
    assert (rolled.version, rolled.revision) == ("2", 5)
    assert repo.rollback_alias(NAME, "prod", 4).version == "LATEST"


def test_rollback_refuses_a_soft_deleted_target(backend: Backend, published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 2)
    repo.put_alias(NAME, "prod", 3)
    repo.delete_artifact_version(NAME, 2)
    before = backend.state()
    with raises_versioned(exc.VersionDeletedError) as info:
        repo.rollback_alias(NAME, "prod")
    assert isinstance(info.value, exc.ArtifactNotFoundError)
    assert (info.value.name, info.value.version) == (NAME, "2")
    message = str(info.value)
    assert f"restore_artifact_version('{NAME}', 2)" in message
    assert "versioned " not in message and "--" not in message  # no CLI in library messages
    assert backend.state() == before
    repo.restore_artifact_version(NAME, 2)
    assert repo.rollback_alias(NAME, "prod").version == "2"


def test_rollback_is_a_compare_and_set(
    backend: Backend, published: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1)
    repo.put_alias(NAME, "prod", 2)
    store = repo._engine.backend
    read_history = store.alias_history
    other = backend.new_repository()

    def history_then_a_deploy(*args: Any) -> Any:
        found = read_history(*args)
        if other.get_alias(NAME, "prod").revision == 2:
            other.put_alias(NAME, "prod", 4, reason="deployed during the rollback")
        return found

    monkeypatch.setattr(store, "alias_history", history_then_a_deploy)
    with raises_versioned(exc.RevisionMismatchError) as info:
        repo.rollback_alias(NAME, "prod")
    assert (info.value.expected, info.value.current) == (2, 3)
    monkeypatch.undo()
    assert repo.get_alias(NAME, "prod").version == "4"
    assert [c.action for c in repo.list_alias_history(NAME, "prod")] == ["set"] * 3


@pytest.mark.parametrize("to_revision", [2, 3, 7])
def test_rollback_to_a_revision_not_earlier(published: Repository, to_revision: int) -> None:
    published.put_alias(NAME, "prod", 1)
    published.put_alias(NAME, "prod", 2)
    with raises_versioned(exc.InvalidArgumentError) as info:
        published.rollback_alias(NAME, "prod", to_revision=to_revision)
    assert "revision 2" in str(info.value)


def test_rollback_without_an_earlier_revision(published: Repository) -> None:
    published.put_alias(NAME, "prod", 1)
    with raises_versioned(exc.InvalidArgumentError):
        published.rollback_alias(NAME, "prod")
    with raises_versioned(exc.AliasNotFoundError):
        published.rollback_alias(NAME, "never")


def test_rollback_of_a_deleted_alias(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1)
    repo.put_alias(NAME, "prod", 2)
    repo.delete_alias(NAME, "prod")
    restored = repo.rollback_alias(NAME, "prod")
    assert (restored.version, restored.revision) == ("2", 4)
    with raises_versioned(exc.InvalidArgumentError) as info:
        repo.rollback_alias(NAME, "prod", to_revision=3)  # the delete
    assert "deleted" in str(info.value)


# --- retention -------------------------------------------------------------------------------
def _moves(repo: Repository, *versions: int) -> None:
    for version in versions:
        repo.put_alias(NAME, "prod", version)


@pytest.mark.parametrize(
    ("keep", "left"),
    [
        (None, ["LATEST", "4", "3"]),  # default 1: the previous target stays
        (0, ["LATEST", "4"]),
        (1, ["LATEST", "4", "3"]),
        (2, ["LATEST", "4", "3", "2"]),
        (9, ["LATEST", "4", "3", "2", "1"]),
        (2**63, ["LATEST", "4", "3", "2", "1"]),  # past what a store can spell: all
    ],
)
def test_retention_keeps_rollback_targets(
    published: Repository, keep: int | None, left: list[str]
) -> None:
    repo = published
    _moves(repo, 1, 2, 3, 4)  # revision 4 -> version 4, before it 3, 2, 1
    options = {} if keep is None else {"keep_rollback_targets": keep}
    _, would = repo.purge_artifact_versions(NAME, 0, 0, dry_run=True, **options)
    _, deleted = repo.purge_artifact_versions(NAME, 0, 0, **options)
    assert sorted(a.version for a in deleted) == sorted(a.version for a in would)
    assert versions_of(repo, NAME) == left
    if keep == 0:
        with raises_versioned(exc.VersionDeletedError):
            repo.rollback_alias(NAME, "prod")
    else:
        assert repo.rollback_alias(NAME, "prod").version == "3"


def test_retention_keeps_the_rollback_target_of_a_deleted_alias(published: Repository) -> None:
    """A deleted alias can be rolled back (to where it pointed before the delete), so
    retention keeps that version as it would for an alias that still exists."""
    repo = published
    _moves(repo, 2, 3)
    repo.delete_alias(NAME, "prod", reason="retired by mistake")
    _, would = repo.purge_artifact_versions(NAME, 0, 0, dry_run=True)
    _, deleted = repo.purge_artifact_versions(NAME, 0, 0)
    assert sorted(a.version for a in deleted) == sorted(a.version for a in would)
    assert versions_of(repo, NAME) == ["LATEST", "3"]
    assert repo.rollback_alias(NAME, "prod").get_version_content() == b"v3"
    _, deleted = repo.purge_artifact_versions(NAME, 0, 0, keep_rollback_targets=0)
    assert deleted == []  # prod is back on 3


def test_retention_then_rollback_always_works(published: Repository) -> None:
    repo = published
    _moves(repo, 2, 4)
    repo.put_alias(NAME, "canary", 1, secondary_version=3, secondary_version_weight=5)
    repo.put_alias(NAME, "canary", 4)
    repo.purge_artifact_versions(NAME, 0, 0)
    assert versions_of(repo, NAME) == ["LATEST", "4", "3", "2", "1"]
    assert repo.rollback_alias(NAME, "prod").get_version_content() == b"v2"
    assert repo.rollback_alias(NAME, "canary").get_secondary_version_content() == b"v3"


def test_retention_with_split_targets_in_the_past(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 2, secondary_version=1, secondary_version_weight=50)
    repo.put_alias(NAME, "prod", 4)
    repo.put_alias(NAME, "prod", 4, secondary_version=3, secondary_version_weight=1)
    _, deleted = repo.purge_artifact_versions(NAME, 0, 0, keep_rollback_targets=1)
    assert sorted(a.version for a in deleted) == ["1", "2"]


def test_retention_restores_a_version_that_became_a_rollback_target_meanwhile(
    backend: Backend, published: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = published
    _moves(repo, 3, 4)  # kept: 4 (current) and 3 (previous); 1 and 2 expire
    store = repo._engine.backend
    delete_many = store.soft_delete_many
    other = backend.new_repository()

    def two_deploys_first(name: str, versions: list[int | None]) -> Any:
        other.put_alias(NAME, "prod", 2)  # to 2 and straight back: 2 is now the previous
        other.put_alias(NAME, "prod", 4)
        return delete_many(name, versions)

    monkeypatch.setattr(store, "soft_delete_many", two_deploys_first)
    _, deleted = repo.purge_artifact_versions(NAME, 0, 0)
    monkeypatch.undo()
    assert [a.version for a in deleted] == ["1"]
    assert versions_of(repo, NAME) == ["LATEST", "4", "3", "2"]
    # 2 came and went (reverted straight back to 4): the rollback goes past it, to 3
    assert repo.rollback_alias(NAME, "prod").version == "3"
    assert repo.rollback_alias(NAME, "prod", to_revision=3).version == "2"


# --- purge -----------------------------------------------------------------------------------
def test_purge_artifact_removes_alias_history(published: Repository) -> None:
    repo = published
    _moves(repo, 1, 2)
    repo.put_alias(NAME, "stage", 1)
    repo.delete_alias(NAME, "stage")
    repo.purge_artifact(NAME)
    assert repo.list_alias_history(NAME, "prod") == []
    assert repo.list_alias_history(NAME, "stage") == []
    repo.put_artifact(NAME, b"again")
    assert repo.put_alias(NAME, "prod", expected_revision=0).revision == 1
    assert repo.verify_alias_history(NAME, "prod").ok


def test_purge_all_removes_the_history_of_deleted_aliases(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "stage", 1)
    repo.delete_alias(NAME, "stage")
    repo.purge_all()
    assert repo.list_alias_history(NAME, "stage") == []


# --- arguments -------------------------------------------------------------------------------
BAD: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("put", {"reason": 5}, TypeError),
    ("put", {"reason": ""}, ValueError),
    ("put", {"reason": "two\nlines"}, ValueError),
    ("put", {"reason": "bell\x07"}, ValueError),
    ("put", {"reason": "c1\x85"}, ValueError),
    ("put", {"reason": "x" * 1025}, ValueError),
    ("put", {"reason": "lone \ud800 surrogate"}, ValueError),  # cannot be stored as UTF-8
    ("put", {"expected_revision": True}, TypeError),
    ("put", {"expected_revision": -1}, ValueError),
    ("put", {"expected_revision": -(10**5000)}, ValueError),  # past what repr() shows
    ("put", {"expected_revision": "1"}, TypeError),
    ("put", {"expected_revision": 1.0}, TypeError),
    ("delete", {"expected_revision": False}, TypeError),
    ("delete", {"reason": b"bytes"}, TypeError),
    ("rollback", {"to_revision": 0}, ValueError),
    ("rollback", {"to_revision": True}, TypeError),
    ("rollback", {"to_revision": "1"}, TypeError),
    ("rollback", {"reason": "tab\there"}, ValueError),
    ("history", {"limit": 0}, ValueError),
    ("history", {"limit": True}, TypeError),
    ("history", {"limit": 2.5}, TypeError),
    ("history", {"before_revision": 0}, ValueError),
    ("history", {"before_revision": "3"}, TypeError),
    ("get", {"as_of": datetime(2026, 1, 1)}, ValueError),  # naive
    ("get", {"as_of": "2026-01-01T00:00:00Z"}, TypeError),
    # aware, but before 0001-01-01 (or after 9999) in UTC: no datetime can hold it
    ("get", {"as_of": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))}, ValueError),
    ("get", {"as_of": datetime.max.replace(tzinfo=timezone(timedelta(hours=-5)))}, ValueError),
    ("purge", {"keep_rollback_targets": -1}, ValueError),
    ("purge", {"keep_rollback_targets": True}, TypeError),
]


def _call(repo: Repository, what: str, options: dict[str, Any]) -> object:
    if what == "put":
        return repo.put_alias(NAME, "prod", 1, **options)
    if what == "delete":
        return repo.delete_alias(NAME, "prod", **options)
    if what == "rollback":
        return repo.rollback_alias(NAME, "prod", **options)
    if what == "history":
        return repo.list_alias_history(NAME, "prod", **options)
    if what == "get":
        return repo.get_alias(NAME, "prod", **options)
    return repo.purge_artifact_versions(NAME, 0, 0, **options)


@pytest.mark.parametrize(("what", "options", "error"), BAD)
def test_bad_arguments_are_refused_before_anything_is_written(
    backend: Backend,
    published: Repository,
    what: str,
    options: dict[str, Any],
    error: type[Exception],
) -> None:
    _moves(published, 2, 1, 3)
    before = backend.state()
    with raises_versioned(error):
        _call(published, what, options)
    assert backend.state() == before


def test_longest_reason_and_unicode_are_kept(published: Repository) -> None:
    reason = "rollback: café ✓ " + "x" * (1024 - 17)
    assert len(reason) == 1024
    published.put_alias(NAME, "prod", 1, reason=reason)
    assert published.list_alias_history(NAME, "prod")[0].reason == reason
