"""What was stored can be read back (issue 9, item 2), alias reads carry the hash they
know (item 9), soft-deleted versions can be listed, and a purge can be a dry run."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Backend, Repository
from versioned.model import Alias

NAME = "my-app"


def test_artifact_exposes_size_type_and_metadata(backend: Backend) -> None:
    repo = backend.repo
    put = repo.put_artifact(
        NAME, b"12345", content_type="application/zip", metadata={"build_id": "7"}
    )
    published = repo.publish_artifact_version(NAME)
    for artifact in (
        put,
        published,
        repo.get_artifact_version(NAME),
        repo.get_artifact_version(NAME, 1),
        *repo.list_artifact_versions(NAME),
    ):
        assert (artifact.size, artifact.content_type, artifact.metadata) == (
            5,
            "application/zip",
            {"build_id": "7"},
        ), artifact


def test_unknown_attributes_are_none(backend: Backend) -> None:
    artifact = backend.repo.put_artifact(NAME, b"x")
    assert artifact.content_type is None
    assert artifact.metadata in (None, {})


def test_a_put_without_type_or_metadata_clears_those_before_it(backend: Backend) -> None:
    repo = backend.repo
    repo.put_artifact(NAME, b"typed", content_type="text/plain", metadata={"build_id": "7"})
    repo.put_artifact(NAME, b"plain")
    fresh = backend.new_repository()
    for artifact in (repo.get_artifact_version(NAME), *fresh.list_artifact_versions(NAME)):
        assert (artifact.content_type, artifact.metadata) in ((None, None), (None, {})), artifact


def test_deleted_versions_are_listed_on_request(repo: Repository) -> None:
    repo.put_artifact(NAME, b"1")
    repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, b"2")
    repo.publish_artifact_version(NAME)
    repo.delete_artifact_version(NAME, 1)
    assert [a.version for a in repo.list_artifact_versions(NAME)] == ["LATEST", "2"]
    every = repo.list_artifact_versions(NAME, include_deleted=True)
    assert [(a.version, a.is_deleted) for a in every] == [
        ("LATEST", False),
        ("2", False),
        ("1", True),
    ]
    assert repo.list_artifact_versions("never", include_deleted=True) == []


def test_purge_dry_run_deletes_nothing(backend: Backend) -> None:
    repo = backend.repo
    for content in (b"1", b"2", b"3"):
        repo.put_artifact(NAME, content)
        repo.publish_artifact_version(NAME)
    repo.put_alias(NAME, "prod", version=1)
    before = backend.state()
    when, would = repo.purge_artifact_versions(NAME, 0, 0, dry_run=True)
    assert [a.version for a in would] == ["3", "2"]  # 1 is aliased
    assert when.tzinfo is not None and when <= datetime.now(timezone.utc)
    assert backend.state() == before
    _, done = repo.purge_artifact_versions(NAME, 0, 0)
    assert sorted(a.version for a in done) == sorted(a.version for a in would)


def test_write_to_and_progress(backend: Backend, tmp_path: Path) -> None:
    content = os.urandom(3 << 20)
    sent: list[int] = []
    artifact = backend.repo.put_artifact(NAME, content, progress=sent.append)
    assert sum(sent) in (0, len(content))  # 0: stored while hashed (local), else every byte
    received: list[int] = []
    with (tmp_path / "out").open("wb") as out:
        artifact.write_to(out, progress=received.append)
    assert (tmp_path / "out").read_bytes() == content and sum(received) == len(content)
    received.clear()
    artifact.download(tmp_path / "copy", progress=received.append)
    assert sum(received) == len(content)


class _Spy:
    """A ContentReader that records the hash each read was given."""

    def __init__(self) -> None:
        self.hashes: list[str | None] = []

    def read_version(self, name: str, version: str, sha256: str | None, session: Any) -> bytes:
        self.hashes.append(sha256)
        return b""

    def download_version(self, name: str, version: str, sha256: str | None, *_: Any) -> None:
        self.hashes.append(sha256)

    def write_version(self, *_: Any) -> None:
        raise AssertionError("not used")


@pytest.mark.parametrize(
    ("version", "known", "passed"),
    [("5", "ab" * 32, "ab" * 32), ("5", None, None), ("LATEST", None, None)],
)
def test_alias_reads_pass_the_hash_the_alias_carries(
    version: str, known: str | None, passed: str | None, tmp_path: Path
) -> None:
    spy = _Spy()
    alias = Alias(
        name=NAME, alias="prod", update_at=datetime.now(timezone.utc), version=version,
        secondary_version="6", secondary_version_weight=10, version_uri="u5",
        secondary_version_uri="u6", _version_sha256=known, _secondary_version_sha256=known,
        _reader=spy,
    )  # fmt: skip
    alias.get_version_content()
    alias.download_version(tmp_path / "x")
    alias.get_secondary_version_content()
    alias.download_secondary_version(tmp_path / "y")
    assert spy.hashes == [passed, passed, known, known]


def test_alias_of_a_published_version_reads_its_content(repo: Repository) -> None:
    repo.put_artifact(NAME, b"one")
    repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, b"two")
    alias = repo.put_alias(NAME, "prod", version=1, secondary_version="LATEST",
                           secondary_version_weight=50)  # fmt: skip
    assert alias.get_version_content() == b"one"
    assert alias.get_secondary_version_content() == b"two"
    repo.put_artifact(NAME, b"three")  # LATEST moved: its content is read afresh
    assert repo.get_alias(NAME, "prod").get_secondary_version_content() == b"three"
