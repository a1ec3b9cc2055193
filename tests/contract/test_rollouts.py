"""Progressive rollouts (issue 18), on both backends: steps as compare-and-sets recorded
in the alias history, checks that pass, fail, or are inconclusive, abort and promote from
any state, a change made outside the rollout pausing it, the lease, and adoption of a
change whose record write was lost. Holds run on an injected clock: nothing sleeps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import pytest

from tests.helpers import Backend, Repository, raises_versioned
from versioned import PRESETS, AliasState, Rollouts, exc
from versioned.rollout_check import CheckOutcome, run_check_command

NAME = "my-app"


class Clock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, tzinfo=timezone.utc)
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


class Checks:
    """A check runner answering from a script of outcomes (then passing)."""

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.seen: list[dict[str, str]] = []

    def __call__(self, command: str, env: Mapping[str, str], timeout: float) -> CheckOutcome:
        self.seen.append(dict(env))
        outcome = self.script.pop(0) if self.script else "passed"
        code = {"passed": 0, "failed": 1}.get(outcome)
        return CheckOutcome(outcome, code, f"scripted {outcome}")


@pytest.fixture
def published(repo: Repository) -> Repository:
    """``my-app`` with versions 1 to 4, ``prod`` on 1."""
    for number in range(1, 5):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    repo.put_alias(NAME, "prod", 1)
    return repo


def _controller(repo: Repository, clock: Clock, checks: Checks | None = None) -> Rollouts:
    return repo.rollouts(clock=clock, sleep=clock.sleep, runner=checks or Checks())


def _state(repo: Repository) -> AliasState:
    alias = repo.get_alias(NAME, "prod")
    return AliasState(alias.version, alias.secondary_version, alias.secondary_version_weight)


def _rollout_entries(repo: Repository) -> list[tuple[str | None, AliasState | None]]:
    history = repo.list_alias_history(NAME, "prod", limit=100)
    return [
        (h.reason, h.after) for h in reversed(history) if (h.reason or "").startswith("rollout")
    ]


def test_a_ramp_steps_once_each_in_order_and_promotes(published: Repository) -> None:
    repo, clock, checks = published, Clock(), Checks()
    rollouts = _controller(repo, clock, checks)
    started = rollouts.start(NAME, "prod", 2, steps="10,50,100", hold_seconds=60, check="true")
    assert (started.number, started.state, started.step, started.weight) == (1, "running", 1, 10)
    assert _state(repo) == AliasState("1", "2", 10)  # the current target stays primary
    assert started.due_at == clock.now + timedelta(seconds=60)
    # nothing is due before the hold ends: a step writes nothing to the alias
    assert rollouts.step(NAME, "prod").action == "waiting"
    assert repo.get_alias(NAME, "prod").revision == 2
    done = rollouts.run(NAME, "prod")
    assert (done.action, done.rollout.state) == ("completed", "completed")
    assert _rollout_entries(repo) == [
        ("rollout 1: step 1/3, 10 %", AliasState("1", "2", 10)),
        ("rollout 1: step 2/3, 50 %", AliasState("1", "2", 50)),
        ("rollout 1: step 3/3, 100 %", AliasState("2", None, None)),  # 100 %: 2 alone
    ]
    assert clock.slept and sum(clock.slept) >= 120  # two holds, on the injected clock
    assert [c["VERSIONED_ROLLOUT_WEIGHT"] for c in checks.seen] == ["10", "50"]
    first = checks.seen[0]
    assert (first["VERSIONED_ROLLOUT_NAME"], first["VERSIONED_ROLLOUT_ALIAS"]) == (NAME, "prod")
    assert (first["VERSIONED_ROLLOUT_VERSION"], first["VERSIONED_ROLLOUT_STABLE_VERSION"]) == (
        "2",
        "1",
    )
    assert (first["VERSIONED_ROLLOUT_STEP"], first["VERSIONED_ROLLOUT"]) == ("1", "1")
    status = rollouts.get(NAME, "prod").to_json()
    assert status["state"] == "completed" and status["weight"] == 100
    assert [c["outcome"] for c in status["checks"]] == ["passed", "passed"]
    assert repo.verify_alias_history(NAME, "prod").ok
    # a finished rollout is idle: stepping it again does nothing
    assert rollouts.step(NAME, "prod").action == "ended"
    assert rollouts.run(NAME, "prod").rollout.state == "completed"


@pytest.mark.parametrize(
    "steps",
    [
        "10,50",
        [50, 10, 100],
        [0, 100],
        [10, 101],
        [10, 10, 100],
        "ten,100",
        [],
        [True, 100],
        # digits int() refuses (a superscript; past its 4,300-digit limit): were a ValueError
        "10,\u00b2,100",
        "1" + "0" * 5000 + ",100",
    ],
)
def test_bad_steps_are_refused_with_nothing_written(
    backend: Backend, published: Repository, steps: object
) -> None:
    before = backend.state()
    with raises_versioned(exc.InvalidArgumentError):
        _controller(published, Clock()).start(NAME, "prod", 2, steps=steps)
    assert backend.state() == before


def test_steps_that_cannot_reach_100_say_so(published: Repository) -> None:
    with raises_versioned(exc.InvalidArgumentError) as info:
        _controller(published, Clock()).start(NAME, "prod", 2, steps=[25, 50, 75])
    assert "last step must be 100" in str(info.value) and "25,50,75,100" in str(info.value)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"steps": [10, 100], "preset": "AllAtOnce"}, exc.InvalidArgumentError),
        ({}, exc.InvalidArgumentError),
        ({"preset": "Canary99Percent"}, exc.InvalidArgumentError),
        ({"steps": [100], "hold_seconds": -1}, exc.InvalidArgumentError),
        ({"steps": [100], "failure_limit": -1}, exc.InvalidArgumentError),
        ({"steps": [100], "check": ""}, exc.InvalidArgumentError),
        ({"steps": [100], "check_timeout_seconds": 0}, exc.InvalidArgumentError),
    ],
)
def test_bad_arguments_are_refused_with_nothing_written(
    backend: Backend, published: Repository, arguments: dict[str, object], error: type
) -> None:
    before = backend.state()
    with raises_versioned(error):
        _controller(published, Clock()).start(NAME, "prod", 2, **arguments)  # type: ignore[arg-type]
    assert backend.state() == before


def test_what_a_start_needs(backend: Backend, published: Repository) -> None:
    rollouts = _controller(published, Clock())
    before = backend.state()
    with raises_versioned(exc.InvalidArgumentError):
        rollouts.start(NAME, "staging", 2, steps=[100])  # no such alias
    with raises_versioned(exc.InvalidArgumentError):
        rollouts.start(NAME, "prod", "LATEST", steps=[100])
    with raises_versioned(exc.RolloutError):
        rollouts.start(NAME, "prod", 1, steps=[100])  # already the primary
    published.delete_artifact_version(NAME, 4)
    before = backend.state()
    with raises_versioned(exc.ArtifactNotFoundError):
        rollouts.start(NAME, "prod", 4, steps=[100])
    assert backend.state() == before
    rollouts.start(NAME, "prod", 2, steps=[10, 100])
    with raises_versioned(exc.RolloutError) as info:
        rollouts.start(NAME, "prod", 3, steps=[100])
    assert "rollout 1" in str(info.value) and "running" in str(info.value)


def test_every_preset_is_known_and_reaches_100(published: Repository) -> None:
    wanted = {
        "Canary10Percent5Minutes": ((10, 100), 300),
        "Canary10Percent10Minutes": ((10, 100), 600),
        "Canary10Percent15Minutes": ((10, 100), 900),
        "Canary10Percent30Minutes": ((10, 100), 1800),
        "Linear10PercentEvery1Minute": (tuple(range(10, 101, 10)), 60),
        "Linear10PercentEvery2Minutes": (tuple(range(10, 101, 10)), 120),
        "Linear10PercentEvery3Minutes": (tuple(range(10, 101, 10)), 180),
        "Linear10PercentEvery10Minutes": (tuple(range(10, 101, 10)), 600),
        "AllAtOnce": ((100,), 0),
        "AppConfig.Linear50PercentEvery30Seconds": ((50, 100), 30),
        "AppConfig.Linear20PercentEvery6Minutes": ((20, 40, 60, 80, 100), 360),
        "AppConfig.AllAtOnce": ((100,), 0),
    }
    for name, (steps, hold) in wanted.items():
        assert (PRESETS[name].steps, PRESETS[name].hold_seconds) == (steps, hold), name
    assert "AppConfig.Canary10Percent20Minutes" in PRESETS
    clock = Clock()
    rollout = _controller(published, clock).start(
        NAME, "prod", 2, preset="CodeDeployDefault.LambdaCanary10Percent5Minutes"
    )
    assert (rollout.steps, rollout.hold_seconds, rollout.weight) == ((10, 100), 300, 10)


def test_all_at_once_promotes_at_start(published: Repository) -> None:
    rollout = _controller(published, Clock()).start(NAME, "prod", 3, preset="AllAtOnce")
    assert rollout.state == "completed" and _state(published) == AliasState("3", None, None)


@pytest.mark.parametrize("at_step", [1, 2])
def test_a_failed_check_aborts_back_to_the_targets_before(
    published: Repository, at_step: int
) -> None:
    repo, clock = published, Clock()
    repo.put_alias(NAME, "prod", 1, secondary_version=4, secondary_version_weight=5)
    script = ["passed"] * (at_step - 1) + ["failed"]
    rollouts = _controller(repo, clock, Checks(*script))
    rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30, check="probe")
    result = rollouts.run(NAME, "prod")
    assert (result.action, result.rollout.state) == ("aborted", "aborted")
    assert "check failed at step" in (result.rollout.state_reason or "")
    assert _state(repo) == AliasState("1", "4", 5)  # exactly what it had, split included
    reasons = [reason for reason, _ in _rollout_entries(repo)]
    assert len(reasons) == at_step + 1 and reasons[-1].startswith("rollout 1: abort")


def test_failures_within_the_limit_hold_the_step_again(published: Repository) -> None:
    repo, clock = published, Clock()
    rollouts = _controller(repo, clock, Checks("failed", "passed", "failed", "failed"))
    rollouts.start(
        NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30, failure_limit=2, check="x"
    )
    clock.sleep(30)
    held = rollouts.step(NAME, "prod")
    assert held.action == "checked" and held.rollout.failures == 1
    assert _state(repo) == AliasState("1", "2", 10)  # not advanced
    assert held.rollout.due_at == clock.now + timedelta(seconds=30)  # held again
    result = rollouts.run(NAME, "prod")  # passes at 10 %, then fails twice more at 50 %
    assert result.rollout.state == "aborted" and result.rollout.failures == 3
    assert _state(repo) == AliasState("1", None, None)


@pytest.mark.parametrize("at_step", [1, 2])
def test_an_inconclusive_check_pauses_with_the_alias_untouched(
    published: Repository, at_step: int
) -> None:
    repo, clock = published, Clock()
    script = ["passed"] * (at_step - 1) + ["inconclusive"]
    rollouts = _controller(repo, clock, Checks(*script))
    rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30, check="x")
    result = rollouts.run(NAME, "prod")
    assert (result.action, result.rollout.state) == ("paused", "paused")
    assert "inconclusive" in (result.rollout.state_reason or "")
    assert _state(repo) == AliasState("1", "2", (10, 50)[at_step - 1])
    # resumed, the check runs again at once and the ramp goes on
    rollouts.resume(NAME, "prod")
    assert rollouts.run(NAME, "prod").rollout.state == "completed"
    assert _state(repo) == AliasState("2", None, None)


def test_the_check_command_is_judged_by_its_exit_code() -> None:
    env = {"VERSIONED_ROLLOUT_WEIGHT": "50"}
    assert run_check_command('test "$VERSIONED_ROLLOUT_WEIGHT" = 50', env, 10).outcome == "passed"
    failed = run_check_command("echo error rate 7%; exit 1", env, 10)
    assert (failed.outcome, failed.exit_code) == ("failed", 1) and "error rate 7%" in failed.detail
    assert run_check_command("exit 3", env, 10).outcome == "inconclusive"
    timed_out = run_check_command("sleep 30", env, 0.3)
    assert (timed_out.outcome, timed_out.exit_code) == ("inconclusive", None)
    assert "timed out" in timed_out.detail


def test_a_bake_after_100_aborts_on_failure(published: Repository) -> None:
    repo, clock = published, Clock()
    rollouts = _controller(repo, clock, Checks("passed", "failed"))
    rollouts.start(NAME, "prod", 2, steps=[50, 100], hold_seconds=30, bake_seconds=600, check="x")
    first = rollouts.run(NAME, "prod")
    assert first.rollout.state == "aborted" and _state(repo) == AliasState("1", None, None)
    assert first.rollout.step == 2  # it had reached 100 %, then the bake's check failed


def test_a_change_outside_the_rollout_pauses_it_and_is_never_overwritten(
    published: Repository,
) -> None:
    repo, clock = published, Clock()
    rollouts = _controller(repo, clock)
    rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30, check="x")
    repo.put_alias(NAME, "prod", 3, reason="hotfix by hand")
    clock.sleep(31)
    result = rollouts.step(NAME, "prod")
    assert result.action == "paused" and "outside the rollout" in (
        result.rollout.state_reason or ""
    )
    assert _state(repo) == AliasState("3", None, None)
    assert rollouts.run(NAME, "prod").rollout.state == "paused"
    assert _state(repo) == AliasState("3", None, None)  # still: never overwritten
    # resume says what it would do first, and needs the alias's revision to go ahead
    with raises_versioned(exc.RolloutError) as info:
        rollouts.resume(NAME, "prod")
    assert "--if-revision 3" in str(info.value) and "version 3, 10% to version 2" in str(info.value)
    assert _state(repo) == AliasState("3", None, None)
    resumed = rollouts.resume(NAME, "prod", expected_revision=3)
    assert resumed.state == "running" and _state(repo) == AliasState("3", "2", 10)
    assert rollouts.abort(NAME, "prod").state == "aborted"
    assert _state(repo) == AliasState("3", None, None)  # the primary it resumed from


def test_abort_from_any_state(published: Repository) -> None:
    repo, clock = published, Clock()
    rollouts = _controller(repo, clock)
    rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=300)
    clock.sleep(300)
    rollouts.step(NAME, "prod")  # 50 %, mid-hold now
    aborted = rollouts.abort(NAME, "prod", reason="errors up")
    assert aborted.state == "aborted" and _state(repo) == AliasState("1", None, None)
    assert _rollout_entries(repo)[-1][0] == "rollout 1: abort (errors up)"
    assert rollouts.abort(NAME, "prod").seq == aborted.seq  # again: nothing more
    with raises_versioned(exc.RolloutError):
        rollouts.promote(NAME, "prod")
    # paused, then aborted
    rollouts.start(NAME, "prod", 3, steps=[20, 100], hold_seconds=300)
    assert rollouts.pause(NAME, "prod", reason="looking").state == "paused"
    clock.sleep(301)
    assert rollouts.step(NAME, "prod").action == "paused"  # a pause holds
    assert rollouts.abort(NAME, "prod").state == "aborted"
    assert _state(repo) == AliasState("1", None, None)
    # completed: too late
    rollouts.start(NAME, "prod", 3, preset="AllAtOnce")
    with raises_versioned(exc.RolloutError) as info:
        rollouts.abort(NAME, "prod")
    assert "completed" in str(info.value) and "rollback" in str(info.value)


def test_an_abort_leaves_an_alias_changed_outside_the_rollout(published: Repository) -> None:
    repo = published
    rollouts = _controller(repo, Clock())
    rollouts.start(NAME, "prod", 2, steps=[10, 100], hold_seconds=300)
    repo.put_alias(NAME, "prod", 4, reason="someone else")
    aborted = rollouts.abort(NAME, "prod")
    assert aborted.state == "aborted" and "left as it is" in (aborted.state_reason or "")
    assert _state(repo) == AliasState("4", None, None)


def test_promote_goes_straight_to_100(published: Repository) -> None:
    repo = published
    rollouts = _controller(repo, Clock())
    rollouts.start(NAME, "prod", 2, steps=[5, 10, 20, 50, 100], hold_seconds=3600)
    promoted = rollouts.promote(NAME, "prod", reason="looks good")
    assert promoted.state == "completed" and promoted.weight == 100
    assert _state(repo) == AliasState("2", None, None)
    assert _rollout_entries(repo)[-1][0] == "rollout 1: promote, 100 % (looks good)"


def test_a_step_whose_record_write_was_lost_is_adopted_not_repeated(
    published: Repository,
) -> None:
    """A controller that died after changing the alias and before writing the record:
    the next controller finds the change, recognises it, and goes on from there."""
    repo, clock = published, Clock()
    rollouts = _controller(repo, clock)
    started = rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30)
    # what the dead controller did: the alias change of step 2, and nothing more
    repo.put_alias(
        NAME, "prod", 1, 2, 50, expected_revision=started.last_revision,
        reason=started.step_reason(2),
    )  # fmt: skip
    clock.sleep(31)
    result = rollouts.step(NAME, "prod")
    assert result.rollout.step == 2 and result.action == "waiting"  # adopted; hold restarts
    rollouts.run(NAME, "prod")
    assert [r for r, _ in _rollout_entries(repo)] == [
        "rollout 1: step 1/3, 10 %",
        "rollout 1: step 2/3, 50 %",
        "rollout 1: step 3/3, 100 %",
    ]


def test_a_start_whose_first_step_was_never_written_is_finished_by_a_controller(
    backend: Backend, published: Repository
) -> None:
    repo, clock = published, Clock()
    rollouts = _controller(repo, clock)
    rollouts.start(NAME, "prod", 2, steps=[10, 100], hold_seconds=30)
    rollouts.abort(NAME, "prod")
    # a record at step 0 (the starter died after writing it): the next step applies 1
    from versioned import rollout_plan, rollout_record
    from versioned.stores.base import StoredRollout

    record = rollouts.get(NAME, "prod")
    fresh = rollout_plan.changed(
        record, clock.now, number=2, state="running", step=0, due_at=clock.now,
        last_revision=repo.get_alias(NAME, "prod").revision, events=(), state_reason=None,
    )  # fmt: skip
    stored = StoredRollout(NAME, "prod", 2, 1, rollout_record.encode(fresh))
    repo._engine.backend.write_rollout(stored, 0)
    assert rollouts.step(NAME, "prod").action == "stepped"
    assert _state(repo) == AliasState("1", "2", 10)


def test_one_controller_holds_the_lease(published: Repository) -> None:
    repo, clock = published, Clock()
    first = _controller(repo, clock)
    second = _controller(repo, clock)
    first.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30)
    clock.sleep(30)
    assert first.step(NAME, "prod", keep_lease=True).action == "stepped"
    assert second.step(NAME, "prod").action == "held"
    held = second.get(NAME, "prod")
    assert held.lease_owner == first.controller and held.step == 2
    # the holder stops renewing (frozen or dead): once the lease runs out, another takes
    # over, and the frozen one's next write is refused
    clock.sleep(200)
    assert second.step(NAME, "prod").action == "completed"  # step 3 is 100 %
    assert second.get(NAME, "prod").step == 3
    assert first.step(NAME, "prod").action == "ended"
    assert [r for r, _ in _rollout_entries(repo)] == [
        "rollout 1: step 1/3, 10 %",
        "rollout 1: step 2/3, 50 %",
        "rollout 1: step 3/3, 100 %",
    ]


def test_a_stale_record_write_is_refused(published: Repository) -> None:
    rollouts = _controller(published, Clock())
    started = rollouts.start(NAME, "prod", 2, steps=[10, 100])
    rollouts.pause(NAME, "prod")
    with raises_versioned(exc.StaleRolloutError):
        rollouts._save(started)  # planned from the record before the pause


def test_sticky_routing_only_moves_keys_onto_the_new_version(published: Repository) -> None:
    repo, clock = published, Clock()
    rollouts = _controller(repo, clock)
    rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30)
    keys = [f"user-{n}" for n in range(2000)]
    at_10 = {k for k in keys if repo.get_alias(NAME, "prod").route(k) == "2"}
    clock.sleep(30)
    rollouts.step(NAME, "prod")
    at_50 = {k for k in keys if repo.get_alias(NAME, "prod").route(k) == "2"}
    assert at_10 <= at_50 and 100 < len(at_10) < 300 and 850 < len(at_50) < 1150
    clock.sleep(30)
    rollouts.step(NAME, "prod")
    assert all(repo.get_alias(NAME, "prod").route(k) == "2" for k in keys[:50])


def test_rollouts_are_numbered_listed_and_purged(published: Repository) -> None:
    repo = published
    rollouts = _controller(repo, Clock())
    rollouts.start(NAME, "prod", 2, preset="AllAtOnce")
    rollouts.start(NAME, "prod", 3, steps=[10, 100])
    assert [r.number for r in rollouts.list(NAME, "prod")] == [2, 1]
    assert rollouts.get(NAME, "prod", 1).state == "completed"
    assert NAME in repo.list_artifact_names()
    repo.purge_artifact(NAME)
    with raises_versioned(exc.RolloutError):
        rollouts.get(NAME, "prod")
    assert repo.list_artifact_names() == []


def test_an_abort_whose_old_split_version_is_gone_goes_back_to_the_primary(
    published: Repository,
) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1, secondary_version=4, secondary_version_weight=5)
    rollouts = _controller(repo, Clock())
    rollouts.start(NAME, "prod", 2, steps=[10, 100], hold_seconds=300)
    repo.delete_artifact_version(NAME, 4)  # no alias points at 4 any more: allowed
    aborted = rollouts.abort(NAME, "prod", reason="bad")
    assert aborted.state == "aborted" and "primary alone" in (aborted.state_reason or "")
    assert _state(repo) == AliasState("1", None, None)  # 2 is out of traffic either way


def test_two_controllers_running_at_once_apply_each_step_once(published: Repository) -> None:
    import threading
    import time

    repo = published

    def short_sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.02))  # real time, but never a long wait in a test

    controllers = [repo.rollouts(sleep=short_sleep, runner=Checks()) for _ in range(2)]
    controllers[0].start(NAME, "prod", 2, steps=[10, 25, 50, 75, 100], check="x")
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(c.run(NAME, "prod").rollout.state))
        for c in controllers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert results == ["completed", "completed"]
    assert [r for r, _ in _rollout_entries(repo)] == [
        f"rollout 1: step {n}/5, {w} %" for n, w in enumerate([10, 25, 50, 75, 100], start=1)
    ]
    assert repo.verify_alias_history(NAME, "prod").ok


def test_a_start_refuses_an_alias_already_splitting_to_the_new_version(
    backend: Backend, published: Repository
) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1, secondary_version=2, secondary_version_weight=30)
    before = backend.state()
    with raises_versioned(exc.RolloutError) as info:
        _controller(repo, Clock()).start(NAME, "prod", 2, steps=[10, 100])
    assert "already sends 30% to version 2" in str(info.value)
    assert backend.state() == before


def test_a_pause_while_the_check_runs_stops_the_step(published: Repository) -> None:
    """The check's result is recorded with a compare-and-set on the record before the
    step: a pause that landed during the check (however long it runs) refuses it."""
    repo, clock = published, Clock()
    other = _controller(repo, clock)

    def pausing_check(command: str, env: Mapping[str, str], timeout: float) -> CheckOutcome:
        other.pause(NAME, "prod", reason="looks odd")  # someone pauses mid-check
        return CheckOutcome("passed", 0, "ok")

    rollouts = repo.rollouts(clock=clock, sleep=clock.sleep, runner=pausing_check)
    rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30, check="x")
    clock.sleep(30)
    result = rollouts.step(NAME, "prod")
    assert result.rollout.state == "paused" and result.action == "paused"
    assert _state(repo) == AliasState("1", "2", 10)  # the step did not land
