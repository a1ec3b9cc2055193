"""Expiry that frees storage (issue 17, item 1), on both backends: versions soft-deleted
long enough ago lose their bytes for good, never a live, restored, aliased or
rollback-target one, and no number is ever given out again."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import pytest

from tests.helpers import Backend, LocalBackend, Repository, S3Backend, raises_versioned
from tests.legacy import Legacy
from versioned import ExpiredVersion, exc

NAME = "app"


@pytest.fixture
def four(repo: Repository) -> Repository:
    """``app`` v1..v4 (distinct contents, 1 KiB each) and LATEST = v4's content."""
    for number in (1, 2, 3, 4):
        repo.put_artifact(NAME, bytes([number]) * 1024)
        repo.publish_artifact_version(NAME)
    return repo


def stored_bytes(backend: Backend) -> int:
    """The bytes the repository keeps (object sizes on S3, blob files locally)."""
    if isinstance(backend, S3Backend):
        return sum(
            o["Size"]
            for page in backend.s3.get_paginator("list_objects_v2").paginate(Bucket=backend.bucket)
            for o in page.get("Contents", [])
        )
    assert isinstance(backend, LocalBackend)
    return sum(p.stat().st_size for p in (backend.root / "blobs").rglob("*") if p.is_file())


def listed(repo: Repository) -> list[str]:
    return [a.version for a in repo.list_artifact_versions(NAME, include_deleted=True)]


def test_retention_then_expiry_frees_the_storage(backend: Backend, four: Repository) -> None:
    repo = four
    _, soft = repo.purge_artifact_versions(NAME, keep_last_n=1, purge_older_than_secs=0)
    assert sorted(a.version for a in soft) == ["1", "2", "3"]
    before = stored_bytes(backend)
    done = repo.expire_deleted_versions(0)
    assert [(e.name, e.version, e.size) for e in done] == [(NAME, v, 1024) for v in "123"]
    assert all(isinstance(e, ExpiredVersion) and e.freed == 1024 for e in done)
    assert stored_bytes(backend) == before - 3 * 1024
    assert listed(repo) == ["LATEST", "4"]
    assert repo.gc(dry_run=True, grace_seconds=0) == []  # nothing left behind
    for version in (1, 2, 3):
        with raises_versioned(exc.ArtifactNotFoundError):
            repo.get_artifact_version(NAME, version)
        with raises_versioned(exc.ArtifactNotFoundError):
            repo.restore_artifact_version(NAME, version)


def test_no_number_is_given_out_again(backend: Backend, four: Repository) -> None:
    repo = four
    repo.delete_artifact_version(NAME, 4)
    repo.delete_artifact_version(NAME, 3)
    assert [e.version for e in repo.expire_deleted_versions(0)] == ["3", "4"]
    repo.put_artifact(NAME, b"five")
    assert repo.publish_artifact_version(NAME).version == "5"
    if isinstance(backend, S3Backend):  # 1.0.1 numbers from the highest item it sees
        legacy = Legacy(backend.s3, backend.dynamodb, backend.bucket, backend.table, backend.prefix)
        repo.delete_artifact_version(NAME, 5)
        repo.expire_deleted_versions(0)
        assert legacy.publish(NAME) == 6
        assert legacy.get_version(NAME, 5) is None  # a tombstone: not a version to 1.0.1


def test_only_old_enough_deletions_expire(backend: Backend, four: Repository) -> None:
    repo = four
    repo.delete_artifact_version(NAME, 1)
    before = backend.state()
    assert repo.expire_deleted_versions(3600) == []
    assert backend.state() == before


def test_live_restored_aliased_and_rollback_targets_never_expire(four: Repository) -> None:
    repo = four
    repo.put_alias(NAME, "prod", 1)
    repo.put_alias(NAME, "prod", 2)  # 1: its rollback target
    repo.delete_artifact_version(NAME, 1)
    repo.delete_artifact_version(NAME, 3)
    repo.restore_artifact_version(NAME, 3)
    assert repo.expire_deleted_versions(0) == []
    assert [e.version for e in repo.expire_deleted_versions(0, keep_rollback_targets=0)] == ["1"]
    assert sorted(listed(repo)) == ["2", "3", "4", "LATEST"]


def test_a_dry_run_lists_with_sizes_and_changes_nothing(backend: Backend, four: Repository) -> None:
    repo = four
    repo.delete_artifact_version(NAME, 2)
    before = backend.state()
    would = repo.expire_deleted_versions(0, NAME, dry_run=True)
    assert [(e.version, e.size, e.freed) for e in would] == [("2", 1024, 0)]
    assert backend.state() == before


def test_content_shared_with_another_version_stays(backend: Backend, repo: Repository) -> None:
    for _ in (1, 2):
        repo.put_artifact(NAME, b"same" * 256)
        repo.publish_artifact_version(NAME)
        repo.put_artifact(NAME, b"other")  # so the next put of "same" is new again
    repo.delete_artifact_version(NAME, 1)
    (gone,) = repo.expire_deleted_versions(0)
    # locally the blob is shared by content; on S3 each version has its own object
    assert gone.freed == (0 if isinstance(backend, LocalBackend) else 1024)
    assert repo.get_artifact_version(NAME, 2).get_content() == b"same" * 256


