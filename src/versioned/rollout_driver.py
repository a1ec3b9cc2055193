"""The machinery under :class:`versioned.rollouts.Rollouts`: records, leases, one advance
(check, step, complete), adoption of the rollout's own changes, pausing on others', and
the abort. See :mod:`versioned.rollouts` for the rules every write follows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import arguments as args
from . import rollout_plan as plan
from . import rollout_record as record
from .acting import current_actor
from .exc import (
    ArtifactNotFoundError,
    ConcurrentWriteError,
    RevisionMismatchError,
    RolloutError,
    StaleRolloutError,
)
from .rollout_check import CheckRunner, run_check_command
from .rollout_plan import ABORTED, COMPLETED, PAUSED, RUNNING, Rollout
from .rules import describe_targets
from .stores.base import AliasRecord, StoredRollout, Targets
from .timestamps import utc_now

if TYPE_CHECKING:  # the engine is below: rollouts drive it, it never imports them
    from .engine import Engine

#: A controller's lease lasts this long past the check's timeout; it is renewed at
#: every wake-up, at least three times per lease.
LEASE_SECONDS = 30.0
#: Times an operation re-reads a record that keeps changing under it.
ATTEMPTS = 8

#: What ``step`` did (``StepResult.action``).
STEPPED = "stepped"  # applied the next step (or the first)
CHECKED = "checked"  # a check failed within the failure limit: the step is held again
WAITING = "waiting"  # nothing due yet
HELD = "held"  # another controller holds the lease
ENDED = "ended"  # already completed or aborted
# and the rollout's states, when the step ended it: "completed", "aborted", "paused"


@dataclass(frozen=True)
class StepResult:
    """The rollout after one ``step``, and what the step did (see the constants)."""

    rollout: Rollout
    action: str


class Redo(Exception):
    """Read the record again and start over (it or the alias moved under us)."""


class RolloutDriver:
    """What every rollout command is built on. ``clock`` and ``sleep`` are for tests (a hold is
    then simulated time); ``runner`` runs the check command."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        runner: CheckRunner = run_check_command,
        controller: str | None = None,
    ) -> None:
        self.engine = engine
        self.backend = engine.backend
        self.clock = clock
        self.sleep = sleep
        self.runner = runner
        self.controller = controller or f"{self._who()}#{uuid.uuid4().hex[:8]}"

    def _who(self) -> str:
        return current_actor() or self.backend.identity()

    # --- records ---------------------------------------------------------------------------
    def get(self, name: str, alias: str, number: int | None = None) -> Rollout:
        """The alias's newest rollout (or number ``number``). Raises RolloutError."""
        stored = self.backend.get_rollout(name, alias, number)
        if stored is None:
            which = "no rollout" if number is None else f"no rollout {number}"
            raise RolloutError(
                f"alias {alias!r} of artifact {name!r} has {which}",
                name=name,
                alias=alias,
                number=number,
            )
        return record.decode(stored.body, stored.seq)

    def list(self, name: str, alias: str, limit: int = 20) -> list[Rollout]:
        """The alias's rollouts, newest first."""
        return [
            record.decode(s.body, s.seq) for s in self.backend.list_rollouts(name, alias, limit)
        ]

    def _save(self, rollout: Rollout) -> Rollout:
        """Write ``rollout`` over the record it was read as. Raises StaleRolloutError."""
        saved = plan.changed(rollout, rollout.updated_at, seq=rollout.seq + 1)
        stored = StoredRollout(
            saved.name, saved.alias, saved.number, saved.seq, record.encode(saved)
        )
        self.backend.write_rollout(stored, rollout.seq)
        return saved

    def _event(self, rollout: Rollout, now: datetime, what: str) -> tuple[plan.Event, ...]:
        return plan.with_event(rollout, now, what, self._who())

    # --- one advance ---------------------------------------------------------------------------
    def step(self, name: str, alias: str, *, keep_lease: bool = False) -> StepResult:
        """Do what is due, at most one advance: apply the next step, or run the check
        and then step, complete, hold again, pause or abort. Idempotent while nothing is
        due. ``keep_lease``: hold the lease afterwards (``run``); else release it.

        Raises RolloutError (no rollout), ConcurrentWriteError (kept changing)."""
        name = args.check_name(name)
        alias = args.check_alias(alias)
        for _ in range(ATTEMPTS):
            rollout = self.get(name, alias)
            try:
                return self._step_once(rollout, keep_lease)
            except (Redo, StaleRolloutError):
                continue
        raise ConcurrentWriteError(
            f"rollout of alias {alias!r} of artifact {name!r} kept changing; step again"
        )

    def _step_once(self, rollout: Rollout, keep_lease: bool) -> StepResult:
        if rollout.ended:
            return StepResult(rollout, ENDED)
        now = self.clock()
        if (
            rollout.lease_owner not in (None, self.controller)
            and rollout.lease_until is not None
            and rollout.lease_until > now
        ):
            return StepResult(rollout, HELD)
        rollout = self._save(plan.changed(rollout, now, **self._lease(rollout, now)))
        rollout = self._reconcile(rollout)
        if rollout.state != RUNNING:
            return StepResult(self._released(rollout, keep_lease), rollout.state)
        if rollout.step and rollout.due_at is not None and rollout.due_at > now:
            return StepResult(self._released(rollout, keep_lease), WAITING)
        result = self._due(rollout, now)
        return StepResult(self._released(result.rollout, keep_lease), result.action)

    def _lease(self, rollout: Rollout, now: datetime) -> dict[str, object]:
        length = LEASE_SECONDS + rollout.check_timeout_seconds
        return {"lease_owner": self.controller, "lease_until": now + timedelta(seconds=length)}

    def _released(self, rollout: Rollout, keep: bool) -> Rollout:
        if keep or rollout.lease_owner != self.controller:
            return rollout
        try:
            return self._save(
                plan.changed(rollout, rollout.updated_at, lease_owner=None, lease_until=None)
            )
        except StaleRolloutError:
            return self.get(rollout.name, rollout.alias, rollout.number)

    def _due(self, rollout: Rollout, now: datetime) -> StepResult:
        if rollout.step == 0:
            return StepResult(self._apply_step(rollout, now), STEPPED)
        if rollout.check is not None:
            rollout, verdict = self._run_check(rollout)
            if verdict is not None:
                return verdict
            now = self.clock()
        if rollout.at_full:
            done = plan.changed(
                rollout, now, state=COMPLETED, due_at=None, state_reason="bake passed"
            )
            return StepResult(self._save(done), COMPLETED)
        after = self._apply_step(rollout, now)
        return StepResult(after, after.state if after.ended else STEPPED)

    def _run_check(self, rollout: Rollout) -> tuple[Rollout, StepResult | None]:
        """Run the check and record it. Returns the rollout and, unless it passed, what
        the step did instead of advancing."""
        assert rollout.check is not None
        environment = {
            "VERSIONED_ROLLOUT": str(rollout.number),
            "VERSIONED_ROLLOUT_NAME": rollout.name,
            "VERSIONED_ROLLOUT_ALIAS": rollout.alias,
            "VERSIONED_ROLLOUT_STEP": str(rollout.step),
            "VERSIONED_ROLLOUT_STEPS": str(len(rollout.steps)),
            "VERSIONED_ROLLOUT_WEIGHT": str(rollout.weight),
            "VERSIONED_ROLLOUT_VERSION": str(rollout.version),
            "VERSIONED_ROLLOUT_STABLE_VERSION": args.version_to_str(rollout.before.version),
            "VERSIONED_ROLLOUT_FAILURES": str(rollout.failures),
        }
        outcome = self.runner(rollout.check, environment, rollout.check_timeout_seconds)
        now = self.clock()
        run = plan.CheckRun(
            rollout.step, rollout.weight, now, outcome.outcome, outcome.exit_code, outcome.detail
        )
        checks = plan.with_check(rollout, run)
        where = f"step {rollout.step}/{len(rollout.steps)}, {rollout.weight} %"
        if outcome.outcome == plan.PASSED:
            return self._save(plan.changed(rollout, now, checks=checks)), None
        if outcome.outcome == plan.INCONCLUSIVE:
            why = f"check inconclusive at {where}: {outcome.detail}"
            paused = plan.changed(rollout, now, checks=checks, state=PAUSED, state_reason=why)
            paused = plan.changed(paused, now, events=self._event(paused, now, f"paused: {why}"))
            return paused, StepResult(self._save(paused), PAUSED)
        failures = rollout.failures + 1
        failed = plan.changed(rollout, now, checks=checks, failures=failures)
        if failures > rollout.failure_limit:
            why = (
                f"check failed at {where} ({failures} > failure limit "
                f"{rollout.failure_limit}): {outcome.detail}"
            )
            return failed, StepResult(self._abort(self._save(failed), why), ABORTED)
        held = plan.changed(failed, now, due_at=plan.due_after(now, rollout.hold_seconds))
        return held, StepResult(self._save(held), CHECKED)

    def _apply_step(self, rollout: Rollout, now: datetime) -> Rollout:
        """Set the alias to the next step's targets, then record it. Raises Redo when
        the alias or the record moved, or the lease we step under ran out (the caller
        reads again); pauses the rollout when the new version is gone."""
        following = rollout.step + 1
        targets = rollout.targets_at(following)
        if (
            rollout.lease_owner == self.controller
            and rollout.lease_until is not None
            and rollout.lease_until <= self.clock()
        ):
            # frozen past our lease: the record may have been paused meanwhile, which the
            # alias's compare-and-set can't see; read it again (and take the lease again)
            raise Redo
        try:
            written = self._set_alias(rollout, targets, rollout.step_reason(following))
        except ArtifactNotFoundError as error:
            why = f"step {following} could not be applied: {error}"
            paused = plan.changed(rollout, now, state=PAUSED, state_reason=why)
            return self._save(
                plan.changed(paused, now, events=self._event(paused, now, f"paused: {why}"))
            )
        return self._save(self._stepped(rollout, following, written.revision, self.clock()))

    def _stepped(self, rollout: Rollout, step: int, revision: int, at: datetime) -> Rollout:
        """The record once step ``step`` landed at ``revision`` (at time ``at``)."""
        full = step == len(rollout.steps)
        if full and (rollout.bake_seconds <= 0 or rollout.check is None):
            return plan.changed(
                rollout,
                at,
                step=step,
                last_revision=revision,
                state=COMPLETED,
                due_at=None,
                state_reason="promoted: the new version serves all traffic",
            )
        wait = rollout.bake_seconds if full else rollout.hold_seconds
        return plan.changed(
            rollout, at, step=step, last_revision=revision, due_at=plan.due_after(at, wait)
        )

    def _alias_or_gone(self, rollout: Rollout, targets: Targets, reason: str) -> AliasRecord:
        """``_set_alias``, where a target that is not live (the artifact being purged:
        its LATEST is fenced, its versions go) is a RolloutError: nothing was changed."""
        try:
            return self._set_alias(rollout, targets, reason)
        except ArtifactNotFoundError as error:
            raise RolloutError(
                f"rollout {rollout.number} of alias {rollout.alias!r} of artifact "
                f"{rollout.name!r}: the alias can't be set to {describe_targets(targets)}: "
                f"{error} (is the artifact being purged?); nothing was changed",
                name=rollout.name,
                alias=rollout.alias,
                number=rollout.number,
            ) from error

    def _set_alias(self, rollout: Rollout, targets: Targets, reason: str) -> AliasRecord:
        """The alias change, as a compare-and-set on the revision the rollout wrote
        last. Raises Redo when the alias is elsewhere (someone else's change, or ours
        recorded by another controller)."""
        try:
            return self.engine.put_alias(
                rollout.name,
                rollout.alias,
                targets.version,
                targets.secondary_version,
                targets.secondary_version_weight,
                rollout.last_revision,
                reason,
            )
        except RevisionMismatchError as error:
            raise Redo from error

    # --- the alias as it is --------------------------------------------------------------------
    def _reconcile(self, rollout: Rollout, *, pause: bool = True) -> Rollout:
        """Adopt the rollout's own changes the record missed; with ``pause``, pause it
        (never touching the alias) on a change made outside it. Returns the record."""
        for _ in range(ATTEMPTS):
            current = self.backend.get_alias(rollout.name, rollout.alias)
            if current is not None and current.revision == rollout.last_revision:
                return rollout
            entries = self.backend.alias_history(
                rollout.name, rollout.alias, 1, rollout.last_revision + 2
            )
            entry = entries[0] if entries else None
            if entry is not None and entry.revision != rollout.last_revision + 1:
                # not the change after ours (1.0.1 wrote none; the newest entry is then
                # our own): name the alias's revision, not that entry, in the pause
                entry = None
            found = None if entry is None else plan.own_transition(rollout, entry)
            if entry is None or found is None:
                return self._pause_outside(rollout, current, entry) if pause else rollout
            kind, step = found
            # the hold restarts now: dating it from the entry would trust the dead
            # writer's clock, and a clock behind ours would shorten (or skip) the hold
            landed = self.clock()
            if kind == plan.STEP:
                rollout = self._save(self._stepped(rollout, step, entry.revision, landed))
            elif kind == plan.PROMOTE:
                rollout = self._save(
                    plan.changed(
                        rollout,
                        landed,
                        step=step,
                        last_revision=entry.revision,
                        state=COMPLETED,
                        due_at=None,
                        state_reason="promoted",
                    )
                )
            else:
                rollout = self._save(
                    plan.changed(
                        rollout,
                        landed,
                        last_revision=entry.revision,
                        state=ABORTED,
                        due_at=None,
                        state_reason=entry.reason,
                    )
                )
        raise Redo

    def _pause_outside(
        self, rollout: Rollout, current: AliasRecord | None, entry: object
    ) -> Rollout:
        if rollout.state != RUNNING:
            return rollout
        now = self.clock()
        shown = "deleted" if current is None else describe_targets(current.state)
        revision = getattr(entry, "revision", None) or (current.revision if current else "?")
        by = getattr(entry, "who", None)
        why = (
            f"alias changed outside the rollout at revision {revision} (now {shown}"
            + (f", by {by}" if by else "")
            + "): left as it is; resume to continue from it, or abort"
        )
        paused = plan.changed(rollout, now, state=PAUSED, state_reason=why)
        return self._save(
            plan.changed(paused, now, events=self._event(paused, now, f"paused: {why}"))
        )

    # --- the abort -----------------------------------------------------------------------------
    def _abort(self, rollout: Rollout, why: str) -> Rollout:
        """Put the alias back on ``rollout.before`` (one compare-and-set on the revision
        the rollout wrote last) and record the abort. An alias changed outside the
        rollout is left as it is, and the abort says so."""
        now = self.clock()
        note = rollout.abort_reason(why)
        try:
            # always a write, even before the first step: it moves the revision a
            # controller applying a step compares-and-sets on, so a step planned before
            # the abort can't land after it
            try:
                written = self._set_alias(rollout, rollout.before, note)
                left = why
            except ArtifactNotFoundError as error:
                # the split's other version went while the rollout ran (retention may
                # take it once no alias points at it): the primary alone still takes
                # the new version out of traffic
                primary = Targets(rollout.before.version)
                left = f"{why}; {error}: back to the primary alone"
                alone = rollout.abort_reason(why, "; primary alone")
                written = self._alias_or_gone(rollout, primary, alone)
            rollout = plan.changed(rollout, now, last_revision=written.revision)
        except Redo:
            rollout = self._reconcile_for_end(rollout)
            if rollout.ended:
                return rollout
            current = self.backend.get_alias(rollout.name, rollout.alias)
            if current is not None and current.revision == rollout.last_revision:
                return self._abort(rollout, why)
            left = f"{why}; the alias was changed outside the rollout and is left as it is"
        aborted = plan.changed(
            rollout,
            now,
            state=ABORTED,
            due_at=None,
            state_reason=left,
            lease_owner=None,
            lease_until=None,
        )
        aborted = plan.changed(aborted, now, events=self._event(aborted, now, f"aborted: {left}"))
        for _ in range(ATTEMPTS):
            try:
                return self._save(aborted)
            except StaleRolloutError:
                fresh = self.get(rollout.name, rollout.alias, rollout.number)
                if fresh.ended:
                    return fresh
                aborted = plan.changed(
                    aborted, now, seq=fresh.seq, events=fresh.events + aborted.events[-1:]
                )
        raise ConcurrentWriteError(f"recording the abort of rollout {rollout.number} kept failing")

    def _reconcile_for_end(self, rollout: Rollout) -> Rollout:
        """The record, re-read, with the rollout's own missed changes adopted."""
        fresh = self.get(rollout.name, rollout.alias, rollout.number)
        return fresh if fresh.ended else self._reconcile(fresh, pause=False)
