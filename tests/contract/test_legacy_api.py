"""What code written for versioned 1.0.1 relies on, on both backends (issue 17, item 10).

The behaviours are those 1.0.1's own test suite checks through the public API (read in
MacHu-GWU/versioned-project, ``tests/test_s3_and_dynamodb_backend.py``); the tests here
are ours. One difference is on purpose: the seed API says an identical put updates
LATEST's timestamp, where 1.0.1's test expects it to stay.
"""

from __future__ import annotations

import pytest

from tests.helpers import Repository, raises_versioned, versions_of
from versioned import exc

NAME = "deploy"


def test_an_empty_repository_answers_as_1_0_1_did(repo: Repository) -> None:
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.publish_artifact_version(NAME)
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.get_artifact_version(NAME)
    assert repo.list_artifact_versions(NAME) == []
    with raises_versioned(exc.AliasNotFoundError):
        repo.get_alias(NAME, "Invalid")
    assert repo.list_aliases(NAME) == []


def test_deleting_a_version_that_is_not_there_succeeds(repo: Repository) -> None:
    # a cleanup script that runs twice, or one that runs before anything was put
    repo.delete_artifact_version(NAME)
    repo.delete_artifact_version(NAME, 1)
    assert repo.list_artifact_versions(NAME, include_deleted=True) == []
    repo.put_artifact(NAME, b"v1")
    repo.publish_artifact_version(NAME)
    repo.delete_artifact_version(NAME, 7)
    repo.delete_artifact_version(NAME, 1)
    repo.delete_artifact_version(NAME, 1)
    assert versions_of(repo, NAME) == ["LATEST"]


def test_a_version_in_use_is_still_refused(repo: Repository) -> None:
    repo.put_artifact(NAME, b"v1")
    repo.publish_artifact_version(NAME)
    repo.put_alias(NAME, "LIVE", version=1)
    with raises_versioned(exc.VersionInUseError):
        repo.delete_artifact_version(NAME, 1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"version": 999}, exc.ArtifactNotFoundError),
        ({"secondary_version": 999}, TypeError),
        ({"secondary_version": 999, "secondary_version_weight": 0.5}, TypeError),
        ({"secondary_version": 999, "secondary_version_weight": -100}, ValueError),
        ({"secondary_version": 999, "secondary_version_weight": 999}, ValueError),
        ({"secondary_version": 999, "secondary_version_weight": 20}, exc.ArtifactNotFoundError),
        ({"version": 1, "secondary_version": 1, "secondary_version_weight": 20}, ValueError),
    ],
)
def test_put_alias_refuses_as_1_0_1_did(
    repo: Repository, options: dict[str, object], expected: type[Exception]
) -> None:
    with pytest.raises(expected):
        repo.put_alias(NAME, "LIVE", **options)
    assert repo.list_aliases(NAME) == []


def test_artifacts_and_aliases_round_trip(repo: Repository) -> None:
    first = repo.put_artifact(NAME, b"v1", content_type="text/plain", metadata={"foo": "bar"})
    again = repo.put_artifact(NAME, b"v1")
    assert again.update_at >= first.update_at  # the seed: an identical put is re-dated
    for latest in (again, repo.get_artifact_version(NAME), *repo.list_artifact_versions(NAME)):
        assert (latest.name, latest.version, latest.get_content()) == (NAME, "LATEST", b"v1")
    one = repo.publish_artifact_version(NAME)
    assert (one.version, one.get_content(), one.metadata) == ("1", b"v1", {"foo": "bar"})
    repo.put_artifact(NAME, b"v2")
    assert repo.publish_artifact_version(NAME).version == "2"
    assert len(repo.list_artifact_versions(NAME)) == 3

    live = repo.put_alias(NAME, "LIVE")
    assert (live.version, live.secondary_version, live.secondary_version_weight) == (
        "LATEST", None, None,
    )  # fmt: skip
    assert live.get_version_content() == b"v2"
    assert repo.get_alias(NAME, "LIVE").update_at == live.update_at
    assert len(repo.list_aliases(NAME)) == 1
    split = repo.put_alias(
        NAME, "LIVE", version=1, secondary_version=2, secondary_version_weight=20
    )
    assert split.update_at > live.update_at
    assert (split.version, split.secondary_version, split.secondary_version_weight) == (
        "1", "2", 20,
    )  # fmt: skip
    assert split.get_version_content() == b"v1"
    assert split.get_secondary_version_content() == b"v2"
    assert split.random_artifact() in (split.version_uri, split.secondary_version_uri)

    repo.delete_alias(NAME, "LIVE")
    with raises_versioned(exc.AliasNotFoundError):
        repo.get_alias(NAME, "LIVE")
    assert repo.list_aliases(NAME) == []
    repo.delete_artifact_version(NAME)
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.get_artifact_version(NAME)
    assert versions_of(repo, NAME) == ["2", "1"]
    repo.delete_artifact_version(NAME, 1)
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.get_artifact_version(NAME, 1)
    assert versions_of(repo, NAME) == ["2"]
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.put_alias(NAME, "DEV", version=1)  # soft-deleted: no alias may point at it
    repo.put_alias(NAME, "DEV", version=2)
    assert len(repo.list_aliases(NAME)) == 1
    repo.purge_artifact(NAME)
    assert repo.list_artifact_versions(NAME) == [] and repo.list_aliases(NAME) == []


def test_retention_keeps_the_newest(repo: Repository) -> None:
    for i in range(1, 6):
        repo.put_artifact("life_cycle", f"v{i}".encode())
        repo.publish_artifact_version("life_cycle")
    _, deleted = repo.purge_artifact_versions("life_cycle", keep_last_n=3, purge_older_than_secs=0)
    assert [a.version for a in deleted] == ["2", "1"]
    assert versions_of(repo, "life_cycle") == ["LATEST", "5", "4", "3"]
    _, none = repo.purge_artifact_versions("life_cycle", keep_last_n=0, purge_older_than_secs=3600)
    assert none == []  # nothing is an hour old


def test_artifact_names_are_listed_sorted(repo: Repository) -> None:
    repo.put_artifact("a", b"v1")
    assert repo.list_artifact_names() == ["a"]
    repo.put_artifact("b", b"v1")
    assert repo.list_artifact_names() == ["a", "b"]
