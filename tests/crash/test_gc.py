"""``gc`` after a crash between bytes and metadata: it removes orphans and nothing else.

The crash leftovers are made by hand (what a writer killed at the wrong moment leaves):
local: a temporary upload file and a blob no row names; S3: an object at a numbered key
with no item, and LATEST's object under a placeholder item whose lease has expired. Next to
them sit bytes that versions and aliases need, and a young in-flight write.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

from tests.helpers import LocalBackend, Repository, S3Backend, format_update_at, sha256_hex
from tests.invariants import assert_sound, raw_store_for

OLD = time.time() - 7200  # two hours ago
GRACE = 3600


def make_history(repo: Repository) -> list[tuple[str, str]]:
    """Versions and aliases whose bytes gc must keep; returns (name, version) pairs."""
    needed: list[tuple[str, str]] = []
    for name in ("kept-a", "kept-b"):
        repo.put_artifact(name, f"{name} v1".encode())
        repo.publish_artifact_version(name)
        repo.put_artifact(name, f"{name} v2".encode())
        repo.put_alias(name, "prod", 1)
        needed += [(name, "1"), (name, "LATEST")]
    repo.delete_artifact_version("kept-b", "LATEST")
    return needed


def assert_all_readable(repo: Repository, needed: list[tuple[str, str]]) -> None:
    """Every needed version still reads back (soft-deleted ones after a restore)."""
    for name, version in needed:
        repo.restore_artifact_version(name, version)
        content = repo.get_artifact_version(name, version).get_content()
        expected = f"{name} v{'2' if version == 'LATEST' else version}".encode()
        assert content == expected


def check_gc(repo: Repository, orphans: set[str], grace: int) -> None:
    """Dry run lists exactly ``orphans`` and keeps them; the real run removes exactly them."""
    listed = repo.gc(dry_run=True, grace_seconds=grace)
    assert set(listed) == orphans
    again = repo.gc(dry_run=True, grace_seconds=grace)
    assert set(again) == orphans, "the dry run removed something"
    removed = repo.gc(dry_run=False, grace_seconds=grace)
    assert set(removed) == orphans
    assert repo.gc(dry_run=True, grace_seconds=grace) == []


def _age(path: Path) -> None:
    os.utime(path, (OLD, OLD))


def test_local_gc_removes_only_old_orphans(local_backend: LocalBackend) -> None:
    repo, root = local_backend.repo, local_backend.root
    needed = make_history(repo)
    for blob in (root / "blobs").rglob("*"):
        if blob.is_file():
            _age(blob)  # old enough to be collected, if gc wrongly thought them orphans
    # staging files are named versioned-<kind>-<32 hex>; gc leaves other names alone
    crashed_upload = root / "tmp" / f"versioned-part-{'c' * 32}"
    crashed_upload.write_bytes(b"half an upload")
    _age(crashed_upload)
    lost = b"bytes renamed into place, then the process died before the commit"
    lost_blob = root / "blobs" / sha256_hex(lost)[:2] / sha256_hex(lost)
    lost_blob.parent.mkdir(exist_ok=True)
    lost_blob.write_bytes(lost)
    _age(lost_blob)
    in_flight = root / "tmp" / f"versioned-part-{'f' * 32}"
    in_flight.write_bytes(b"an upload in progress")
    check_gc(repo, {crashed_upload.as_uri(), lost_blob.as_uri()}, GRACE)
    assert in_flight.exists() and not crashed_upload.exists() and not lost_blob.exists()
    assert_sound(raw_store_for(repo))
    assert_all_readable(repo, needed)


def test_s3_gc_removes_only_old_orphans(s3_backend: S3Backend) -> None:
    backend, repo = s3_backend, s3_backend.repo
    needed = make_history(repo)
    orphan_key = backend.key("kept-a", 7)  # a publish that died after its copy
    backend.s3.put_object(Bucket=backend.bucket, Key=orphan_key, Body=b"copied, never named")

    def placeholder(name: str, lease_until: float) -> str:
        """LATEST's object under a put's placeholder item (no sha256 yet)."""
        backend.dynamodb.put_item(
            TableName=backend.table,
            Item={
                "pk": {"S": name},
                "sk": {"S": "LATEST"},
                "is_deleted": {"BOOL": True},
                "sha256": {"S": ""},
                "update_at": {"S": format_update_at(datetime.now(timezone.utc))},
                "lease_token": {"S": "crashed"},
                "lease_until": {"N": repr(lease_until)},
            },
        )
        key = backend.key(name, None)
        backend.s3.put_object(Bucket=backend.bucket, Key=key, Body=b"first put, never committed")
        return f"s3://{backend.bucket}/{key}"

    expired = placeholder("crashed-new", time.time() - 10)
    placeholder("in-flight", time.time() + 600)
    time.sleep(1.1)  # S3 times have one-second resolution: make every object older than now
    assert repo.gc(dry_run=True, grace_seconds=GRACE) == [], "young objects must be kept"
    check_gc(repo, {f"s3://{backend.bucket}/{orphan_key}", expired}, 0)
    assert backend.blob_exists(f"s3://{backend.bucket}/{backend.key('in-flight', None)}")
    assert_sound(raw_store_for(repo))
    assert_all_readable(repo, needed)
