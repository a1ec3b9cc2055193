"""Retention (purge_artifact_versions), hard deletes (purge_artifact, purge_all) and gc."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest

from tests.helpers import (
    Backend,
    Repository,
    S3Backend,
    assert_aware_utc,
    raises_versioned,
    versions_of,
)
from versioned import exc
from versioned.stores.local import steps

NAME = "my-app"


def publish_n(repo: Repository, name: str, count: int) -> None:
    """Publish ``count`` versions of ``name``: version N holds ``b"{name} content N"``."""
    for _ in range(count):
        number = len([v for v in versions_of(repo, name) if v != "LATEST"]) + 1
        repo.put_artifact(name, f"{name} content {number}".encode())
        assert repo.publish_artifact_version(name).version == str(number)


def all_uris(repo: Repository, name: str) -> list[str]:
    return [artifact.uri for artifact in repo.list_artifact_versions(name)]


def test_purge_versions_keeps_latest_last_n_and_aliased(repo: Repository) -> None:
    publish_n(repo, NAME, 6)
    repo.put_alias(NAME, "prod", version=1)
    repo.put_alias(NAME, "canary", version=5, secondary_version=3, secondary_version_weight=10)
    time.sleep(0.05)
    before = datetime.now(timezone.utc)
    purge_time, deleted = repo.purge_artifact_versions(NAME, keep_last_n=2, purge_older_than_secs=0)
    after = datetime.now(timezone.utc)
    assert_aware_utc(purge_time)
    assert before <= purge_time <= after
    assert sorted(a.version for a in deleted) == ["2", "4"]
    assert all(a.name == NAME for a in deleted)
    assert versions_of(repo, NAME) == ["LATEST", "6", "5", "3", "1"]
    # soft deletes: they can be restored
    assert repo.restore_artifact_version(NAME, 2).get_content() == f"{NAME} content 2".encode()


def test_purge_versions_keeps_young_versions(repo: Repository) -> None:
    publish_n(repo, NAME, 3)
    old_enough = 1.5
    time.sleep(old_enough + 0.5)
    publish_n(repo, NAME, 2)
    repo.put_alias(NAME, "prod", version=2)
    _, deleted = repo.purge_artifact_versions(
        NAME, keep_last_n=1, purge_older_than_secs=int(old_enough + 0.5)
    )
    # 5: the last one; 4: young; 2: aliased; 1 and 3: old and unprotected
    assert sorted(a.version for a in deleted) == ["1", "3"]
    assert versions_of(repo, NAME) == ["LATEST", "5", "4", "2"]


def test_purge_versions_defaults_keep_recent(repo: Repository) -> None:
    publish_n(repo, NAME, 12)
    _, deleted = repo.purge_artifact_versions(NAME)
    assert deleted == []
    _, deleted = repo.purge_artifact_versions(NAME, keep_last_n=3, purge_older_than_secs=3600)
    assert deleted == []
    assert len(versions_of(repo, NAME)) == 13


def test_ages_past_the_calendar_mean_nothing_is_old_enough(backend: Backend) -> None:
    """An age older than any date (more than datetime can go back) deletes nothing."""
    publish_n(backend.repo, NAME, 3)
    before = backend.state()
    for age in (10**12, 10**30):
        _, deleted = backend.repo.purge_artifact_versions(NAME, 0, age)
        assert deleted == []
        assert backend.repo.gc(dry_run=False, grace_seconds=age) == []
    assert backend.state() == before


def test_purge_versions_never_touches_latest(repo: Repository) -> None:
    publish_n(repo, NAME, 2)
    time.sleep(0.05)
    _, deleted = repo.purge_artifact_versions(NAME, keep_last_n=0, purge_older_than_secs=0)
    assert sorted(a.version for a in deleted) == ["1", "2"]
    assert versions_of(repo, NAME) == ["LATEST"]


def test_purge_versions_of_unknown_artifact(repo: Repository) -> None:
    _, deleted = repo.purge_artifact_versions("unknown", keep_last_n=0, purge_older_than_secs=0)
    assert deleted == []


def test_purge_artifact(backend: Backend) -> None:
    repo = backend.repo
    publish_n(repo, NAME, 3)
    repo.put_alias(NAME, "prod", version=2)
    repo.delete_artifact_version(NAME, 3)
    uris = all_uris(repo, NAME)
    publish_n(repo, "keeper", 1)
    repo.put_alias("keeper", "prod", version=1)

    repo.purge_artifact(NAME)

    assert repo.list_artifact_versions(NAME) == []
    assert repo.list_aliases(NAME) == []
    assert repo.list_artifact_names() == ["keeper"]
    for version in (None, 1, 2, 3):
        try:
            repo.get_artifact_version(NAME, version)
        except exc.ArtifactNotFoundError:
            continue
        raise AssertionError(f"version {version} survived purge_artifact")
    for uri in uris:
        assert not backend.blob_exists(uri), f"{uri} survived purge_artifact"
    assert versions_of(repo, "keeper") == ["LATEST", "1"]
    assert repo.get_alias("keeper", "prod").get_version_content() == b"keeper content 1"
    if isinstance(backend, S3Backend):
        assert backend.objects(f"{backend.prefix}/{NAME}/") == {}
        assert backend.partition(NAME) == []
        assert backend.partition(f"__{NAME}-alias") == []


def test_purge_artifact_then_reuse_name(repo: Repository) -> None:
    publish_n(repo, NAME, 2)
    repo.purge_artifact(NAME)
    repo.put_artifact(NAME, b"fresh")
    assert repo.publish_artifact_version(NAME).version == "1"
    assert repo.get_artifact_version(NAME, 1).get_content() == b"fresh"


def test_purge_unknown_artifact(repo: Repository) -> None:
    repo.purge_artifact("unknown")
    assert repo.list_artifact_names() == []


def test_purge_all(backend: Backend) -> None:
    repo = backend.repo
    uris = []
    for name in ("one", "two", "three"):
        publish_n(repo, name, 2)
        repo.put_alias(name, "prod", version=1)
        uris += all_uris(repo, name)
    repo.delete_artifact_version("two", 2)

    repo.purge_all()

    assert repo.list_artifact_names() == []
    for name in ("one", "two", "three"):
        assert repo.list_artifact_versions(name) == []
        assert repo.list_aliases(name) == []
    for uri in uris:
        assert not backend.blob_exists(uri), f"{uri} survived purge_all"
    if isinstance(backend, S3Backend):
        assert backend.objects() == {}
        assert backend.items() == []
    # still usable afterwards
    repo.put_artifact("one", b"again")
    assert repo.publish_artifact_version("one").version == "1"


def test_gc_on_a_clean_repository_finds_nothing(backend: Backend) -> None:
    publish_n(backend.repo, NAME, 2)
    before = backend.state()
    assert backend.repo.gc(dry_run=True, grace_seconds=0) == []
    assert backend.repo.gc(dry_run=False, grace_seconds=0) == []
    assert backend.state() == before


def test_gc_removes_orphaned_objects(s3_backend: S3Backend) -> None:
    repo = s3_backend.repo
    publish_n(repo, NAME, 1)
    orphan_key = s3_backend.key(NAME, 42)
    s3_backend.s3.put_object(Bucket=s3_backend.bucket, Key=orphan_key, Body=b"orphan")
    orphan_uri = f"s3://{s3_backend.bucket}/{orphan_key}"

    assert repo.gc(dry_run=True, grace_seconds=3600) == []
    assert repo.gc(dry_run=True, grace_seconds=0) == [orphan_uri]
    assert s3_backend.blob_exists(orphan_uri)
    assert repo.gc(dry_run=False, grace_seconds=0) == [orphan_uri]
    assert not s3_backend.blob_exists(orphan_uri)
    assert versions_of(repo, NAME) == ["LATEST", "1"]
    assert repo.get_artifact_version(NAME, 1).get_content() == f"{NAME} content 1".encode()


class _Call(threading.Thread):
    """One call on a thread, keeping how it ended."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._call()
        except BaseException as error:
            self.error = error