def _undate(backend: Backend, version: int) -> None:
    """Forget a deletion's time, as a version deleted before times were recorded (or by
    1.0.1) has none."""
    if isinstance(backend, S3Backend):
        backend.dynamodb.update_item(
            TableName=backend.table,
            Key={"pk": {"S": NAME}, "sk": {"S": f"{version:06d}"}},
            UpdateExpression="REMOVE deleted_at",
        )
        return
    assert isinstance(backend, LocalBackend)
    conn = sqlite3.connect(backend.root / "versioned.sqlite3")
    with conn:
        conn.execute("UPDATE versions SET deleted_at = NULL WHERE version = ?", (version,))
    conn.close()


def test_an_undated_deletion_is_dated_by_the_first_expiry(
    backend: Backend, four: Repository
) -> None:
    repo = four
    repo.delete_artifact_version(NAME, 1)
    _undate(backend, 1)
    before = backend.state()
    assert repo.expire_deleted_versions(0, dry_run=True) == []
    assert backend.state() == before  # a dry run dates nothing
    assert repo.expire_deleted_versions(0) == []  # dated now, not expired yet
    assert repo.expire_deleted_versions(3600) == []
    assert [e.version for e in repo.expire_deleted_versions(0)] == ["1"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"older_than_secs": -1}, exc.InvalidArgumentError),
        ({"older_than_secs": True}, exc.InvalidArgumentTypeError),
        ({"older_than_secs": 1.5}, exc.InvalidArgumentTypeError),
        ({"older_than_secs": 0, "keep_rollback_targets": -1}, exc.InvalidArgumentError),
        ({"older_than_secs": 0, "name": "bad name!"}, exc.InvalidArgumentError),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    backend: Backend, four: Repository, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    four.delete_artifact_version(NAME, 1)
    before = backend.state()
    with raises_versioned(error):
        four.expire_deleted_versions(**kwargs)
    assert backend.state() == before


def test_an_expiry_cut_short_is_finished_by_gc_keeping_the_tombstone(
    s3_backend: S3Backend,
) -> None:
    """A crash after the item let go of the bytes (step 1) and before the object went:
    gc removes the object once the claim ran out, and leaves the tombstone."""
    repo = s3_backend.repo
    for content in (b"one", b"two"):
        repo.put_artifact(NAME, content)
        repo.publish_artifact_version(NAME)
    repo.delete_artifact_version(NAME, 2)
    key = {"pk": {"S": NAME}, "sk": {"S": "000002"}}
    s3_backend.dynamodb.update_item(  # what step 1 writes, with a claim long run out
        TableName=s3_backend.table,
        Key=key,
        UpdateExpression="SET pending = :g, claim_until = :u, expired = :t, sha256 = :e",
        ExpressionAttributeValues={
            ":g": {"S": "crashed"},
            ":u": {"N": "1"},
            ":t": {"BOOL": True},
            ":e": {"S": ""},
        },
    )
    object_key = s3_backend.key(NAME, 2)
    assert object_key in s3_backend.objects()
    assert repo.gc(dry_run=False, grace_seconds=0) == [f"s3://{s3_backend.bucket}/{object_key}"]
    assert object_key not in s3_backend.objects()
    item = s3_backend.dynamodb.get_item(TableName=s3_backend.table, Key=key)["Item"]
    assert "pending" not in item and item["expired"] == {"BOOL": True}
    repo.put_artifact(NAME, b"three")
    assert repo.publish_artifact_version(NAME).version == "3"


def test_a_crash_between_the_tombstone_and_the_blob_leaves_nothing_restorable(
    local_backend: LocalBackend,
) -> None:
    """Locally the row lets go of the blob (committed) before the blob goes: a crash in
    between leaves a blob nothing names (gc's), never a restorable version without bytes."""
    from versioned.stores.local import steps

    repo = local_backend.repo
    for content in (b"one", b"two"):
        repo.put_artifact(NAME, content)
        repo.publish_artifact_version(NAME)
    repo.delete_artifact_version(NAME, 1)

    def crash(label: str) -> None:
        if label == "unlink blob":
            raise SystemExit("killed before the blob went")

    steps.install(crash)
    try:
        with pytest.raises(SystemExit):
            repo.expire_deleted_versions(0)
    finally:
        steps.install(None)
    reopened = local_backend.new_repository()
    with raises_versioned(exc.ArtifactNotFoundError):
        reopened.restore_artifact_version(NAME, 1)
    with raises_versioned(exc.ArtifactNotFoundError):
        reopened.put_alias(NAME, "prod", 1)
    (orphan,) = reopened.gc(dry_run=False, grace_seconds=0)
    assert orphan.endswith(hashlib.sha256(b"one").hexdigest())
