"""The S3 + DynamoDB layout of versioned 1.0.1 (shared/docs/storage-format.md), both ways.

Data written with raw boto3 exactly as 1.0.1 writes it must read back through our
Repository (and numbering continues after it); data our Repository writes must be laid out
key by key and attribute by attribute as 1.0.1 expects.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.helpers import (
    S3Backend,
    check_version_item,
    format_update_at,
    parse_update_at,
    raises_versioned,
    sha256_hex,
    versions_of,
)
from versioned import exc

NAME = "legacy-app"
T0 = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=timezone.utc)


def legacy_sk(version: int | None) -> str:
    return "LATEST" if version is None else str(version).zfill(6)


def write_legacy_version(
    backend: S3Backend,
    name: str,
    version: int | None,
    content: bytes,
    *,
    at: datetime = T0,
    deleted: bool = False,
) -> None:
    """An object and an item, as versioned 1.0.1 writes them."""
    sha = sha256_hex(content)
    backend.s3.put_object(
        Bucket=backend.bucket,
        Key=backend.key(name, version),
        Body=content,
        Metadata={"artifact_name": name, "artifact_sha256": sha},
    )
    backend.dynamodb.put_item(
        TableName=backend.table,
        Item={
            "pk": {"S": name},
            "sk": {"S": legacy_sk(version)},
            "update_at": {"S": format_update_at(at)},
            "is_deleted": {"BOOL": deleted},
            "sha256": {"S": sha},
        },
    )


def write_legacy_alias(
    backend: S3Backend,
    name: str,
    alias: str,
    version: int | None,
    secondary: tuple[int, int] | None = None,
    *,
    at: datetime = T0,
) -> None:
    """An alias item, as versioned 1.0.1 writes it; ``secondary`` is (version, weight)."""
    item: dict[str, Any] = {
        "pk": {"S": f"__{name}-alias"},
        "sk": {"S": alias},
        "update_at": {"S": format_update_at(at)},
        "version": {"S": legacy_sk(version)},
    }
    if secondary is not None:
        item["secondary_version"] = {"S": legacy_sk(secondary[0])}
        item["secondary_version_weight"] = {"N": str(secondary[1])}
    backend.dynamodb.put_item(TableName=backend.table, Item=item)


@pytest.fixture
def legacy(s3_backend: S3Backend) -> S3Backend:
    """A 1.0.1 repository: LATEST, versions 1-3 (3 soft-deleted), ``prod`` and ``edge``."""
    write_legacy_version(s3_backend, NAME, None, b"latest", at=T0 + timedelta(hours=4))
    for number in (1, 2, 3):
        write_legacy_version(
            s3_backend,
            NAME,
            number,
            f"v{number}".encode(),
            at=T0 + timedelta(hours=number),
            deleted=number == 3,
        )
    write_legacy_alias(s3_backend, NAME, "prod", 2, (1, 20), at=T0 + timedelta(hours=5))
    write_legacy_alias(s3_backend, NAME, "edge", None, at=T0 + timedelta(hours=6))
    return s3_backend


def test_reads_legacy_versions(legacy: S3Backend) -> None:
    repo = legacy.repo
    artifacts = repo.list_artifact_versions(NAME)
    assert [a.version for a in artifacts] == ["LATEST", "2", "1"]
    expected_at = {
        "LATEST": T0 + timedelta(hours=4),
        "2": T0 + timedelta(hours=2),
        "1": T0 + timedelta(hours=1),
    }
    for artifact in artifacts:
        assert artifact.update_at == expected_at[artifact.version]
        content = b"latest" if artifact.version == "LATEST" else f"v{artifact.version}".encode()
        assert artifact.sha256 == sha256_hex(content)
        assert artifact.get_content() == content
        sk = legacy_sk(None if artifact.version == "LATEST" else int(artifact.version))
        assert artifact.uri == f"s3://{legacy.bucket}/{legacy.prefix}/{NAME}/{sk}"
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.get_artifact_version(NAME, 3)
    assert repo.list_artifact_names() == [NAME]


def test_reads_legacy_aliases(legacy: S3Backend) -> None:
    repo = legacy.repo
    prod = repo.get_alias(NAME, "prod")
    assert (prod.version, prod.secondary_version, prod.secondary_version_weight) == ("2", "1", 20)
    assert prod.update_at == T0 + timedelta(hours=5)
    assert prod.get_version_content() == b"v2"
    assert prod.get_secondary_version_content() == b"v1"
    edge = repo.get_alias(NAME, "edge")
    assert (edge.version, edge.secondary_version, edge.secondary_version_weight) == (
        "LATEST",
        None,
        None,
    )
    assert edge.get_version_content() == b"latest"
    assert [a.alias for a in repo.list_aliases(NAME)] == ["edge", "prod"]


def test_continues_legacy_numbering(legacy: S3Backend) -> None:
    repo = legacy.repo
    published = repo.publish_artifact_version(NAME)
    assert published.version == "4"  # 3 is soft-deleted, but taken
    assert published.get_content() == b"latest"
    assert repo.restore_artifact_version(NAME, 3).get_content() == b"v3"
    assert versions_of(repo, NAME) == ["LATEST", "4", "3", "2", "1"]


def test_legacy_aliases_block_deletes(legacy: S3Backend) -> None:
    before = legacy.state()
    with raises_versioned(exc.VersionInUseError) as info:
        legacy.repo.delete_artifact_version(NAME, 1)
    assert info.value.aliases == ["prod"]
    with raises_versioned(exc.VersionInUseError):
        legacy.repo.delete_artifact_version(NAME)
    assert legacy.state() == before


def test_legacy_artifact_overwritten_and_deleted(legacy: S3Backend) -> None:
    repo = legacy.repo
    repo.put_artifact(NAME, b"new latest")
    assert repo.get_artifact_version(NAME).get_content() == b"new latest"
    repo.put_alias(NAME, "prod", version=2)
    repo.delete_artifact_version(NAME, 1)
    assert versions_of(repo, NAME) == ["LATEST", "2"]


def test_version_order_past_six_digits(s3_backend: S3Backend) -> None:
    write_legacy_version(s3_backend, NAME, None, b"latest")
    numbers = [999998, 999999, 1000000, 1000001]
    for number in numbers:
        write_legacy_version(s3_backend, NAME, number, str(number).encode())
    repo = s3_backend.repo
    assert versions_of(repo, NAME) == ["LATEST", "1000001", "1000000", "999999", "999998"]
    assert repo.get_artifact_version(NAME, 1000001).get_content() == b"1000001"
    assert repo.get_artifact_version(NAME, "0999999").get_content() == b"999999"
    published = repo.publish_artifact_version(NAME)
    assert published.version == "1000002"
    assert published.uri == f"s3://{s3_backend.bucket}/{s3_backend.prefix}/{NAME}/1000002"
    keys = set(s3_backend.objects(f"{s3_backend.prefix}/{NAME}/"))
    assert f"{s3_backend.prefix}/{NAME}/1000001" in keys
    assert f"{s3_backend.prefix}/{NAME}/1000002" in keys
    assert {item["sk"]["S"] for item in s3_backend.partition(NAME)} == {
        "LATEST",
        "999998",
        "999999",
        "1000000",
        "1000001",
        "1000002",
    }
    assert versions_of(repo, NAME)[:2] == ["LATEST", "1000002"]


def test_writes_legacy_layout(s3_backend: S3Backend) -> None:
    backend, repo, name = s3_backend, s3_backend.repo, "my-app"
    contents = {1: b"one", 2: b"two", 3: b"three"}
    for content in contents.values():
        repo.put_artifact(
            name, content, content_type="application/zip", metadata={"build_id": "b42"}
        )
        repo.publish_artifact_version(name)
    latest = repo.put_artifact(name, b"latest", content_type="text/plain")
    repo.put_alias(name, "prod", version=1, secondary_version=2, secondary_version_weight=25)
    repo.put_alias(name, "edge")
    repo.delete_artifact_version(name, 3)

    # version items: nothing in the partition but LATEST and numbered versions
    items = {item["sk"]["S"]: item for item in backend.partition(name)}
    assert set(items) == {"LATEST", "000001", "000002", "000003"}
    expected_sha = {legacy_sk(n): sha256_hex(c) for n, c in contents.items()}
    expected_sha["LATEST"] = sha256_hex(b"latest")
    for sk, item in items.items():
        assert check_version_item(item, name, deleted=sk == "000003") == expected_sha[sk]
    assert parse_update_at(items["LATEST"]["update_at"]["S"]) == latest.update_at
    published_at = repo.get_artifact_version(name, 2).update_at
    assert parse_update_at(items["000002"]["update_at"]["S"]) == published_at

    # objects: one per version, soft-deleted ones included, with 1.0.1's metadata
    for sk, sha in expected_sha.items():
        key = f"{backend.prefix}/{name}/{sk}"
        obj = backend.s3.get_object(Bucket=backend.bucket, Key=key)
        assert sha256_hex(obj["Body"].read()) == sha
        assert obj["Metadata"]["artifact_name"] == name
        assert obj["Metadata"]["artifact_sha256"] == sha
        if sk != "LATEST":  # publishing copies content type and metadata
            assert obj["ContentType"] == "application/zip"
            assert obj["Metadata"]["build_id"] == "b42"
    listed = backend.s3.list_objects_v2(
        Bucket=backend.bucket, Prefix=f"{backend.prefix}/", Delimiter="/"
    )
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == [f"{backend.prefix}/{name}/"]

    # alias items
    aliases = {item["sk"]["S"]: item for item in backend.partition(f"__{name}-alias")}
    assert set(aliases) == {"prod", "edge"}
    prod, edge = aliases["prod"], aliases["edge"]
    assert prod["version"] == {"S": "000001"}
    assert prod["secondary_version"] == {"S": "000002"}
    assert prod["secondary_version_weight"] == {"N": "25"}
    assert edge["version"] == {"S": "LATEST"}
    assert "secondary_version" not in edge or edge["secondary_version"] == {"NULL": True}
    assert "secondary_version_weight" not in edge or edge["secondary_version_weight"] == {
        "NULL": True
    }
    for alias in (prod, edge):
        assert set(alias["update_at"]) == {"S"}
        parse_update_at(alias["update_at"]["S"])

    # nothing anywhere else in the table but the aliases' history, in a partition 1.0.1
    # never reads (storage-format.md, "Alias history")
    assert {item["pk"]["S"] for item in backend.items()} == {
        name, f"__{name}-alias", f"__{name}-alias#history",
    }  # fmt: skip


def test_writes_unpadded_beyond_six_digits(s3_backend: S3Backend) -> None:
    write_legacy_version(s3_backend, NAME, None, b"latest")
    write_legacy_version(s3_backend, NAME, 999999, b"old")
    repo = s3_backend.repo
    assert repo.publish_artifact_version(NAME).version == "1000000"
    repo.put_alias(
        NAME, "prod", version=1000000, secondary_version=999999, secondary_version_weight=5
    )
    alias = s3_backend.partition(f"__{NAME}-alias")[0]
    assert alias["version"] == {"S": "1000000"}
    assert alias["secondary_version"] == {"S": "999999"}
    item = next(i for i in s3_backend.partition(NAME) if i["sk"]["S"] == "1000000")
    check_version_item(item, NAME, deleted=False)
