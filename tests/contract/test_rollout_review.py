"""Adversarial review of progressive rollouts (issue 18): races and limits the first
round of tests missed, on both backends."""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from typing import Any

import pytest

from tests.contract.test_rollouts import NAME, Clock, _controller, _state, published
from tests.helpers import Backend, Repository, raises_versioned
from versioned import AliasState, exc
from versioned.rollout_check import CheckOutcome, run_check_command

__all__ = ["published"]


def test_an_abort_while_the_first_step_is_being_applied_keeps_the_new_version_out(
    published: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``start`` writes the record (step 0), then the alias. An abort landing between
    the two used to record ``aborted`` without touching the alias, so the starter's
    compare-and-set (on the revision it started from) still went through: the new
    version took traffic under an aborted rollout."""
    repo, clock = published, Clock()
    starter, other = _controller(repo, clock), _controller(repo, clock)
    real = starter._set_alias
    aborted: list[Any] = []

    def abort_first(*args: Any, **kwargs: Any) -> Any:
        if not aborted:
            aborted.append(other.abort(NAME, "prod", reason="stop"))
        return real(*args, **kwargs)

    monkeypatch.setattr(starter, "_set_alias", abort_first)
    with contextlib.suppress(exc.VersionedError):  # either way: what matters is the alias
        starter.start(NAME, "prod", 2, steps=[10, 100], hold_seconds=30)
    assert aborted[0].state == "aborted"
    assert starter.get(NAME, "prod").state == "aborted"
    assert _state(repo) == AliasState("1", None, None)
    # nothing later brings it back either
    clock.sleep(60)
    assert starter.step(NAME, "prod").action == "ended"
    assert _state(repo) == AliasState("1", None, None)


def test_a_record_full_of_wide_check_output_still_fits_a_dynamodb_item(
    published: Repository,
) -> None:
    """Checks and events are capped at 200, and a check keeps the last 300 characters
    of its output, but not bytes: output of emoji (or binary garbage, read as U+FFFD)
    is stored escaped, 6 to 12 bytes a character, so 200 checks passed DynamoDB's 400 KB
    item limit and every later write of the record failed, the abort's included."""
    repo, clock = published, Clock()
    wide = run_check_command("printf '\\360\\237\\232\\200%.0s' $(seq 400); exit 1", {}, 10)
    assert wide.outcome == "failed" and len(wide.detail) > 250

    def failing(command: str, env: Any, timeout: float) -> CheckOutcome:
        return wide

    rollouts = repo.rollouts(clock=clock, sleep=clock.sleep, runner=failing)
    rollouts.start(
        NAME, "prod", 2, steps=[10, 100], hold_seconds=1, check="probe", failure_limit=10_000
    )
    for _ in range(230):
        clock.sleep(1)
        assert rollouts.step(NAME, "prod").action == "checked"
    kept = rollouts.get(NAME, "prod")
    assert kept.failures == 230 and kept.checks[-1].detail == wide.detail
    assert rollouts.abort(NAME, "prod", reason="too many failures").state == "aborted"
    assert _state(repo) == AliasState("1", None, None)


def test_a_controller_frozen_past_its_lease_does_not_step_a_paused_rollout(
    published: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A controller took the lease and froze before its alias change; its lease ran out
    and someone paused the rollout. Pausing leaves the alias alone, so the compare-and-set
    on the alias still matched: the thawed controller put more traffic on the new
    version of a paused rollout, long after its lease ended."""
    repo, clock = published, Clock()
    frozen, person = _controller(repo, clock), _controller(repo, clock)
    frozen.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=30)
    clock.sleep(30)
    real = frozen._reconcile
    froze: list[bool] = []

    def reconcile_then_freeze(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        if not froze:
            froze.append(True)
            clock.sleep(3600)  # frozen for an hour, far past the lease
            person.pause(NAME, "prod", reason="errors up")
        return found

    monkeypatch.setattr(frozen, "_reconcile", reconcile_then_freeze)
    frozen.step(NAME, "prod")
    assert froze
    assert _state(repo) == AliasState("1", "2", 10)
    paused = person.get(NAME, "prod")
    assert paused.state == "paused" and paused.step == 1


def test_a_check_is_judged_by_its_exit_even_if_it_leaves_a_process_holding_its_output() -> None:
    """The check's output was read to its end: a check that exits 0 but leaves a
    process of its own session behind (``setsid cmd &``) holding standard output was
    taken for a timeout, and then the controller waited for that process, forever."""
    began = time.monotonic()
    outcome = run_check_command("echo ok; setsid sleep 20 & exit 0", {}, 3)
    assert outcome.outcome == "passed" and outcome.exit_code == 0 and "ok" in outcome.detail
    assert time.monotonic() - began < 10


def test_a_check_printing_a_lot_keeps_only_its_tail_in_memory() -> None:
    tracemalloc.start()
    try:
        outcome = run_check_command(
            "head -c 40000000 /dev/zero | tr '\\0' x; echo; echo last line; exit 1", {}, 60
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.outcome == "failed" and outcome.detail.endswith("last line")
    assert peak < 8_000_000


def test_a_check_command_too_long_to_run_is_refused_with_nothing_written(
    backend: Backend, published: Repository
) -> None:
    """A check command of 200,000 characters was accepted (and stored in every record
    write), but Linux runs no argument past 128 KiB: each check then 'could not start'
    and the rollout paused at its first hold."""
    before = backend.state()
    with raises_versioned(exc.InvalidArgumentError):
        _controller(published, Clock()).start(
            NAME, "prod", 2, steps=[10, 100], check="true #" + "x" * 200_000
        )
    assert backend.state() == before
    long_enough = "true #" + "x" * 10_000  # a long inline script is still fine
    assert (
        _controller(published, Clock())
        .start(NAME, "prod", 2, steps=[10, 100], check=long_enough)
        .check
        == long_enough
    )


def test_a_pause_for_a_change_1_0_1_made_names_that_change(s3_backend: Any) -> None:
    """1.0.1 rewrites the alias item without a history entry; readers see it at the
    next revision. The pause then named the rollout's own last change (its revision and
    its writer) as the change made outside it."""
    from tests.legacy import Legacy

    b = s3_backend
    legacy = Legacy(b.s3, b.dynamodb, b.bucket, b.table, b.prefix, b.suffix)
    repo, clock = b.repo, Clock()
    for number in range(3):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    repo.put_alias(NAME, "prod", 1)
    rollouts = _controller(repo, clock)
    started = rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=10)
    legacy.put_alias(NAME, "prod", 3)
    clock.sleep(11)
    result = rollouts.step(NAME, "prod")
    assert result.action == "paused" and _state(repo) == AliasState("3", None, None)
    said = result.rollout.state_reason or ""
    assert f"at revision {started.last_revision + 1} " in said, said
    assert started.who not in said, said


@pytest.mark.parametrize("action", ["abort", "promote"])
def test_a_reason_as_long_as_any_other_aborts_and_promotes(
    published: Repository, action: str
) -> None:
    """A reason may have 1,024 characters, but abort and promote wrap it in the alias
    change's reason (``rollout 1: abort (...)``), which put_alias then refused as too
    long: an abort with a long reason failed with the alias still on the new version."""
    repo = published
    rollouts = _controller(repo, Clock())
    rollouts.start(NAME, "prod", 2, steps=[10, 50, 100], hold_seconds=300)
    why = "é" * 1024
    done = getattr(rollouts, action)(NAME, "prod", why)
    assert done.state == {"abort": "aborted", "promote": "completed"}[action]
    expected = {"abort": AliasState("1", None, None), "promote": AliasState("2", None, None)}
    assert _state(repo) == expected[action]
    entry = repo.list_alias_history(NAME, "prod", limit=1)[0]
    assert (entry.reason or "").startswith(f"rollout 1: {action}")


def test_a_failing_check_with_colored_output_still_aborts(published: Repository) -> None:
    """A failing check's output goes into the abort's reason in the alias history, and
    an alias change's reason takes no control characters: a check printing colors (ANSI
    escapes) or tabs failed the abort itself, leaving the new version in traffic."""
    repo, clock = published, Clock()
    colored = run_check_command("printf '\\033[31mFAIL\\033[0m\\tp99 too high\\n'; exit 1", {}, 10)
    assert colored.outcome == "failed"

    def failing(command: str, env: Any, timeout: float) -> CheckOutcome:
        return colored

    rollouts = repo.rollouts(clock=clock, sleep=clock.sleep, runner=failing)
    rollouts.start(NAME, "prod", 2, steps=[10, 100], hold_seconds=1, check="probe")
    result = rollouts.run(NAME, "prod")
    assert result.action == "aborted" and _state(repo) == AliasState("1", None, None)
    assert "p99 too high" in (repo.list_alias_history(NAME, "prod", limit=1)[0].reason or "")
