"""Streaming puts and downloads, multipart uploads and copies, the lease heartbeat, and
byte-free publishes on the local backend."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REGION, S3Backend, file_uri_to_path, parse_s3_uri
from tests.requests.test_request_counts import Counter
from versioned import exc
from versioned.stores.base import BLOCK_SIZE

#: Three parts on S3 (the last one short).
SIZE = 2 * BLOCK_SIZE + 12345


def _content(size: int = SIZE) -> bytes:
    seed = hashlib.sha256(b"versioned").digest() * 32
    return (seed * (size // len(seed) + 1))[:size]


class _Pipe(io.RawIOBase):
    """A readable, non-seekable binary stream, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        taken = min(len(buffer), len(self._data), 100_000)
        buffer[:taken] = self._data[:taken]
        self._data = self._data[taken:]
        return taken


def test_put_from_path_file_and_stream_then_download(repo: Any, tmp_path: Path) -> None:
    data = _content()
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert repo.put_artifact("big", source).sha256 == expected
    with source.open("rb") as handle:
        assert repo.put_artifact("big", handle).sha256 == expected
    assert repo.put_artifact("other", _Pipe(data)).sha256 == expected
    published = repo.publish_artifact_version("other")
    out = tmp_path / "out.bin"
    published.download(out)
    assert out.read_bytes() == data
    repo.put_alias("other", "prod", published.version)
    repo.get_alias("other", "prod").download_version(tmp_path / "alias.bin")
    assert (tmp_path / "alias.bin").read_bytes() == data
    with pytest.raises(TypeError):
        repo.put_artifact("big", str(source))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".versioned-")]


def test_multipart_upload_carries_metadata_and_dedups(s3_backend: S3Backend) -> None:
    repo = s3_backend.repo
    data = _content()
    counter = Counter(repo)
    sent = counter.during(lambda: repo.put_artifact("big", data, metadata={"k": "v"}))
    assert sent.count("UploadPart") == 3 and "PutObject" not in sent, sent
    head = s3_backend.s3.head_object(Bucket=s3_backend.bucket, Key=s3_backend.key("big", None))
    assert head["ETag"].strip('"').endswith("-3")
    assert head["Metadata"]["artifact_sha256"] == hashlib.sha256(data).hexdigest()
    assert head["Metadata"]["k"] == "v"
    item = s3_backend.dynamodb.get_item(
        TableName=s3_backend.table,
        Key={"pk": {"S": "big"}, "sk": {"S": "LATEST"}},
        ConsistentRead=True,
    )["Item"]
    # the commit removes the upload id the put recorded under its lease, with the lease
    assert not {"upload_id", "lease_token", "lease_until"} & set(item), item
    # identical content uploads nothing, however large: one conditional update when this
    # object saw LATEST name it (its own put), else the lease, a HEAD and the commit
    assert counter.during(lambda: repo.put_artifact("big", data)) == ["UpdateItem"]
    # (a fresh repository object first reads what the store enforces: one GetItem)
    fresh = s3_backend.new_repository()
    assert Counter(fresh).during(lambda: fresh.put_artifact("big", data)) == [
        "GetItem", "UpdateItem", "HeadObject", "UpdateItem",
    ]  # fmt: skip


def test_ranged_download_verifies(s3_backend: S3Backend, tmp_path: Path) -> None:
    repo = s3_backend.repo
    data = _content()
    artifact = repo.put_artifact("big", data)
    counter = Counter(repo)
    sent = counter.during(lambda: artifact.download(tmp_path / "out.bin"))
    assert sent.count("GetObject") == 3, sent
    assert (tmp_path / "out.bin").read_bytes() == data
    s3_backend.overwrite_stored(artifact, data[:-1] + b"!")
    with pytest.raises(exc.IntegrityError):
        artifact.download(tmp_path / "bad.bin")
    assert not (tmp_path / "bad.bin").exists()


def test_put_renews_its_lease_during_a_long_upload(s3_backend: S3Backend) -> None:
    from versioned.s3_and_dynamodb_backend import Repository as S3Repository

    repo = S3Repository(
        REGION, s3_backend.bucket, dynamodb_table_name=s3_backend.table, lease_seconds=1.5
    )
    held: list[bool] = []

    def slow_upload(**_: Any) -> None:
        time.sleep(3.5)  # the upload outlasts the lease twice over
        item = s3_backend.dynamodb.get_item(
            TableName=s3_backend.table,
            Key={"pk": {"S": "slow"}, "sk": {"S": "LATEST"}},
            ConsistentRead=True,
        )["Item"]
        held.append(float(item["lease_until"]["N"]) > time.time())

    repo._clients.s3.meta.events.register("before-send.s3.PutObject", slow_upload)
    rival: list[BaseException] = []

    def rival_put() -> None:
        time.sleep(2.0)  # after the first lease would have run out unrenewed
        try:
            s3_backend.new_repository().put_artifact("slow", b"rival")
        except BaseException as error:
            rival.append(error)

    thread = threading.Thread(target=rival_put)
    thread.start()
    repo.put_artifact("slow", b"first")
    thread.join()
    assert held == [True]
    assert not rival
    # the rival waited for the lease, so it wrote last
    assert repo.get_artifact_version("slow").get_content() == b"rival"


def test_publish_over_the_copy_threshold_copies_in_parts(s3_backend: S3Backend) -> None:
    from versioned.s3_and_dynamodb_backend import Repository as S3Repository

    repo = S3Repository(
        REGION, s3_backend.bucket, dynamodb_table_name=s3_backend.table, copy_threshold=SIZE - 1
    )
    data = _content()
    repo.put_artifact("big", data)
    counter = Counter(repo)
    sent = counter.during(lambda: repo.publish_artifact_version("big"))
    assert sent == [
        "UpdateItem", "PutItem", "HeadObject", "HeadObject", "CreateMultipartUpload",
        "UploadPartCopy", "UploadPartCopy", "UploadPartCopy",
        "CompleteMultipartUpload", "HeadObject", "UpdateItem",
    ], sent  # fmt: skip
    published = repo.get_artifact_version("big", 1)
    assert published.sha256 == hashlib.sha256(data).hexdigest()
    assert published.get_content() == data
    bucket, key = parse_s3_uri(published.uri)
    head = s3_backend.s3.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-3")
    assert head["Metadata"]["artifact_sha256"] == published.sha256
    # at the threshold, one CopyObject
    repo.put_artifact("small", data[: SIZE - 1])
    assert "CopyObject" in counter.during(lambda: repo.publish_artifact_version("small"))


def test_local_publish_writes_no_bytes(tmp_path: Path) -> None:
    from versioned.local_backend import Repository as LocalRepository

    repo = LocalRepository(tmp_path / "repo")
    source = tmp_path / "source.bin"
    source.write_bytes(_content())
    latest = repo.put_artifact("big", source)
    files_before = sorted(p for p in (tmp_path / "repo").rglob("*") if p.is_file())
    published = repo.publish_artifact_version("big")
    files_after = sorted(p for p in (tmp_path / "repo").rglob("*") if p.is_file())
    blob = file_uri_to_path(published.uri)
    assert blob.stat().st_ino == file_uri_to_path(latest.uri).stat().st_ino
    blobs = [p for p in files_after if "blobs" in p.parts]
    assert blobs == [blob] and blob.stat().st_nlink == 1
    assert [p for p in files_after if not p.name.startswith("versioned.sqlite3")] == [
        p for p in files_before if not p.name.startswith("versioned.sqlite3")
    ]
    assert not os.listdir(tmp_path / "repo" / "tmp")  # the staged copy became the blob
