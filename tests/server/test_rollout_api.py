"""Rollouts over the JSON API, on both backends: the status of the newest rollout, of
rollout N and the list; pause, resume, promote and abort only with the token, recorded
as the token's; a state that refuses an action answers 409 naming the rollout and its
state, no rollout 404."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.server.conftest import TOKEN, Filled, Live
from tests.server.rollout_setup import FAILED, HOLD, INCONCLUSIVE, PASSED, Setup
from versioned.server import ServerSettings
from versioned.server.rollout_views import controller
from versioned.stores.base import Targets
from versioned.timestamps import to_storage

pytestmark = pytest.mark.timeout(120)

CANARY = "/api/artifacts/model/aliases/canary"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ACTIONS = ("pause", "resume", "promote", "abort")


def act(live: Live, action: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    return live.client.post(
        f"{CANARY}/rollout/{action}",
        json=body,
        headers=AUTH if headers is None else headers,
    )


def stored(filled: Filled, number: int | None = None) -> Any:
    """The rollout as the store keeps it now (read past the server)."""
    return filled.repo.rollouts().get("model", "canary", number)


def test_status_of_a_running_rollout(live: Live, filled: Filled) -> None:
    setup = Setup(filled.repo)
    setup.start()
    rollout = setup.after_hold(PASSED)
    answer = live.client.get(f"{CANARY}/rollout")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["number"], body["state"], body["step"], body["weight"]) == (1, "running", 2, 50)
    assert body["steps"] == [10, 50, 100]
    assert body["version"] == 3
    assert body["next_action"] == "run the check, then promote (100 %)"
    assert body["due_at"] == to_storage(setup.now + timedelta(seconds=HOLD))
    [check] = body["checks"]
    assert check == {
        "step": 1,
        "weight": 10,
        "at": to_storage(setup.now),
        "outcome": "passed",
        "exit_code": 0,
        "detail": "p99 120 ms",
    }
    assert body["before"] == {
        "version": 1,
        "secondary_version": None,
        "secondary_version_weight": None,
    }
    assert body == rollout.to_json()
    assert answer.headers["etag"]
    again = live.client.get(f"{CANARY}/rollout", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304


def test_rollout_n_and_the_list_newest_first(live: Live, filled: Filled) -> None:
    setup = Setup(filled.repo)
    setup.start()
    setup.rollouts.abort("model", "canary", "bad canary")
    setup.start(version=2)
    one = live.client.get(f"{CANARY}/rollouts/1").json()
    assert (one["number"], one["state"], one["version"]) == (1, "aborted", 3)
    listed = live.client.get(f"{CANARY}/rollouts").json()
    assert [r["number"] for r in listed["rollouts"]] == [2, 1]
    assert [r["state"] for r in listed["rollouts"]] == ["running", "aborted"]
    assert (listed["name"], listed["alias"]) == ("model", "canary")
    assert [
        r["number"] for r in live.client.get(f"{CANARY}/rollouts?limit=1").json()["rollouts"]
    ] == [2]
    assert live.client.get(f"{CANARY}/rollout").json()["number"] == 2
    assert live.client.get(f"{CANARY}/rollouts?limit=0").status_code == 400
    assert live.client.get(f"{CANARY}/rollouts/x").status_code == 400


def test_checks_failed_and_inconclusive_show_in_the_status(live: Live, filled: Filled) -> None:
    setup = Setup(filled.repo)
    setup.start(failure_limit=1)
    setup.after_hold(FAILED)  # within the limit: the step is held again
    setup.after_hold(INCONCLUSIVE)  # pauses
    body = live.client.get(f"{CANARY}/rollout").json()
    assert body["state"] == "paused"
    assert body["step"] == 1
    assert body["failures"] == 1
    assert [(c["outcome"], c["exit_code"]) for c in body["checks"]] == [
        ("failed", 1),
        ("inconclusive", 3),
    ]
    assert body["checks"][1]["detail"] == "metrics backend timed out"
    assert body["state_reason"]


def test_no_rollout_is_404(live: Live, filled: Filled) -> None:
    filled.repo.put_alias("model", "canary", 1)
    for path in (f"{CANARY}/rollout", f"{CANARY}/rollouts/7"):
        answer = live.client.get(path)
        assert answer.status_code == 404, path
        error = answer.json()["error"]
        assert (error["kind"], error["name"], error["alias"]) == ("RolloutError", "model", "canary")
    assert live.client.get(f"{CANARY}/rollouts").json()["rollouts"] == []
    for action in ACTIONS:
        answer = act(live, action, {})
        assert answer.status_code == 404, action
        assert answer.json()["error"]["kind"] == "RolloutError"
    assert filled.repo.get_alias("model", "canary").revision == 1


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_actions_need_the_token(
    live: Live, filled: Filled, action: str, headers: dict[str, str]
) -> None:
    setup = Setup(filled.repo)
    before = setup.start()
    answer = act(live, action, {"reason": "x"}, headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["kind"] == "Unauthorized"
    assert stored(filled).seq == before.seq
    assert filled.repo.get_alias("model", "canary").revision == before.last_revision


def test_a_read_only_server_refuses_every_action(
    filled: Filled, serve: Callable[..., Live]
) -> None:
    live = serve(filled.repo, ServerSettings(token=None))
    before = Setup(filled.repo).start()
    for action in ACTIONS:
        answer = act(live, action, {}, AUTH)
        assert answer.status_code == 403, action
        assert answer.json()["error"]["kind"] == "ReadOnly"
    assert stored(filled).seq == before.seq
    assert live.client.get(f"{CANARY}/rollout").status_code == 200  # reads stay open


def test_pause_then_resume_recorded_as_the_token(
    filled: Filled, serve: Callable[..., Live]
) -> None:
    live = serve(filled.repo, ServerSettings(tokens=(("alice", "tok-alice-1"),)))
    alice = {"Authorization": "Bearer tok-alice-1"}
    Setup(filled.repo).start()
    paused = act(live, "pause", {"reason": "investigating"}, alice)
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"] == "paused"
    record = stored(filled)
    assert record.state == "paused"
    assert record.state_reason == "paused by token:alice: investigating"
    assert record.events[-1].who == "token:alice"
    again = act(live, "pause", None, alice)  # no body at all; pausing a paused one answers it
    assert again.status_code == 200
    resumed = act(live, "resume", {"reason": "false alarm"}, alice)
    assert resumed.status_code == 200, resumed.text
    assert stored(filled).state == "running"
    assert stored(filled).events[-1].who == "token:alice"


def test_promote_goes_to_100_and_records_the_token(live: Live, filled: Filled) -> None:
    Setup(filled.repo).start()
    answer = act(live, "promote", {"reason": "looks good"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["state"], answer.json()["weight"]) == ("completed", 100)
    alias = filled.repo.get_alias("model", "canary")
    assert (alias.version, alias.secondary_version) == ("3", None)
    [newest] = filled.repo.list_alias_history("model", "canary", limit=1)
    assert newest.reason == "rollout 1: promote, 100 % (looks good)"
    assert newest.who == "token:default"


def test_abort_restores_the_targets_before(live: Live, filled: Filled) -> None:
    setup = Setup(filled.repo)
    setup.start()
    setup.after_hold(PASSED)
    answer = act(live, "abort", {"reason": "latency"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "aborted"
    alias = filled.repo.get_alias("model", "canary")
    assert (alias.version, alias.secondary_version) == ("1", None)
    [newest] = filled.repo.list_alias_history("model", "canary", limit=1)
    assert newest.reason == "rollout 1: abort (latency)"
    assert newest.who == "token:default"
    assert stored(filled).state == "aborted"


@pytest.mark.parametrize(
    ("first", "then"), [("abort", "promote"), ("promote", "pause"), ("promote", "abort")]
)
def test_a_state_that_refuses_the_action_is_409(
    live: Live, filled: Filled, first: str, then: str
) -> None:
    Setup(filled.repo).start()
    assert act(live, first, {}).status_code == 200
    ended = stored(filled)
    answer = act(live, then, {"reason": "too late"})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["kind"] == "RolloutError"
    assert (error["name"], error["alias"], error["number"]) == ("model", "canary", 1)
    assert error["state"] == ended.state
    assert f"is {ended.state}" in error["message"]
    assert stored(filled).seq == ended.seq


def test_resume_onto_an_alias_changed_outside_says_what_it_would_do(
    live: Live, filled: Filled
) -> None:
    setup = Setup(filled.repo)
    started = setup.start()
    filled.repo.put_alias(
        "model", "canary", 2, expected_revision=started.last_revision, reason="hotfix"
    )
    setup.after_hold(PASSED)  # the controller sees the outside change and pauses
    assert stored(filled).state == "paused"
    revision = filled.repo.get_alias("model", "canary").revision
    for body in ({}, {"expected_revision": revision - 1}):
        answer = act(live, "resume", body)
        assert answer.status_code == 409, body
        error = answer.json()["error"]
        assert (error["number"], error["state"]) == (1, "paused")
        assert error["current_revision"] == revision
        assert "resuming sets it to version 2, 10% to version 3" in error["resume_plan"]
        assert error["resume_plan"] in error["message"]
        assert filled.repo.get_alias("model", "canary").revision == revision
    answer = act(live, "resume", {"expected_revision": revision, "reason": "go on"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "running"
    alias = filled.repo.get_alias("model", "canary")
    assert alias.revision == revision + 1
    assert (alias.version, alias.secondary_version, alias.secondary_version_weight) == (
        "2",
        "3",
        10,
    )
    assert stored(filled).before == Targets(2)


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("pause", {"expected_revision": 3}),
        ("abort", {"colour": "red"}),
        ("resume", {"expected_revision": "three"}),
        ("promote", [1, 2]),
    ],
)
def test_bad_bodies_are_refused_and_change_nothing(
    live: Live, filled: Filled, action: str, body: Any
) -> None:
    before = Setup(filled.repo).start()
    answer = act(live, action, body)
    assert answer.status_code == 400, answer.text
    assert stored(filled).seq == before.seq


def test_the_server_never_runs_a_check(filled: Filled) -> None:
    rollouts = controller(filled.repo)
    with pytest.raises(RuntimeError, match="never runs check commands"):
        rollouts.runner("touch /tmp/pwned", {}, 1.0)
