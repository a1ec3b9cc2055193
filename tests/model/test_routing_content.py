"""``Alias.get_content(key=)`` and ``Alias.download(path, key=)`` on both backends: the
bytes of the version ``route(key)`` picks, or of a weighted draw without a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Repository, S3Backend
from tests.requests.test_request_counts import Counter as RequestCounter
from versioned import exc

V1, V2 = b"version one", b"version two"


@pytest.fixture
def canary(repo: Repository) -> object:
    """``app``: versions 1 and 2; ``prod`` sends 30% to version 2."""
    for content in (V1, V2):
        repo.put_artifact("app", content)
        repo.publish_artifact_version("app")
    return repo.put_alias("app", "prod", 1, secondary_version=2, secondary_version_weight=30)


def test_content_follows_the_route_of_each_key(
    repo: Repository, canary: object, tmp_path: Path
) -> None:
    alias = repo.get_alias("app", "prod")
    keys = [f"user-{i}" for i in range(40)]
    by_version = {"1": V1, "2": V2}
    routes = {alias.route(k) for k in keys}
    assert routes == {"1", "2"}  # both sides exercised
    for index, key in enumerate(keys):
        expected = by_version[alias.route(key)]
        assert alias.get_content(key=key) == expected
        target = tmp_path / f"{index}.bin"
        alias.download(target, key=key)
        assert target.read_bytes() == expected
    # the alias returned by put_alias routes (and reads) the same way
    assert [canary.route(k) for k in keys] == [alias.route(k) for k in keys]  # type: ignore[attr-defined]


def test_without_a_key_each_read_is_a_weighted_draw(repo: Repository, canary: object) -> None:
    alias = repo.get_alias("app", "prod")
    seen = {alias.get_content() for _ in range(60)}
    assert seen == {V1, V2}  # 0.7**60 + 0.3**60: never one side only in practice


def test_a_bad_key_raises_before_any_read(repo: Repository, canary: object, tmp_path: Path) -> None:
    alias = repo.get_alias("app", "prod")
    repo.purge_artifact("app")  # any read would now fail with ArtifactNotFoundError
    with pytest.raises(exc.InvalidArgumentError):
        alias.get_content(key="")
    with pytest.raises(exc.InvalidArgumentTypeError):
        alias.download(tmp_path / "x", key=7)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_on_s3_a_routed_read_costs_what_reading_that_version_costs(
    s3_backend: S3Backend,
) -> None:
    # routing is computed locally: the read sends exactly the requests of the plain
    # read of the chosen version (one GetObject once alias items carry target hashes)
    repo = s3_backend.repo
    for content in (V1, V2):
        repo.put_artifact("app", content)
        repo.publish_artifact_version("app")
    repo.put_alias("app", "prod", 1, secondary_version=2, secondary_version_weight=30)
    counter = RequestCounter(repo)
    alias = repo.get_alias("app", "prod")
    plain = {
        "1": counter.during(alias.get_version_content),
        "2": counter.during(alias.get_secondary_version_content),
    }
    assert plain["1"][-1] == plain["2"][-1] == "GetObject"
    keys = [f"user-{i}" for i in range(8)]
    assert {alias.route(k) for k in keys} == {"1", "2"}
    for key in keys:
        sent = counter.during(lambda k=key: alias.get_content(key=k))
        assert sent == plain[alias.route(key)], key
