"""Bad arguments raise (a VersionedError that is also a ValueError/TypeError) before any write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import BACKENDS, Backend, Repository, new_backend, raises_versioned
from versioned import exc

NAME = "app"

BAD_NAMES: list[Any] = [
    "",
    ".",
    "..",
    "a/b",
    "a\\b",
    "__x",
    "__app-alias",
    "a b",
    "caf\u00e9",
    "x" * 129,
    "a:b",
    "tab\t",
]
BAD_NAME_TYPES: list[Any] = [None, 5, b"app"]
BAD_ALIASES: list[Any] = [
    "my-alias",
    "",
    "123",
    "0",
    "LATEST",
    "a.b",
    "a b",
    "x" * 129,
    "\u00e9t\u00e9",
]
BAD_VERSIONS: list[Any] = [0, -1, "0", "-1", "1.5", "abc", "", " 1", "latest", "1e3"]
#: Past the highest number a store can hold (SQLite's 64-bit integers): no such version can
#: exist. A str of 5,000 digits is past what ``int()`` converts by default, too.
HUGE_VERSIONS: list[Any] = [2**63, 10**21, 10**400, "9" * 25, "1" * 5000, -(10**400)]
BAD_VERSION_TYPES: list[Any] = [True, False, 1.5, 2.0, b"1", [1]]
BAD_WEIGHTS: list[Any] = [-1, 100, 1000, 10**5000, -(10**5000)]  # str() refuses 10**5000
BAD_WEIGHT_TYPES: list[Any] = ["20", 20.0, True, None]

Call = Callable[[Repository], object]


def cases() -> list[Any]:
    """``(call, expected error)`` pairs, each with a readable id."""
    found: list[Any] = []

    def add(id_: str, call: Call, error: type[Exception]) -> None:
        found.append(pytest.param(call, error, id=id_))

    for i, name in enumerate(BAD_NAMES):
        add(f"put-name-{i}", lambda r, n=name: r.put_artifact(n, b"x"), ValueError)
        add(f"get-name-{i}", lambda r, n=name: r.get_artifact_version(n), ValueError)
        add(f"publish-name-{i}", lambda r, n=name: r.publish_artifact_version(n), ValueError)
        add(f"alias-name-{i}", lambda r, n=name: r.put_alias(n, "prod"), ValueError)
        add(f"purge-name-{i}", lambda r, n=name: r.purge_artifact(n), ValueError)
    for i, name in enumerate(BAD_NAME_TYPES):
        add(f"put-name-type-{i}", lambda r, n=name: r.put_artifact(n, b"x"), TypeError)
        add(f"delete-name-type-{i}", lambda r, n=name: r.delete_artifact_version(n), TypeError)
    for i, alias in enumerate(BAD_ALIASES):
        add(f"put-alias-{i}", lambda r, a=alias: r.put_alias(NAME, a, version=1), ValueError)
        add(f"get-alias-{i}", lambda r, a=alias: r.get_alias(NAME, a), ValueError)
        add(f"delete-alias-{i}", lambda r, a=alias: r.delete_alias(NAME, a), ValueError)
    add("put-alias-type", lambda r: r.put_alias(NAME, 5, version=1), TypeError)
    for i, version in enumerate(BAD_VERSIONS + HUGE_VERSIONS):
        add(f"get-version-{i}", lambda r, v=version: r.get_artifact_version(NAME, v), ValueError)
        add(
            f"delete-version-{i}",
            lambda r, v=version: r.delete_artifact_version(NAME, v),
            ValueError,
        )
        add(
            f"restore-version-{i}",
            lambda r, v=version: r.restore_artifact_version(NAME, v),
            ValueError,
        )
        add(f"alias-version-{i}", lambda r, v=version: r.put_alias(NAME, "prod", v), ValueError)
        add(
            f"alias-secondary-{i}",
            lambda r, v=version: r.put_alias(NAME, "prod", 1, v, 10),
            ValueError,
        )
    for i, version in enumerate(BAD_VERSION_TYPES):
        add(
            f"get-version-type-{i}", lambda r, v=version: r.get_artifact_version(NAME, v), TypeError
        )
        add(
            f"delete-version-type-{i}",
            lambda r, v=version: r.delete_artifact_version(NAME, v),
            TypeError,
        )
        add(f"alias-version-type-{i}", lambda r, v=version: r.put_alias(NAME, "prod", v), TypeError)
    for i, weight in enumerate(BAD_WEIGHTS):
        add(f"weight-{i}", lambda r, w=weight: r.put_alias(NAME, "prod", 1, 2, w), ValueError)
    for i, weight in enumerate(BAD_WEIGHT_TYPES):
        add(f"weight-type-{i}", lambda r, w=weight: r.put_alias(NAME, "prod", 1, 2, w), TypeError)
    add(
        "weight-without-secondary",
        lambda r: r.put_alias(NAME, "prod", 1, secondary_version_weight=5),
        ValueError,
    )
    add("same-versions", lambda r: r.put_alias(NAME, "prod", 2, "000002", 5), ValueError)
    add("str-content", lambda r: r.put_artifact(NAME, "text, not bytes"), TypeError)
    add("int-content", lambda r: r.put_artifact(NAME, 42), TypeError)
    add("none-content", lambda r: r.put_artifact(NAME, None), TypeError)
    add(
        "metadata-non-ascii-value",
        lambda r: r.put_artifact(NAME, b"new", metadata={"k": "caf\u00e9"}),
        ValueError,
    )
    add(
        "metadata-non-ascii-key",
        lambda r: r.put_artifact(NAME, b"new", metadata={"cl\u00e9": "v"}),
        ValueError,
    )
    add(
        "metadata-too-large",
        lambda r: r.put_artifact(NAME, b"new", metadata={"big": "x" * 2100}),
        ValueError,
    )
    add(
        "metadata-too-large-in-sum",
        lambda r: r.put_artifact(NAME, b"new", metadata={f"k{i}": "x" * 100 for i in range(25)}),
        ValueError,
    )
    add("metadata-not-str", lambda r: r.put_artifact(NAME, b"new", metadata={"k": 1}), TypeError)
    add(
        "tags-too-many",
        lambda r: r.put_artifact(NAME, b"new", tags={f"t{i}": "v" for i in range(11)}),
        ValueError,
    )
    add(
        "tag-value-too-long",
        lambda r: r.put_artifact(NAME, b"new", tags={"team": "x" * 257}),
        ValueError,
    )
    add(
        "tag-key-bad-character",
        lambda r: r.put_artifact(NAME, b"new", tags={"team\n": "backend"}),
        ValueError,
    )
    add("tags-not-str", lambda r: r.put_artifact(NAME, b"new", tags={"team": 7}), TypeError)
    add(
        "keep-last-n-negative",
        lambda r: r.purge_artifact_versions(NAME, keep_last_n=-1, purge_older_than_secs=0),
        ValueError,
    )
    add(
        "keep-last-n-type",
        lambda r: r.purge_artifact_versions(NAME, keep_last_n="3", purge_older_than_secs=0),
        TypeError,
    )
    add(
        "older-than-negative",
        lambda r: r.purge_artifact_versions(NAME, keep_last_n=0, purge_older_than_secs=-5),
        ValueError,
    )
    return found


@pytest.fixture(scope="module", params=BACKENDS)
def populated(request: pytest.FixtureRequest) -> Backend:
    """``app`` with versions 1 and 2, LATEST, and ``prod`` -> 1.

    Shared by the module: every test checks that it leaves this state unchanged.
    """
    backend = new_backend(request, request.param)
    repo = backend.repo
    for content in (b"one", b"two"):
        repo.put_artifact(NAME, content)
        repo.publish_artifact_version(NAME)
    repo.put_alias(NAME, "prod", version=1)
    return backend


@pytest.mark.parametrize(("call", "error"), cases())
def test_bad_argument_changes_nothing(
    populated: Backend, call: Call, error: type[Exception]
) -> None:
    before = populated.state()
    with raises_versioned(error) as info:
        call(populated.repo)
    kind = exc.InvalidArgumentError if error is ValueError else exc.InvalidArgumentTypeError
    assert isinstance(info.value, kind)
    assert populated.state() == before


def test_bad_argument_on_an_empty_repository(backend: Backend) -> None:
    before = backend.state()
    with raises_versioned(TypeError):
        backend.repo.put_artifact("fresh", "not bytes")
    with raises_versioned(ValueError):
        backend.repo.put_artifact("fresh", b"ok", metadata={"k": "\u2603"})
    with raises_versioned(ValueError):
        backend.repo.put_artifact("..", b"ok")
    assert backend.state() == before
    assert backend.repo.list_artifact_names() == []


def test_accepted_edge_values(repo: Repository) -> None:
    long_name = "a" * 128
    repo.put_artifact(long_name, b"x", metadata={"build-id": "12345", "k": "v" * 1000})
    assert repo.publish_artifact_version(long_name).version == "1"
    for name in ("a", "A.b_c-d", "...", "_x", "x__"):
        assert repo.put_artifact(name, b"x").name == name
    for alias in ("a", "A_b", "v1", "_1", "x" * 128, "latest"):
        assert repo.put_alias(long_name, alias, version="1").alias == alias
    repo.put_alias(
        long_name, "weights", version=1, secondary_version="LATEST", secondary_version_weight=99
    )


def test_the_highest_version_number_is_an_answer_and_one_past_it_a_bad_argument(
    repo: Repository,
) -> None:
    repo.put_artifact(NAME, b"x")
    with raises_versioned(exc.ArtifactNotFoundError):
        repo.get_artifact_version(NAME, 2**63 - 1)
    repo.delete_artifact_version(NAME, str(2**63 - 1))  # missing: nothing to delete
    with raises_versioned(exc.InvalidArgumentError) as error:
        repo.get_artifact_version(NAME, "1" * 5000)
    assert "version" in str(error.value) and len(str(error.value)) < 200


def test_an_expected_revision_past_any_is_a_mismatch_whatever_its_size(backend: Backend) -> None:
    backend.repo.put_artifact(NAME, b"x")
    backend.repo.put_alias(NAME, "prod")
    before = backend.state()
    for expected in (2**63, 10**5000):  # str() of 10**5000 raises: the message must not
        with raises_versioned(exc.RevisionMismatchError) as error:
            backend.repo.put_alias(NAME, "prod", expected_revision=expected)
        assert "'prod'" in str(error.value) and len(str(error.value)) < 300
    assert backend.state() == before


def test_every_error_class_is_a_versioned_error() -> None:
    for name in exc.__all__:
        error_class = getattr(exc, name)
        assert issubclass(error_class, exc.VersionedError), name
    assert issubclass(exc.InvalidArgumentError, ValueError)
    assert issubclass(exc.InvalidArgumentTypeError, TypeError)
