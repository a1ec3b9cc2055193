"""Rollouts as a state machine (Hypothesis), on the local backend: any sequence of starts,
steps with checks that pass, fail or are inconclusive, pauses, resumes, promotes, aborts,
changes made outside the rollout, controllers that die between their alias write and
their record write, and time passing. After every operation the history and the record
must agree with the rules:

- a rollout's steps appear in the history once each, in order (never twice, none skipped);
- a rollout never writes on top of a change made outside it (only a resume that named the
  alias's revision does, and it says so in its reason);
- a running rollout whose record is current describes the alias exactly;
- an abort of the rollout's own state leaves the targets from before the rollout;
- a completed rollout left the new version alone.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from versioned import exc, open_repository
from versioned.rollout_check import CheckOutcome
from versioned.stores.base import Targets

NAME, ALIAS = "app", "prod"
_REASON = re.compile(
    r"rollout (\d+): (step (\d+)/(\d+), \d+ %|promote, 100 %|abort|resume at step (\d+)/\d+, \d+ %)"
)
#: How many rollout entries the invariant checked, over the whole run (it must see some).
CHECKED = {"entries": 0}


class RolloutMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory(prefix="versioned-rollout-model-")
        self.repo = open_repository(self.folder.name)
        for number in range(1, 5):
            self.repo.put_artifact(NAME, f"v{number}".encode())
            self.repo.publish_artifact_version(NAME)
        self.repo.put_alias(NAME, ALIAS, 1)
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.outcomes: list[str] = []
        self.controllers = [
            self.repo.rollouts(clock=self._clock, sleep=self._sleep, runner=self._check)
            for _ in range(2)
        ]
        self.resumed_onto: set[int] = set()  # revisions a resume wrote over (allowed)
        self.outside: set[int] = set()  # revisions of changes made outside any rollout

    def teardown(self) -> None:
        self.folder.cleanup()

    def _clock(self) -> datetime:
        return self.now

    def _sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def _check(self, command: str, env: Mapping[str, str], timeout: float) -> CheckOutcome:
        outcome = self.outcomes.pop(0) if self.outcomes else "passed"
        return CheckOutcome(outcome, {"passed": 0, "failed": 1}.get(outcome), outcome)

    def _backend(self) -> Any:
        return self.repo._engine.backend

    # --- operations ------------------------------------------------------------------------
    @rule(
        version=st.integers(1, 4),
        steps=st.sampled_from([[10, 100], [10, 50, 100], [25, 50, 75, 100], [100]]),
        limit=st.integers(0, 1),
    )
    def start(self, version: int, steps: list[int], limit: int) -> None:
        refused = (exc.RolloutError, exc.InvalidArgumentError, exc.ArtifactNotFoundError)
        with contextlib.suppress(*refused):
            self.controllers[0].start(
                NAME, ALIAS, version, steps=steps, hold_seconds=60, check="c", failure_limit=limit
            )

    @rule(who=st.integers(0, 1), outcome=st.sampled_from(["passed", "failed", "inconclusive"]))
    def step(self, who: int, outcome: str) -> None:
        self.outcomes = [outcome]
        with contextlib.suppress(exc.RolloutError):
            self.controllers[who].step(NAME, ALIAS)
        self.outcomes = []

    @rule(seconds=st.sampled_from([1, 59, 61, 200]))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(command=st.sampled_from(["pause", "promote", "abort", "resume"]))
    def command(self, command: str) -> None:
        with contextlib.suppress(exc.RolloutError):
            getattr(self.controllers[1], command)(NAME, ALIAS)

    @rule()
    def resume_over_an_outside_change(self) -> None:
        current = self.repo.get_alias(NAME, ALIAS) if self._alias_exists() else None
        if current is None:
            return
        try:
            self.controllers[1].resume(NAME, ALIAS, expected_revision=current.revision)
            self.resumed_onto.add(current.revision)
        except exc.RolloutError:
            pass

    @rule(version=st.integers(1, 4))
    def outside_change(self, version: int) -> None:
        self.outside.add(self.repo.put_alias(NAME, ALIAS, version, reason="by hand").revision)

    @rule()
    def controller_dies_after_its_alias_write(self) -> None:
        """What a controller that died between its two writes leaves: the next step's
        alias change, with its reason, and no record write."""
        try:
            rollout = self.controllers[0].get(NAME, ALIAS)
        except exc.RolloutError:
            return
        if rollout.state != "running" or rollout.at_full or not self._alias_exists():
            return
        targets = rollout.targets_at(rollout.step + 1)
        with contextlib.suppress(exc.RevisionMismatchError):
            self.repo.put_alias(
                NAME,
                ALIAS,
                targets.version,
                targets.secondary_version,
                targets.secondary_version_weight,
                expected_revision=rollout.last_revision,
                reason=rollout.step_reason(rollout.step + 1),
            )

    def _alias_exists(self) -> bool:
        return self._backend().get_alias(NAME, ALIAS) is not None

    # --- invariants --------------------------------------------------------------------------
    @invariant()
    def history_and_records_agree(self) -> None:
        history = list(reversed(self.repo.list_alias_history(NAME, ALIAS, limit=10_000)))
        steps_seen: dict[int, int] = {}
        previous_reason: str | None = None
        for entry in history:
            found = _REASON.fullmatch((entry.reason or "").split(" (")[0].split(";")[0])
            if found is None:
                previous_reason = entry.reason
                continue
            number = int(found.group(1))
            CHECKED["entries"] += 1
            if found.group(3) is not None:  # a step: exactly one past the last one
                step = int(found.group(3))
                assert step == steps_seen.get(number, 0) + 1, (number, step, steps_seen)
                steps_seen[number] = step
            elif found.group(5) is not None:
                steps_seen[number] = int(found.group(5))
            own = (previous_reason or "").startswith(f"rollout {number}: ")
            first = found.group(3) == "1"
            # on top of someone else's change only when it starts, or a resume named it
            assert own or first or entry.revision - 1 in self.resumed_onto, entry
            previous_reason = entry.reason
        for rollout in self.controllers[0].list(NAME, ALIAS, 100):
            if rollout.state == "completed":
                assert rollout.step == len(rollout.steps)
        try:
            newest = self.controllers[0].get(NAME, ALIAS)
        except exc.RolloutError:
            return
        # paused for an outside change only when there was one (a dead controller's own
        # change is adopted, not taken for someone else's)
        for rollout in self.controllers[0].list(NAME, ALIAS, 100):
            said = re.search(r"outside the rollout at revision (\d+)", rollout.state_reason or "")
            assert said is None or int(said.group(1)) in self.outside, rollout.state_reason
        current = self._backend().get_alias(NAME, ALIAS)
        if current is not None and current.revision == newest.last_revision:
            if newest.state in ("running", "paused") and newest.step:
                assert current.state == newest.current_targets()
            if newest.state == "completed":
                assert current.state == Targets(newest.version)
            if newest.state == "aborted" and (newest.state_reason or "").find("left as") < 0:
                assert current.state in (newest.before, Targets(newest.before.version))


RolloutMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_rollout_machine = RolloutMachine.TestCase


def test_the_machine_checked_rollout_entries() -> None:
    """The invariant above matched real entries (a pattern that matched none would pass
    everything)."""
    RolloutMachine.TestCase().runTest()
    assert CHECKED["entries"] > 50
