"""Shared test helpers: a uniform view of both backends' raw storage, and small utilities.

A :class:`Backend` wraps a repository under test together with raw access to what it stored
(the files and the SQLite database for the local backend; the bucket and the table, through
plain boto3 clients, for S3 + DynamoDB), so that contract tests can check behind the library's
back without knowing which backend they run on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from tests.invariants import query_partition
from versioned import exc
from versioned.stores.s3.probe import STORE_PK

#: The repositories under test have no common static type yet; both follow docs/api.md.
Repository = Any

BACKENDS = ["local", "s3"]
#: What serves S3 and DynamoDB in this session: "real" (SeaweedFS and DynamoDB Local, the
#: default) or "moto" (``VERSIONED_TEST_STACK=moto``).
STACK = os.environ.get("VERSIONED_TEST_STACK", "real")
REGION = "us-east-1"
DEFAULT_PREFIX = "versioned-artifacts"
#: storage-format.md: the time format of ``update_at`` attributes.
UPDATE_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+0000"
_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Engines:
    """The endpoint URL serving each AWS service in this session."""

    s3: str
    dynamodb: str
    sts: str

    def upstreams(self) -> dict[str, str]:
        """Service name -> endpoint, for a proxy that routes by service."""
        return {"s3": self.s3, "dynamodb": self.dynamodb, "sts": self.sts}


def endpoint_variables(url: str) -> dict[str, str]:
    """The variables that send every S3, DynamoDB and STS request to ``url``."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_ENDPOINT_URL_DYNAMODB": url,
    }


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unique(prefix: str) -> str:
    """A name no other test (or xdist worker) uses: lowercase, valid as bucket and table."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    parsed = urlparse(uri)
    assert parsed.scheme == "s3", uri
    return parsed.netloc, parsed.path.lstrip("/")


def file_uri_to_path(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(unquote(parsed.path))


@contextlib.contextmanager
def raises_versioned(expected: type[BaseException]) -> Iterator[pytest.ExceptionInfo[Any]]:
    """``pytest.raises(expected)`` that also checks the error is a ``VersionedError``."""
    with pytest.raises(expected) as info:
        yield info
    assert isinstance(info.value, exc.VersionedError), (
        f"{type(info.value).__name__} is not a versioned.exc.VersionedError"
    )


def assert_aware_utc(moment: datetime) -> None:
    assert moment.tzinfo is not None, f"{moment!r} is naive"
    assert moment.utcoffset() == timedelta(0), f"{moment!r} is not UTC"


def assert_recent(moment: datetime, within_seconds: float = 120) -> None:
    assert_aware_utc(moment)
    age = (datetime.now(timezone.utc) - moment).total_seconds()
    assert -within_seconds < age < within_seconds, f"{moment!r} is not close to now"


def versions_of(repo: Repository, name: str) -> list[str]:
    """The public version strings ``list_artifact_versions`` returns, in its order."""
    return [artifact.version for artifact in repo.list_artifact_versions(name)]


def logical_state(repo: Repository) -> object:
    """Everything the public API shows about a repository, as a comparable value."""
    state: dict[str, object] = {}
    for name in repo.list_artifact_names():
        versions = [
            (a.name, a.version, a.sha256, a.uri, a.update_at)
            for a in repo.list_artifact_versions(name)
        ]
        aliases = [
            (a.alias, a.version, a.secondary_version, a.secondary_version_weight, a.update_at)
            for a in repo.list_aliases(name)
        ]
        state[name] = (versions, aliases)
    return state


class Backend:
    """A repository under test plus raw access to what it stored."""

    kind: str
    repo: Repository
    #: what ``versioned.open_repository`` takes to open this same repository
    uri: str

    def new_repository(self) -> Repository:
        """A separate ``Repository`` object over the same storage."""
        raise NotImplementedError

    def stored_bytes(self, artifact: Any) -> bytes:
        """The bytes stored for ``artifact``, read without the library."""
        raise NotImplementedError

    def overwrite_stored(self, artifact: Any, data: bytes) -> None:
        """Replace the stored bytes of ``artifact`` behind the library's back."""
        raise NotImplementedError

    def raw_state(self) -> object:
        """Everything stored (bytes and metadata), as a comparable value."""
        raise NotImplementedError

    def plant_witness(self, artifact: Any) -> None:
        """Prepare :meth:`witness` to notice any later rewrite of the stored bytes."""

    def witness(self, artifact: Any) -> Hashable:
        """A value that changes whenever the bytes of ``artifact`` are written again."""
        raise NotImplementedError

    def blob_exists(self, uri: str) -> bool:
        raise NotImplementedError

    def state(self) -> object:
        return (logical_state(self.repo), self.raw_state())


@dataclass
class LocalBackend(Backend):
    root: Path
    suffix: str = ""
    kind: str = "local"
    repo: Repository = field(init=False)
    uri: str = field(init=False)

    def __post_init__(self) -> None:
        self.repo = self.new_repository()
        self.uri = self.root.as_uri()

    def new_repository(self) -> Repository:
        from versioned.local_backend import Repository as LocalRepository

        return LocalRepository(self.root, suffix=self.suffix)

    def stored_bytes(self, artifact: Any) -> bytes:
        return file_uri_to_path(artifact.uri).read_bytes()

    def overwrite_stored(self, artifact: Any, data: bytes) -> None:
        path = file_uri_to_path(artifact.uri)
        os.chmod(path, 0o644)  # published blobs may be read-only
        with path.open("wb") as out:  # in place: the same inode, as a careless editor would
            out.write(data)

    def witness(self, artifact: Any) -> Hashable:
        stat = file_uri_to_path(artifact.uri).stat()
        return (artifact.uri, stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def blob_exists(self, uri: str) -> bool:
        return file_uri_to_path(uri).exists()

    def raw_state(self) -> object:
        if not self.root.exists():
            return None
        files: dict[str, object] = {}
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or _is_sqlite_companion(path):
                continue
            relative = str(path.relative_to(self.root))
            if path.read_bytes()[:16] == _SQLITE_HEADER:
                files[relative] = _sqlite_dump(path)
            else:
                files[relative] = sha256_hex(path.read_bytes())
        return files


def _is_sqlite_companion(path: Path) -> bool:
    return path.name.endswith(("-wal", "-shm", "-journal"))


def _sqlite_dump(path: Path) -> list[tuple[str, list[tuple[Any, ...]]]]:
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return [
            (table, sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr))
            for table in tables
        ]
    finally:
        connection.close()


