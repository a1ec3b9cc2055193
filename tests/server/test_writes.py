"""Writes over HTTP: alias set (compare-and-set) and rollback, only with the token; a
server without a token is read-only and listens on loopback only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import TOKEN, Filled, Live
from versioned.exc import InvalidArgumentError, RevisionMismatchError
from versioned.server import ServerSettings
from versioned.server.auth import check_binding, is_loopback

pytestmark = pytest.mark.timeout(120)

PROD = "/api/artifacts/model/aliases/prod"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def put(live: Live, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return live.client.put(PROD, json=body, headers=AUTH if headers is None else headers)


def test_set_alias_with_expected_revision(live: Live, filled: Filled) -> None:
    answer = put(live, {"version": 3, "expected_revision": 3, "reason": "v3 for all"})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["version"], body["revision"], body["secondary_version"]) == ("3", 4, None)
    assert filled.repo.get_alias("model", "prod").version == "3"
    [newest] = filled.repo.list_alias_history("model", "prod", limit=1)
    assert (newest.revision, newest.reason, newest.action) == (4, "v3 for all", "set")


def test_set_a_split_and_create_an_alias(live: Live, filled: Filled) -> None:
    answer = live.client.put(
        "/api/artifacts/model/aliases/staging",
        json={
            "version": "2",
            "secondary_version": "3",
            "secondary_version_weight": 5,
            "expected_revision": 0,
        },
        headers=AUTH,
    )
    assert answer.status_code == 200
    assert answer.json()["split"] == [
        {"version": "2", "percent": 95},
        {"version": "3", "percent": 5},
    ]
    assert filled.repo.get_alias("model", "staging").revision == 1


def test_a_stale_revision_loses_and_changes_nothing(live: Live, filled: Filled) -> None:
    answer = put(live, {"version": 3, "expected_revision": 2})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["kind"] == "RevisionMismatchError"
    assert (error["expected"], error["current"]) == (2, 3)
    assert filled.repo.get_alias("model", "prod").revision == 3
    created = live.client.put(
        "/api/artifacts/model/aliases/prod",
        json={"version": 3, "expected_revision": 0},
        headers=AUTH,
    )
    assert created.status_code == 409


def test_two_deployers_race_one_wins(live: Live, filled: Filled) -> None:
    first = put(live, {"version": 2, "expected_revision": 3})
    second = put(live, {"version": 3, "expected_revision": 3})
    assert [first.status_code, second.status_code] == [200, 409]
    assert filled.repo.get_alias("model", "prod").version == "2"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"version": 3}, "InvalidArgumentError"),  # no expected_revision
        ({"version": 3, "expected_revision": 3, "colour": "red"}, "InvalidArgumentError"),
        ({"version": 3, "expected_revision": "three"}, "InvalidArgumentTypeError"),
        (
            {
                "version": 3,
                "secondary_version": 2,
                "secondary_version_weight": 150,
                "expected_revision": 3,
            },
            "InvalidArgumentError",
        ),
        ({"version": 99, "expected_revision": 3}, "ArtifactNotFoundError"),
    ],
)
def test_bad_writes_are_refused(
    live: Live, filled: Filled, body: dict[str, Any], kind: str
) -> None:
    answer = put(live, body)
    assert answer.json()["error"]["kind"] == kind
    assert answer.status_code in (400, 404)
    assert filled.repo.get_alias("model", "prod").revision == 3


def test_a_body_that_is_not_a_json_object_is_refused(live: Live) -> None:
    for content in (b"not json", b"[1, 2]"):
        answer = live.client.put(
            PROD, content=content, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["kind"] == "InvalidArgumentError"


def rollback(live: Live, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return live.client.post(
        f"{PROD}/rollback", json=body, headers=AUTH if headers is None else headers
    )


def test_rollback_to_the_previous_and_to_a_given_revision(live: Live, filled: Filled) -> None:
    back = rollback(live, {"reason": "bad canary", "expected_revision": 3})
    assert back.status_code == 200
    assert (back.json()["version"], back.json()["secondary_version"], back.json()["revision"]) == (
        "3",
        None,
        4,
    )
    assert back.json()["split"] == [{"version": "3", "percent": 100}]
    to_first = rollback(live, {"to_revision": 1, "expected_revision": 4})
    assert (to_first.json()["version"], to_first.json()["revision"]) == ("1", 5)
    [newest] = filled.repo.list_alias_history("model", "prod", limit=1)
    assert newest.action == "rollback"
    history = live.client.get(f"{PROD}/history").json()["changes"]
    assert [c["action"] for c in history[:2]] == ["rollback", "rollback"]
    assert history[1]["reason"] == "bad canary"


def test_rollback_needs_expected_revision(live: Live, filled: Filled) -> None:
    answer = rollback(live, {"reason": "no revision given"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["kind"] == "InvalidArgumentError"
    assert "expected_revision is required" in error["message"]
    assert filled.repo.get_alias("model", "prod").revision == 3


def test_rollback_with_a_stale_expected_revision_is_refused(live: Live, filled: Filled) -> None:
    answer = rollback(live, {"to_revision": 1, "expected_revision": 2})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert (error["kind"], error["expected"], error["current"]) == (
        "RevisionMismatchError",
        2,
        3,
    )
    assert error["current_target"] == "version 1, 20% to version 2"
    assert "revision 3" in error["message"]
    assert filled.repo.get_alias("model", "prod").revision == 3
    assert len(filled.repo.list_alias_history("model", "prod")) == 3


@pytest.mark.parametrize("expected", [-1, "3", True, 1.5])
def test_rollback_refuses_an_expected_revision_of_the_wrong_kind(
    live: Live, filled: Filled, expected: object
) -> None:
    answer = rollback(live, {"expected_revision": expected})
    assert answer.status_code == 400
    assert filled.repo.get_alias("model", "prod").revision == 3


def test_the_library_rollback_is_a_compare_and_set(filled: Filled) -> None:
    with pytest.raises(RevisionMismatchError) as info:
        filled.repo.rollback_alias("model", "prod", to_revision=1, expected_revision=1)
    assert (info.value.expected, info.value.current, info.value.alias) == (1, 3, "prod")
    assert len(filled.repo.list_alias_history("model", "prod")) == 3
    back = filled.repo.rollback_alias("model", "prod", to_revision=1, expected_revision=3)
    assert (back.revision, back.version, back.secondary_version) == (4, "1", None)


def test_rollback_to_a_soft_deleted_target_is_refused(live: Live, filled: Filled) -> None:
    filled.repo.put_alias("model", "prod", 1, expected_revision=3)
    filled.repo.delete_artifact_version("model", 2)
    answer = rollback(live, {"to_revision": 3, "expected_revision": 4})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["kind"] == "VersionDeletedError"
    assert "restore" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_writes_need_the_bearer_token(live: Live, filled: Filled, headers: dict[str, str]) -> None:
    answer = put(live, {"version": 3, "expected_revision": 3}, headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["kind"] == "Unauthorized"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    rollback = live.client.post(f"{PROD}/rollback", json={}, headers=headers)
    assert rollback.status_code == 401
    assert filled.repo.get_alias("model", "prod").revision == 3


def test_reads_need_no_token(live: Live) -> None:
    assert live.client.get(PROD).status_code == 200


def test_a_server_without_token_is_read_only(filled: Filled, serve: Callable[..., Live]) -> None:
    live = serve(filled.repo, ServerSettings(token=None))
    for headers in ({}, AUTH):
        answer = put(live, {"version": 3, "expected_revision": 3}, headers)
        assert answer.status_code == 403
        assert answer.json()["error"]["kind"] == "ReadOnly"
        assert live.client.post(f"{PROD}/rollback", json={}, headers=headers).status_code == 403
    assert filled.repo.get_alias("model", "prod").revision == 3


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    check_binding(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com"])
def test_other_addresses_need_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(InvalidArgumentError, match="without a token"):
        check_binding(host, None)
    check_binding(host, "a-secret")


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="empty"):
        check_binding("127.0.0.1", "")
