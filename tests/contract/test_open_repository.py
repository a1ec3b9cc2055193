"""``versioned.open_repository`` and the ``suffix`` option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import versioned
from tests.helpers import REGION, Backend, LocalBackend, S3Backend, versions_of

NAME = "my-app"


def assert_same_repository(backend: Backend, opened: Any) -> None:
    """``opened`` sees what ``backend.repo`` wrote, and the other way round."""
    backend.repo.put_artifact(NAME, b"written by the fixture")
    assert opened.get_artifact_version(NAME).get_content() == b"written by the fixture"
    assert opened.publish_artifact_version(NAME).version == "1"
    assert versions_of(backend.repo, NAME) == ["LATEST", "1"]
    assert opened.list_artifact_names() == [NAME]


def test_open_by_uri(backend: Backend, repo_uri: str) -> None:
    assert_same_repository(backend, versioned.open_repository(repo_uri))


def test_open_local_by_path(local_backend: LocalBackend) -> None:
    assert_same_repository(local_backend, versioned.open_repository(str(local_backend.root)))


def test_open_local_by_file_uri(local_backend: LocalBackend) -> None:
    uri = local_backend.root.as_uri()
    assert uri.startswith("file://")
    assert_same_repository(local_backend, versioned.open_repository(uri))


def test_open_local_makes_folder_on_first_use(tmp_path: Path) -> None:
    root = tmp_path / "new" / "repo"
    opened = versioned.open_repository(str(root))
    opened.put_artifact(NAME, b"x")
    assert root.is_dir()
    assert opened.get_artifact_version(NAME).uri.startswith("file://")


def test_open_s3_with_defaults(make_s3_backend: Any) -> None:
    backend: S3Backend = make_s3_backend()
    opened = versioned.open_repository(f"s3://{backend.bucket}?table={backend.table}")
    assert_same_repository(backend, opened)
    assert opened.s3dir_artifact_store.uri == f"s3://{backend.bucket}/versioned-artifacts/"


def test_open_s3_region_from_environment(
    make_s3_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend: S3Backend = make_s3_backend()
    uri = f"s3://{backend.bucket}/versioned-artifacts?table={backend.table}"
    assert versioned.open_repository(uri).aws_region == REGION
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    assert versioned.open_repository(uri).aws_region == "eu-west-3"
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert versioned.open_repository(uri).aws_region == "ap-south-1"
    explicit = versioned.open_repository(f"{uri}&region=us-west-2")
    assert explicit.aws_region == "us-west-2"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert versioned.open_repository(uri).aws_region == "us-east-1"


def test_open_s3_with_suffix_and_prefix(make_s3_backend: Any) -> None:
    backend: S3Backend = make_s3_backend(suffix=".zip", prefix="my-prefix")
    opened = versioned.open_repository(backend.uri)
    assert "suffix=.zip" in backend.uri
    latest = opened.put_artifact(NAME, b"zipped")
    published = opened.publish_artifact_version(NAME)
    expected = {f"my-prefix/{NAME}/LATEST.zip", f"my-prefix/{NAME}/000001.zip"}
    assert set(backend.objects()) == expected
    assert latest.uri == f"s3://{backend.bucket}/my-prefix/{NAME}/LATEST.zip"
    assert published.uri == f"s3://{backend.bucket}/my-prefix/{NAME}/000001.zip"
    assert backend.repo.get_artifact_version(NAME, 1).get_content() == b"zipped"


def test_local_suffix_in_uris(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "repo", suffix=".zip")
    latest = backend.repo.put_artifact(NAME, b"zipped")
    published = backend.repo.publish_artifact_version(NAME)
    for artifact in (latest, published):
        assert artifact.uri.endswith(".zip"), artifact.uri
        assert backend.stored_bytes(artifact) == b"zipped"