@dataclass
class S3Backend(Backend):
    s3: Any
    dynamodb: Any
    bucket: str
    table: str
    prefix: str = DEFAULT_PREFIX
    suffix: str = ""
    kind: str = "s3"
    repo: Repository = field(init=False)
    uri: str = field(init=False)

    def __post_init__(self) -> None:
        self.repo = self.new_repository()
        self.repo.bootstrap()
        self.uri = f"s3://{self.bucket}/{self.prefix}?table={self.table}&region={REGION}"
        if self.suffix:
            self.uri += f"&suffix={self.suffix}"

    def new_repository(self) -> Repository:
        from versioned.s3_and_dynamodb_backend import Repository as S3Repository

        return S3Repository(
            aws_region=REGION,
            s3_bucket=self.bucket,
            s3_prefix=self.prefix,
            dynamodb_table_name=self.table,
            suffix=self.suffix,
        )

    def key(self, name: str, version: str | int | None) -> str:
        """storage-format.md: the object key of a version."""
        sk = "LATEST" if version in (None, "LATEST") else str(int(version)).zfill(6)
        return f"{self.prefix}/{name}/{sk}{self.suffix}"

    def stored_bytes(self, artifact: Any) -> bytes:
        bucket, key = parse_s3_uri(artifact.uri)
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def overwrite_stored(self, artifact: Any, data: bytes) -> None:
        bucket, key = parse_s3_uri(artifact.uri)
        head = self.s3.head_object(Bucket=bucket, Key=key)
        self.s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata=head["Metadata"])

    def plant_witness(self, artifact: Any) -> None:
        bucket, key = parse_s3_uri(artifact.uri)
        head = self.s3.head_object(Bucket=bucket, Key=key)
        self.s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            Metadata={**head["Metadata"], "test-witness": uuid.uuid4().hex},
            MetadataDirective="REPLACE",
            ContentType=head.get("ContentType", "binary/octet-stream"),
        )

    def witness(self, artifact: Any) -> Hashable:
        bucket, key = parse_s3_uri(artifact.uri)
        head = self.s3.head_object(Bucket=bucket, Key=key)
        return (artifact.uri, head["ETag"], head["Metadata"].get("test-witness"))

    def blob_exists(self, uri: str) -> bool:
        bucket, key = parse_s3_uri(uri)
        return bool(self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0))

    def objects(self, prefix: str = "") -> dict[str, str]:
        """Every object key under ``prefix`` with its ETag."""
        found: dict[str, str] = {}
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                found[entry["Key"]] = entry["ETag"]
        return found

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table about artifacts, in raw DynamoDB JSON (the record of what
        the store enforces, partition ``__versioned#store``, belongs to none)."""
        found: list[dict[str, Any]] = []
        paginator = self.dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table, ConsistentRead=True):
            found.extend(i for i in page["Items"] if i["pk"]["S"] != STORE_PK)
        return found

    def partition(self, pk: str) -> list[dict[str, Any]]:
        """Every item with this partition key, in raw DynamoDB JSON."""
        return query_partition(self.dynamodb, self.table, pk)

    def raw_state(self) -> object:
        items = sorted(json.dumps(item, sort_keys=True) for item in self.items())
        return (self.objects(), items)


def new_backend(request: pytest.FixtureRequest, kind: str) -> Backend:
    """A fresh, empty repository of ``kind``, usable from fixtures of any scope."""
    if kind == "local":
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        return LocalBackend(factory.mktemp("local") / "repo")
    backend: S3Backend = request.getfixturevalue("make_s3_backend")()
    return backend


VERSION_SK_RE = re.compile(r"LATEST|[0-9]{6,}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")


def check_version_item(item: dict[str, Any], name: str, deleted: bool | None = None) -> str:
    """Check one DynamoDB version item against storage-format.md; return its sha256.

    ``deleted=None`` accepts either value of ``is_deleted`` (it must still be a BOOL).
    """
    assert item["pk"] == {"S": name}
    assert VERSION_SK_RE.fullmatch(item["sk"]["S"]), item
    assert set(item["update_at"]) == {"S"}, item
    assert parse_update_at(item["update_at"]["S"]).year >= 2025
    assert set(item["is_deleted"]) == {"BOOL"}, item
    if deleted is not None:
        assert item["is_deleted"] == {"BOOL": deleted}, item
    assert set(item["sha256"]) == {"S"}, item
    sha: str = item["sha256"]["S"]
    assert SHA256_RE.fullmatch(sha), item
    return sha


def format_update_at(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(UPDATE_AT_FORMAT)


def parse_update_at(text: str) -> datetime:
    return datetime.strptime(text, UPDATE_AT_FORMAT).replace(tzinfo=timezone.utc)
