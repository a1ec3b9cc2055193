"""put / get / list / publish / delete / restore / names, on both backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import (
    Backend,
    Repository,
    assert_aware_utc,
    assert_recent,
    raises_versioned,
    sha256_hex,
    versions_of,
)
from versioned import exc

NAME = "my-app"


def publish_contents(repo: Repository, name: str, contents: list[bytes]) -> list[str]:
    """Put and publish each content in turn; return the published version strings."""
    published = []
    for content in contents:
        repo.put_artifact(name, content)
        published.append(repo.publish_artifact_version(name).version)
    return published


def test_put_artifact_returns_latest(repo: Repository) -> None:
    content = b"hello \x00 world"
    artifact = repo.put_artifact(NAME, content)
    assert artifact.name == NAME
    assert artifact.version == "LATEST"
    assert artifact.sha256 == sha256_hex(content)
    assert_recent(artifact.update_at)
    assert artifact.get_content() == content


def test_put_artifact_accepts_bytes_like(repo: Repository) -> None:
    repo.put_artifact(NAME, bytearray(b"from a bytearray"))
    assert repo.get_artifact_version(NAME).get_content() == b"from a bytearray"
    repo.put_artifact(NAME, memoryview(b"from a memoryview"))
    assert repo.get_artifact_version(NAME).get_content() == b"from a memoryview"


def test_put_empty_content(repo: Repository) -> None:
    artifact = repo.put_artifact(NAME, b"")
    assert artifact.sha256 == sha256_hex(b"")
    assert repo.publish_artifact_version(NAME).get_content() == b""


def test_put_overwrites_latest(repo: Repository) -> None:
    repo.put_artifact(NAME, b"one")
    repo.put_artifact(NAME, b"two")
    latest = repo.get_artifact_version(NAME)
    assert latest.get_content() == b"two"
    assert latest.sha256 == sha256_hex(b"two")
    assert versions_of(repo, NAME) == ["LATEST"]


def test_get_artifact_version_forms(repo: Repository) -> None:
    publish_contents(repo, NAME, [b"v1", b"v2", b"v3", b"v4", b"v5"])
    repo.put_artifact(NAME, b"latest")
    for version in (5, "5", "000005", "0005"):
        artifact = repo.get_artifact_version(NAME, version)
        assert artifact.version == "5"
        assert artifact.get_content() == b"v5"
    for latest in (None, "LATEST"):
        assert repo.get_artifact_version(NAME, latest).get_content() == b"latest"
    assert repo.get_artifact_version(NAME).version == "LATEST"


def test_artifact_fields_match_between_calls(repo: Repository) -> None:
    repo.put_artifact(NAME, b"abc")
    published = repo.publish_artifact_version(NAME)
    fetched = repo.get_artifact_version(NAME, 1)
    assert (fetched.name, fetched.version, fetched.sha256, fetched.uri) == (
        published.name,
        published.version,
        published.sha256,
        published.uri,
    )
    assert fetched.update_at == published.update_at
    assert_aware_utc(fetched.update_at)


@pytest.mark.parametrize("method", ["get_artifact_version", "restore_artifact_version"])
def test_missing_artifact_or_version(repo: Repository, method: str) -> None:
    with raises_versioned(exc.ArtifactNotFoundError) as info:
        getattr(repo, method)("never-was")
    assert info.value.name == "never-was"
    repo.put_artifact(NAME, b"x")
    with raises_versioned(exc.ArtifactNotFoundError):
        getattr(repo, method)(NAME, 7)
    assert versions_of(repo, NAME) == ["LATEST"]


def test_publish_numbers_from_one(repo: Repository) -> None:
    repo.put_artifact(NAME, b"content")
    numbers = [repo.publish_artifact_version(NAME).version for _ in range(3)]
    assert numbers == ["1", "2", "3"]
    for number in numbers:
        artifact = repo.get_artifact_version(NAME, number)
        assert artifact.get_content() == b"content"
        assert artifact.sha256 == sha256_hex(b"content")


def test_published_version_is_frozen(repo: Repository) -> None:
    repo.put_artifact(NAME, b"first")
    first = repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, b"second")
    assert repo.get_artifact_version(NAME, 1).get_content() == b"first"
    assert repo.get_artifact_version(NAME, 1).sha256 == first.sha256
    assert repo.get_artifact_version(NAME).get_content() == b"second"


def test_publish_without_latest(repo: Repository) -> None:
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.publish_artifact_version(NAME)
    assert repo.list_artifact_names() == []


def test_publish_with_deleted_latest(repo: Repository) -> None:
    repo.put_artifact(NAME, b"x")
    repo.publish_artifact_version(NAME)
    repo.delete_artifact_version(NAME)
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.publish_artifact_version(NAME)
    assert versions_of(repo, NAME) == ["1"]


def test_list_order_latest_then_newest_first(repo: Repository) -> None:
    publish_contents(repo, NAME, [f"v{i}".encode() for i in range(1, 13)])
    expected = ["LATEST"] + [str(n) for n in range(12, 0, -1)]
    assert versions_of(repo, NAME) == expected
    for artifact in repo.list_artifact_versions(NAME):
        assert artifact.name == NAME
        assert_aware_utc(artifact.update_at)


def test_list_unknown_artifact_is_empty(repo: Repository) -> None:
    assert repo.list_artifact_versions("unknown") == []


def test_soft_deleted_versions_are_hidden(repo: Repository) -> None:
    publish_contents(repo, NAME, [b"1", b"2", b"3"])
    repo.delete_artifact_version(NAME, 2)
    assert versions_of(repo, NAME) == ["LATEST", "3", "1"]
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.get_artifact_version(NAME, 2)
    repo.delete_artifact_version(NAME)
    assert versions_of(repo, NAME) == ["3", "1"]
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.get_artifact_version(NAME)


def test_delete_twice_is_a_no_op(repo: Repository) -> None:
    publish_contents(repo, NAME, [b"1"])
    repo.delete_artifact_version(NAME, 1)
    repo.delete_artifact_version(NAME, "000001")
    assert versions_of(repo, NAME) == ["LATEST"]


def test_restore_undoes_soft_delete(repo: Repository) -> None:
    publish_contents(repo, NAME, [b"1", b"2"])
    repo.delete_artifact_version(NAME, 1)
    repo.delete_artifact_version(NAME)
    restored = repo.restore_artifact_version(NAME, "000001")
    assert restored.version == "1"
    assert restored.get_content() == b"1"
    assert versions_of(repo, NAME) == ["2", "1"]
    latest = repo.restore_artifact_version(NAME)
    assert latest.version == "LATEST"
    assert latest.get_content() == b"2"
    assert versions_of(repo, NAME) == ["LATEST", "2", "1"]


def test_publish_continues_after_deleted_versions(repo: Repository) -> None:
    publish_contents(repo, NAME, [b"1", b"2", b"3"])
    repo.delete_artifact_version(NAME, 3)
    assert repo.publish_artifact_version(NAME).version == "4"


def test_list_artifact_names_sorted(repo: Repository) -> None:
    assert repo.list_artifact_names() == []
    for name in ["zeta", "Alpha", "beta.v2", "a_b", "m-1"]:
        repo.put_artifact(name, name.encode())
    assert repo.list_artifact_names() == sorted(["zeta", "Alpha", "beta.v2", "a_b", "m-1"])


def test_names_are_case_sensitive(repo: Repository) -> None:
    repo.put_artifact("App", b"upper")
    repo.put_artifact("app", b"lower")
    assert repo.get_artifact_version("App").get_content() == b"upper"
    assert repo.get_artifact_version("app").get_content() == b"lower"


def test_artifacts_are_independent(repo: Repository) -> None:
    publish_contents(repo, "one", [b"a", b"b"])
    publish_contents(repo, "two", [b"c"])
    assert versions_of(repo, "one") == ["LATEST", "2", "1"]
    assert versions_of(repo, "two") == ["LATEST", "1"]
    assert repo.get_artifact_version("two", 1).get_content() == b"c"


@pytest.mark.parametrize(
    ("second_content", "rewritten"),
    [(b"same bytes", False), (b"other bytes, and longer", True)],
    ids=["identical", "changed"],
)
def test_dedup_identical_content(backend: Backend, second_content: bytes, rewritten: bool) -> None:
    repo = backend.repo
    first = repo.put_artifact(NAME, b"same bytes")
    backend.plant_witness(first)
    before = backend.witness(first)
    second = repo.put_artifact(NAME, second_content)
    assert second.sha256 == sha256_hex(second_content)
    assert second.update_at >= first.update_at
    if rewritten:
        assert backend.witness(second) != before
    else:
        assert second.uri == first.uri
        assert backend.witness(second) == before, "identical content was written again"
    assert backend.stored_bytes(second) == second_content
    assert repo.get_artifact_version(NAME).get_content() == second_content


def test_identical_content_revives_deleted_latest(repo: Repository) -> None:
    repo.put_artifact(NAME, b"phoenix")
    repo.delete_artifact_version(NAME)
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.get_artifact_version(NAME)
    revived = repo.put_artifact(NAME, b"phoenix")
    assert revived.version == "LATEST"
    assert repo.get_artifact_version(NAME).get_content() == b"phoenix"
    assert versions_of(repo, NAME) == ["LATEST"]


def test_new_content_revives_deleted_latest(repo: Repository) -> None:
    repo.put_artifact(NAME, b"old")
    repo.delete_artifact_version(NAME)
    repo.put_artifact(NAME, b"new")
    assert repo.get_artifact_version(NAME).get_content() == b"new"


def test_stored_bytes_match_sha(backend: Backend) -> None:
    repo = backend.repo
    repo.put_artifact(NAME, b"payload")
    published = repo.publish_artifact_version(NAME)
    for artifact in (repo.get_artifact_version(NAME), published):
        assert sha256_hex(backend.stored_bytes(artifact)) == artifact.sha256


def test_uri_scheme(backend: Backend) -> None:
    artifact = backend.repo.put_artifact(NAME, b"x")
    expected = "file://" if backend.kind == "local" else "s3://"
    assert artifact.uri.startswith(expected)
    assert backend.blob_exists(artifact.uri)


def test_download(repo: Repository, tmp_path: Path) -> None:
    content = bytes(range(256)) * 1000
    repo.put_artifact(NAME, content)
    published = repo.publish_artifact_version(NAME)
    target = tmp_path / "out.bin"
    published.download(target)
    assert target.read_bytes() == content
    as_str = tmp_path / "out2.bin"
    repo.get_artifact_version(NAME).download(str(as_str))
    assert as_str.read_bytes() == content


def test_large_content_roundtrip(repo: Repository) -> None:
    content = bytes(range(256)) * (12 * 4096)  # 12 MiB: past any single-part threshold
    repo.put_artifact(NAME, content)
    published = repo.publish_artifact_version(NAME)
    assert published.sha256 == sha256_hex(content)
    assert published.get_content() == content


@pytest.mark.parametrize("version", [None, 1])
def test_get_content_detects_tampering(backend: Backend, version: int | None) -> None:
    repo = backend.repo
    repo.put_artifact(NAME, b"genuine")
    repo.publish_artifact_version(NAME)
    artifact = repo.get_artifact_version(NAME, version)
    backend.overwrite_stored(artifact, b"forged!")
    with raises_versioned(exc.IntegrityError) as info:
        artifact.get_content()
    error = info.value
    assert error.name == NAME
    assert error.version == artifact.version
    assert error.expected == sha256_hex(b"genuine")
    assert error.actual == sha256_hex(b"forged!")
    assert NAME in str(error)


def test_download_detects_tampering(backend: Backend, tmp_path: Path) -> None:
    repo = backend.repo
    repo.put_artifact(NAME, b"genuine")
    artifact = repo.publish_artifact_version(NAME)
    backend.overwrite_stored(artifact, b"forged!")
    target = tmp_path / "out.bin"
    with raises_versioned(exc.IntegrityError) as info:
        artifact.download(target)
    assert (info.value.name, info.value.version) == (NAME, "1")
    assert not target.exists(), "an unverified download was left in place"


def test_refetched_artifact_detects_tampering(backend: Backend) -> None:
    repo = backend.repo
    repo.put_artifact(NAME, b"genuine")
    artifact = repo.publish_artifact_version(NAME)
    backend.overwrite_stored(artifact, b"forged, and a different length")
    with raises_versioned(exc.IntegrityError):
        repo.get_artifact_version(NAME, 1).get_content()


def test_local_root_that_is_a_file(tmp_path: Path) -> None:
    from versioned.local_backend import Repository as LocalRepository

    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"in the way")
    with raises_versioned(exc.VersionedError):
        LocalRepository(blocker).put_artifact(NAME, b"x")
    assert blocker.read_bytes() == b"in the way"


@pytest.mark.parametrize("where", ["a folder", "in a missing folder"])
def test_download_to_an_impossible_path_leaves_nothing(
    repo: Repository, tmp_path: Path, where: str
) -> None:
    artifact = repo.put_artifact(NAME, b"payload")
    target = tmp_path if where == "a folder" else tmp_path / "missing" / "out.bin"
    before = sorted(p.name for p in tmp_path.iterdir())
    with raises_versioned(exc.InvalidArgumentError):
        artifact.download(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_download_gets_an_ordinary_file_mode(repo: Repository, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    repo.put_artifact(NAME, b"payload").download(target)
    assert target.stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
