"""put_alias / get_alias / list_aliases / delete_alias, traffic splitting, deletes refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Backend, Repository, assert_recent, raises_versioned, versions_of
from versioned import exc

NAME = "my-app"
PICKS = 4000


@pytest.fixture
def published(repo: Repository) -> Repository:
    """``my-app`` with versions 1, 2, 3 (contents b"v1".. b"v3") and LATEST = b"latest"."""
    for number in (1, 2, 3):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, b"latest")
    return repo


def alias_fields(alias: Any) -> tuple[Any, ...]:
    return (
        alias.name,
        alias.alias,
        alias.version,
        alias.secondary_version,
        alias.secondary_version_weight,
        alias.version_uri,
        alias.secondary_version_uri,
    )


def test_alias_to_a_version(published: Repository) -> None:
    repo = published
    alias = repo.put_alias(NAME, "prod", version=2)
    assert alias.name == NAME
    assert alias.alias == "prod"
    assert alias.version == "2"
    assert alias.secondary_version is None
    assert alias.secondary_version_weight is None
    assert alias.secondary_version_uri is None
    assert alias.version_uri == repo.get_artifact_version(NAME, 2).uri
    assert_recent(alias.update_at)
    assert alias.get_version_content() == b"v2"
    assert alias_fields(repo.get_alias(NAME, "prod")) == alias_fields(alias)


def test_alias_defaults_to_latest(published: Repository) -> None:
    alias = published.put_alias(NAME, "edge")
    assert alias.version == "LATEST"
    assert alias.version_uri == published.get_artifact_version(NAME).uri
    assert alias.get_version_content() == b"latest"
    assert published.get_alias(NAME, "edge").version == "LATEST"


@pytest.mark.parametrize("version", [3, "3", "000003"])
def test_alias_version_forms(published: Repository, version: int | str) -> None:
    assert published.put_alias(NAME, "prod", version=version).version == "3"
    assert published.get_alias(NAME, "prod").version == "3"


def test_alias_with_secondary(published: Repository, tmp_path: Path) -> None:
    repo = published
    alias = repo.put_alias(
        NAME, "prod", version=1, secondary_version="000002", secondary_version_weight=20
    )
    assert (alias.version, alias.secondary_version, alias.secondary_version_weight) == (
        "1",
        "2",
        20,
    )
    assert alias.secondary_version_uri == repo.get_artifact_version(NAME, 2).uri
    fetched = repo.get_alias(NAME, "prod")
    assert alias_fields(fetched) == alias_fields(alias)
    assert fetched.get_version_content() == b"v1"
    assert fetched.get_secondary_version_content() == b"v2"
    fetched.download_version(tmp_path / "primary")
    fetched.download_secondary_version(tmp_path / "secondary")
    assert (tmp_path / "primary").read_bytes() == b"v1"
    assert (tmp_path / "secondary").read_bytes() == b"v2"


def test_alias_with_latest_as_secondary(published: Repository) -> None:
    alias = published.put_alias(
        NAME, "edge", version=3, secondary_version="LATEST", secondary_version_weight=30
    )
    fetched = published.get_alias(NAME, "edge")
    for seen in (alias, fetched):
        assert (seen.version, seen.secondary_version, seen.secondary_version_weight) == (
            "3",
            "LATEST",
            30,
        )
        assert seen.secondary_version_uri == published.get_artifact_version(NAME).uri
    assert fetched.get_secondary_version_content() == b"latest"


def test_secondary_accessors_without_secondary(published: Repository, tmp_path: Path) -> None:
    alias = published.put_alias(NAME, "prod", version=1)
    with raises_versioned(ValueError):
        alias.get_secondary_version_content()
    with raises_versioned(ValueError):
        alias.download_secondary_version(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_put_alias_overwrites(published: Repository) -> None:
    published.put_alias(NAME, "prod", version=1, secondary_version=2, secondary_version_weight=5)
    published.put_alias(NAME, "prod", version=3)
    alias = published.get_alias(NAME, "prod")
    assert (alias.version, alias.secondary_version, alias.secondary_version_weight) == (
        "3",
        None,
        None,
    )
    assert [a.alias for a in published.list_aliases(NAME)] == ["prod"]


def test_get_missing_alias(published: Repository) -> None:
    with raises_versioned(exc.AliasNotFoundError) as info:
        published.get_alias(NAME, "nope")
    assert (info.value.name, info.value.alias) == (NAME, "nope")
    with raises_versioned(exc.AliasNotFoundError):
        published.get_alias("no-such-artifact", "prod")


def test_list_aliases_sorted(published: Repository) -> None:
    for alias, version in [("staging", 2), ("Beta", 1), ("prod", 3), ("dev", 1)]:
        published.put_alias(NAME, alias, version=version)
    aliases = published.list_aliases(NAME)
    assert [a.alias for a in aliases] == sorted(["staging", "Beta", "prod", "dev"])
    assert {a.alias: a.version for a in aliases} == {
        "staging": "2",
        "Beta": "1",
        "prod": "3",
        "dev": "1",
    }
    assert published.list_aliases("other") == []


def test_aliases_belong_to_their_artifact(published: Repository) -> None:
    published.put_artifact("other", b"o")
    published.publish_artifact_version("other")
    published.put_alias("other", "prod", version=1)
    published.put_alias(NAME, "prod", version=3)
    assert published.get_alias("other", "prod").get_version_content() == b"o"
    assert published.get_alias(NAME, "prod").get_version_content() == b"v3"
    published.delete_alias("other", "prod")
    assert [a.alias for a in published.list_aliases(NAME)] == ["prod"]


def test_delete_alias(published: Repository) -> None:
    published.put_alias(NAME, "prod", version=1)
    published.delete_alias(NAME, "prod")
    with raises_versioned(exc.AliasNotFoundError):
        published.get_alias(NAME, "prod")
    assert published.list_aliases(NAME) == []
    published.delete_alias(NAME, "prod")  # missing: a no-op
    published.delete_alias("no-such-artifact", "prod")
    assert versions_of(published, NAME) == ["LATEST", "3", "2", "1"]


def test_alias_rejects_hyphen(published: Repository) -> None:
    with raises_versioned(ValueError):
        published.put_alias(NAME, "my-alias", version=1)
    assert published.list_aliases(NAME) == []


@pytest.mark.parametrize("weight", [-1, 100, 150])
def test_alias_weight_out_of_range(published: Repository, weight: int) -> None:
    with raises_versioned(ValueError):
        published.put_alias(
            NAME, "prod", version=1, secondary_version=2, secondary_version_weight=weight
        )
    assert published.list_aliases(NAME) == []


@pytest.mark.parametrize("weight", ["20", 20.0, 0.5, True])
def test_alias_weight_not_int(published: Repository, weight: object) -> None:
    with raises_versioned(TypeError):
        published.put_alias(
            NAME, "prod", version=1, secondary_version=2, secondary_version_weight=weight
        )
    assert published.list_aliases(NAME) == []


def test_alias_secondary_without_weight(published: Repository) -> None:
    with raises_versioned(TypeError):
        published.put_alias(NAME, "prod", version=1, secondary_version=2)
    assert published.list_aliases(NAME) == []


def test_alias_weight_without_secondary(published: Repository) -> None:
    with raises_versioned(ValueError):
        published.put_alias(NAME, "prod", version=1, secondary_version_weight=20)
    assert published.list_aliases(NAME) == []


@pytest.mark.parametrize(
    ("version", "secondary"), [(1, 1), (2, "000002"), ("3", 3), (None, "LATEST")]
)
def test_alias_identical_versions(
    published: Repository, version: int | str | None, secondary: int | str
) -> None:
    with raises_versioned(ValueError):
        published.put_alias(
            NAME, "prod", version=version, secondary_version=secondary, secondary_version_weight=10
        )
    assert published.list_aliases(NAME) == []


@pytest.mark.parametrize(
    "target",
    [
        {"version": 9},
        {"version": 1, "secondary_version": 9, "secondary_version_weight": 10},
    ],
)
def test_alias_missing_target(published: Repository, target: dict[str, Any]) -> None:
    with raises_versioned(exc.ArtifactNotFoundError):
        published.put_alias(NAME, "prod", **target)
    assert published.list_aliases(NAME) == []


def test_alias_missing_artifact(repo: Repository) -> None:
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.put_alias("no-such-artifact", "prod")
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.put_alias("no-such-artifact", "prod", version=1)
    assert repo.list_aliases("no-such-artifact") == []


@pytest.mark.parametrize(
    "target",
    [
        {"version": 2},
        {"version": 1, "secondary_version": 2, "secondary_version_weight": 10},
    ],
)
def test_alias_refuses_soft_deleted_target(published: Repository, target: dict[str, Any]) -> None:
    published.delete_artifact_version(NAME, 2)
    with raises_versioned(exc.ArtifactNotFoundError):
        published.put_alias(NAME, "prod", **target)
    assert published.list_aliases(NAME) == []


def test_alias_refuses_soft_deleted_latest(published: Repository) -> None:
    published.delete_artifact_version(NAME)
    with raises_versioned(exc.ArtifactNotFoundError):
        published.put_alias(NAME, "edge")
    assert published.list_aliases(NAME) == []


def test_random_artifact_distribution(published: Repository) -> None:
    alias = published.put_alias(
        NAME, "prod", version=1, secondary_version=2, secondary_version_weight=20
    )
    uris = Counter(alias.random_artifact() for _ in range(PICKS))
    assert set(uris) == {alias.version_uri, alias.secondary_version_uri}
    assert 0.15 <= uris[alias.secondary_version_uri] / PICKS <= 0.25
    versions = Counter(alias.random_version() for _ in range(PICKS))
    assert set(versions) == {"1", "2"}
    assert 0.15 <= versions["2"] / PICKS <= 0.25


def test_random_with_weight_zero_never_picks_secondary(published: Repository) -> None:
    alias = published.put_alias(
        NAME, "prod", version=1, secondary_version=2, secondary_version_weight=0
    )
    assert alias.secondary_version_weight == 0
    assert {alias.random_artifact() for _ in range(PICKS)} == {alias.version_uri}
    assert {alias.random_version() for _ in range(PICKS)} == {"1"}


def test_random_with_weight_99(published: Repository) -> None:
    alias = published.put_alias(
        NAME, "prod", version=1, secondary_version=2, secondary_version_weight=99
    )
    versions = Counter(alias.random_version() for _ in range(PICKS))
    assert versions["2"] / PICKS >= 0.95


def test_random_without_secondary(published: Repository) -> None:
    published.put_alias(NAME, "prod", version=3)
    alias = published.get_alias(NAME, "prod")
    assert {alias.random_artifact() for _ in range(200)} == {alias.version_uri}
    assert {alias.random_version() for _ in range(200)} == {"3"}


@pytest.mark.parametrize("version", [1, None])
def test_delete_aliased_version_refused(backend: Backend, version: int | None) -> None:
    repo = backend.repo
    for number in (1, 2):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    public = "1" if version == 1 else "LATEST"
    repo.put_alias(NAME, "prod", version=version)
    repo.put_alias(NAME, "canary", version=2, secondary_version=public, secondary_version_weight=10)
    repo.put_alias(NAME, "unrelated", version=2)
    before = backend.state()
    with raises_versioned(exc.VersionInUseError) as info:
        repo.delete_artifact_version(NAME, version)
    assert sorted(info.value.aliases) == ["canary", "prod"]
    assert info.value.name == NAME
    assert info.value.version == public
    assert "prod" in str(info.value) and "canary" in str(info.value)
    assert backend.state() == before
    assert repo.get_artifact_version(NAME, version).version == public


def test_delete_allowed_once_alias_moves(published: Repository) -> None:
    published.put_alias(NAME, "prod", version=1)
    with raises_versioned(exc.VersionInUseError):
        published.delete_artifact_version(NAME, 1)
    published.put_alias(NAME, "prod", version=2)
    published.delete_artifact_version(NAME, 1)
    assert versions_of(published, NAME) == ["LATEST", "3", "2"]
    published.delete_alias(NAME, "prod")
    published.delete_artifact_version(NAME, 2)
    assert versions_of(published, NAME) == ["LATEST", "3"]
