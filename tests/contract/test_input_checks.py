"""Bad input is refused up front with the library's own errors (issue 9, item 6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import REGION, Backend, raises_versioned
from versioned import exc, open_repository

NAME = "my-app"


@pytest.mark.parametrize("root", [123, None, 4.5])
def test_local_repository_root_of_the_wrong_type(root: Any) -> None:
    from versioned.local_backend import Repository

    with raises_versioned(exc.InvalidArgumentTypeError):
        Repository(root)


@pytest.mark.parametrize("root", ["a\0b", ""])
def test_local_repository_root_that_cannot_be_a_path(root: str) -> None:
    from versioned.local_backend import Repository

    with raises_versioned(exc.InvalidArgumentError):
        Repository(root)


@pytest.mark.parametrize(
    "uri", ["s3://[b/p", "//[x", "file://", "s3://b/p?region=eu/west", "s3://b!/p", "x\0y"]
)
def test_malformed_repository_uris(uri: str) -> None:
    with raises_versioned(exc.InvalidArgumentError):
        open_repository(uri)


def test_open_repository_with_create_false(tmp_path: Any) -> None:
    with raises_versioned(exc.RepositoryNotFoundError):
        open_repository(tmp_path / "nothing-here", create=False)
    assert not (tmp_path / "nothing-here").exists()
    open_repository(tmp_path / "made").list_artifact_names()  # create=True: made on use
    assert open_repository(tmp_path / "made", create=False).list_artifact_names() == []


def test_s3_region_is_checked_before_any_request() -> None:
    from versioned.s3_and_dynamodb_backend import Repository

    with raises_versioned(exc.InvalidArgumentError):
        Repository(aws_region="eu/west", s3_bucket="bucket")
    Repository(aws_region=REGION, s3_bucket="bucket")


@pytest.mark.parametrize(
    ("options", "what"),
    [
        ({"metadata": {"k": "a\nb"}}, "control character"),
        ({"metadata": {"k": "a\x00b"}}, "control character"),
        ({"metadata": {"k": "a\x7f"}}, "control character"),
        ({"content_type": "text/plain\x00"}, "content_type"),
        ({"content_type": "text/\tplain"}, "content_type"),
        ({"content_type": "text/plain\n"}, "content_type"),
    ],
)
def test_control_characters_are_refused_before_anything_is_written(
    backend: Backend, options: dict[str, Any], what: str
) -> None:
    before = backend.state()
    with raises_versioned(exc.InvalidArgumentError) as error:
        backend.repo.put_artifact(NAME, b"x", **options)
    assert what in str(error.value)
    assert backend.state() == before


def test_library_messages_do_not_mention_the_command_line(backend: Backend) -> None:
    for call in (
        lambda: backend.repo.put_alias(NAME, "prod", 1, 2, 150),
        lambda: backend.repo.purge_artifact_versions(NAME, -1),
        lambda: backend.repo.get_artifact_version(NAME),
    ):
        with pytest.raises(exc.VersionedError) as error:
            call()
        assert "versioned " not in str(error.value) and "--" not in str(error.value)


@pytest.mark.parametrize(
    "seconds",
    [10**400, -(10**400), float("inf"), float("nan"), True],
    ids=["10**400", "-10**400", "inf", "nan", "True"],
)
def test_numbers_of_seconds_past_a_float_are_refused(backend: Backend, seconds: Any) -> None:
    # 10**400 has no float: it must not reach float() unchecked (OverflowError)
    for options in ({"ttl_seconds": seconds}, {"jitter": seconds}, {"stale_seconds": seconds}):
        with pytest.raises(exc.VersionedError) as error:
            backend.repo.alias_resolver(**options)
        assert isinstance(error.value, (exc.InvalidArgumentError, exc.InvalidArgumentTypeError))
        assert next(iter(options)) in str(error.value)


@pytest.mark.parametrize(
    "seconds",
    [10**400, float("inf"), float("nan"), 0, -1, True, "60"],
    ids=["10**400", "inf", "nan", "0", "-1", "True", "str"],
)
def test_s3_lease_seconds_is_a_finite_positive_number(seconds: Any) -> None:
    from versioned.s3_and_dynamodb_backend import Repository

    with pytest.raises(exc.VersionedError) as error:
        Repository(aws_region=REGION, s3_bucket="bucket", lease_seconds=seconds)
    assert isinstance(error.value, (exc.InvalidArgumentError, exc.InvalidArgumentTypeError))
    assert "lease_seconds" in str(error.value)