@contextlib.contextmanager
def _purge_held(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Call]:
    """``purge_artifact(NAME)`` running on a thread, stopped once it has fenced the artifact:
    on S3 with the fence up (before it deletes anything), locally inside its transaction
    (just before the commit); it goes on when the block ends."""
    reached, release = threading.Event(), threading.Event()

    def hold(*_: object) -> None:
        if threading.current_thread() is purge:
            reached.set()
            assert release.wait(30)

    if isinstance(backend, S3Backend):
        from versioned.stores.s3.purge import Purger

        monkeypatch.setattr(Purger, "_wait_for_publishes", hold)
    else:
        steps.install(lambda label: hold() if label == "commit" else None)
    purge = _Call(lambda: backend.repo.purge_artifact(NAME))
    purge.start()
    try:
        assert reached.wait(30), "the purge never reached its hold"
        yield purge
    finally:
        release.set()
        purge.join(60)
        steps.install(None)


def test_delete_alias_while_its_artifact_is_purged(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = backend.repo
    publish_n(repo, NAME, 1)
    repo.put_alias(NAME, "prod", 1)
    with _purge_held(backend, monkeypatch) as purge:
        deleting = _Call(lambda: repo.delete_alias(NAME, "prod"))
        deleting.start()
        deleting.join(10)
        if isinstance(backend, S3Backend):
            # the fence refuses every alias change: a documented ConcurrentWriteError
            # (retried a few times first) saying why, not "version LATEST not found"
            assert not deleting.is_alive()
            assert isinstance(deleting.error, exc.ConcurrentWriteError), deleting.error
            assert f"{NAME!r} is being purged" in str(deleting.error)
        else:
            assert deleting.is_alive()  # SQLite makes it wait for the purge's transaction
    deleting.join(60)
    assert purge.error is None
    if not isinstance(backend, S3Backend):
        assert deleting.error is None  # the purge removed the alias: nothing to delete
    repo.delete_alias(NAME, "prod")  # after the purge: nothing to delete, no error
    with raises_versioned(exc.AliasNotFoundError):
        repo.get_alias(NAME, "prod")
