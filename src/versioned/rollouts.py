"""Progressive rollouts driven by any number of controllers, safely.

Every write is a compare-and-set: the rollout record on its ``seq``
(``Backend.write_rollout``), the alias on the revision the rollout wrote last
(``put_alias(expected_revision=...)``). A controller first takes the record's lease
(a compare-and-set too), so normally one drives; if it freezes past its lease and
another takes over, the frozen one's writes fail on those conditions. A controller that
dies between its alias change and its record write leaves a change the next reader
recognises as the rollout's own (``rollout_plan.own_transition``) and adopts, so a step
is never applied twice nor skipped. Any other change of the alias pauses the rollout;
it is never overwritten.

The rules (steps, presets, the record) are in :mod:`versioned.rollout_plan`; the check
command runs through :mod:`versioned.rollout_check`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from . import arguments as args
from . import rollout_plan as plan
from .acting import current_actor
from .exc import (
    ArtifactNotFoundError,
    ConcurrentWriteError,
    InvalidArgumentError,
    RevisionMismatchError,
    RolloutError,
    StaleRolloutError,
)
from .rollout_check import CheckRunner, run_check_command
from .rollout_plan import ABORTED, COMPLETED, PAUSED, RUNNING, Rollout
from .rules import describe_targets
from .stores.base import AliasRecord, Backend, StoredRollout, Targets
from .timestamps import utc_now

#: A controller's lease lasts this long past the check's timeout; it is renewed at
#: every wake-up, at least three times per lease.
LEASE_SECONDS = 30.0
#: Times an operation re-reads a record that keeps changing under it.
_ATTEMPTS = 8

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


class AliasWriter(Protocol):
    """What rollouts need of the engine: its backend, and a checked alias change."""

    backend: Backend

    def put_alias(
        self,
        name: str,
        alias: str,
        version: object = None,
        secondary_version: object = None,
        secondary_version_weight: object = None,
        expected_revision: object = None,
        reason: object = None,
    ) -> AliasRecord:
        """``Engine.put_alias``."""


class _Redo(Exception):
    """Read the record again and start over (it or the alias moved under us)."""


class Rollouts:
    """Start, drive and steer rollouts. ``clock`` and ``sleep`` are for tests (a hold is
    then simulated time); ``runner`` runs the check command."""

    def __init__(
        self,
        engine: AliasWriter,
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
        return plan.decode(stored.body, stored.seq)

    def list(self, name: str, alias: str, limit: int = 20) -> list[Rollout]:
        """The alias's rollouts, newest first."""
        return [plan.decode(s.body, s.seq) for s in self.backend.list_rollouts(name, alias, limit)]

    def _save(self, rollout: Rollout) -> Rollout:
        """Write ``rollout`` over the record it was read as. Raises StaleRolloutError."""
        saved = plan.changed(rollout, rollout.updated_at, seq=rollout.seq + 1)
        stored = StoredRollout(saved.name, saved.alias, saved.number, saved.seq, plan.encode(saved))
        self.backend.write_rollout(stored, rollout.seq)
        return saved

    def _event(self, rollout: Rollout, now: datetime, what: str) -> tuple[plan.Event, ...]:
        return plan.with_event(rollout, now, what, self._who())

    # --- start -----------------------------------------------------------------------------
    def start(
        self,
        name: str,
        alias: str,
        version: object,
        *,
        steps: object = None,
        preset: object = None,
        hold_seconds: object = None,
        bake_seconds: object = None,
        check: object = None,
        check_timeout_seconds: object = 60.0,
        failure_limit: object = 0,
        reason: object = None,
    ) -> Rollout:
        """Record a rollout of ``version`` on ``alias`` and apply its first step.

        Raises InvalidArgumentError (bad arguments: nothing read or written),
        AliasNotFoundError, RolloutError (one is running or paused; the version is
        already the primary), ArtifactNotFoundError (the version is not live),
        RevisionMismatchError (the alias changed while starting: the record says
        aborted and the alias is untouched).
        """
        name = args.check_name(name)
        alias = args.check_alias(alias)
        number_version = args.check_version(version)
        if number_version is None:
            raise InvalidArgumentError(
                "a rollout needs a published version number, not LATEST (its bytes change)"
            )
        if (steps is None) == (preset is None):
            raise InvalidArgumentError("give the steps (10,50,100) or a preset, not both")
        chosen = plan.preset(preset) if preset is not None else None
        checked_steps = chosen.steps if chosen else plan.check_steps(steps)
        hold = _seconds(hold_seconds, "hold", chosen.hold_seconds if chosen else 0.0)
        bake = _seconds(bake_seconds, "bake", chosen.bake_seconds if chosen else 0.0)
        timeout = args.check_seconds(check_timeout_seconds, "check timeout", positive=True)
        limit = args.check_non_negative_int(failure_limit, "failure limit")
        command = _check_command(check)
        why = args.check_reason(reason)
        current = self.engine.backend.get_alias(name, alias)
        if current is None:
            raise InvalidArgumentError(
                f"alias {alias!r} of artifact {name!r} does not exist: a rollout starts from "
                "the alias's current target (set it first: versioned alias set)"
            )
        if current.version == number_version:
            raise RolloutError(
                f"alias {alias!r} of artifact {name!r} already serves version "
                f"{number_version} as its primary: nothing to roll out",
                name=name,
                alias=alias,
                number=None,
            )
        self._require_live(name, number_version)
        newest = self.backend.get_rollout(name, alias, None)
        if newest is not None:
            previous = plan.decode(newest.body, newest.seq)
            if not previous.ended:
                raise RolloutError(
                    f"rollout {previous.number} of alias {alias!r} of artifact {name!r} is "
                    f"{previous.state} (step {previous.step}/{len(previous.steps)}): promote "
                    "or abort it before starting another",
                    name=name,
                    alias=alias,
                    number=previous.number,
                )
        now = self.clock()
        rollout = Rollout(
            name=name,
            alias=alias,
            number=1 if newest is None else newest.number + 1,
            version=number_version,
            steps=checked_steps,
            hold_seconds=hold,
            bake_seconds=bake,
            check=command,
            check_timeout_seconds=timeout,
            failure_limit=limit,
            reason=why,
            preset=preset if isinstance(preset, str) else None,
            before=current.state,
            started_revision=current.revision,
            state=RUNNING,
            step=0,
            last_revision=current.revision,
            due_at=now,
            failures=0,
            created_at=now,
            updated_at=now,
            who=self._who(),
        )
        rollout = plan.changed(rollout, now, events=self._event(rollout, now, "started"))
        # the record first: it claims the number, and a controller that finds it at step
        # 0 (we died here) applies the first step itself
        self.backend.write_rollout(
            StoredRollout(name, alias, rollout.number, 1, plan.encode(rollout)), 0
        )
        rollout = plan.changed(rollout, now, seq=1)
        try:
            return self._apply_step(rollout, now)
        except _Redo:
            return self.get(name, alias, rollout.number)

    def _require_live(self, name: str, version: int) -> None:
        record = self.backend.get_version(name, version)
        if record is None or record.is_deleted:
            raise ArtifactNotFoundError(
                f"artifact {name!r} version {version} is not live (missing or soft-deleted):"
                " a rollout needs a published, live version",
                name=name,
                version=str(version),
            )

    # --- one advance ---------------------------------------------------------------------------
    def step(self, name: str, alias: str, *, keep_lease: bool = False) -> StepResult:
        """Do what is due, at most one advance: apply the next step, or run the check
        and then step, complete, hold again, pause or abort. Idempotent while nothing is
        due. ``keep_lease``: hold the lease afterwards (``run``); else release it.

        Raises RolloutError (no rollout), ConcurrentWriteError (kept changing)."""
        name = args.check_name(name)
        alias = args.check_alias(alias)
        for _ in range(_ATTEMPTS):
            rollout = self.get(name, alias)
            try:
                return self._step_once(rollout, keep_lease)
            except (_Redo, StaleRolloutError):
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
        """Set the alias to the next step's targets, then record it. Raises _Redo when
        the alias or the record moved (the caller reads again); pauses the rollout when
        the new version is gone."""
        following = rollout.step + 1
        targets = rollout.targets_at(following)
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

    def _set_alias(self, rollout: Rollout, targets: Targets, reason: str) -> AliasRecord:
        """The alias change, as a compare-and-set on the revision the rollout wrote
        last. Raises _Redo when the alias is elsewhere (someone else's change, or ours
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
            raise _Redo from error

    # --- the alias as it is --------------------------------------------------------------------
    def _reconcile(self, rollout: Rollout, *, pause: bool = True) -> Rollout:
        """Adopt the rollout's own changes the record missed; with ``pause``, pause it
        (never touching the alias) on a change made outside it. Returns the record."""
        for _ in range(_ATTEMPTS):
            current = self.backend.get_alias(rollout.name, rollout.alias)
            if current is not None and current.revision == rollout.last_revision:
                return rollout
            entries = self.backend.alias_history(
                rollout.name, rollout.alias, 1, rollout.last_revision + 2
            )
            entry = entries[0] if entries else None
            found = None if entry is None else plan.own_transition(rollout, entry)
            if entry is None or found is None:
                return self._pause_outside(rollout, current, entry) if pause else rollout
            kind, step = found
            assert entry.after is not None
            if kind == plan.STEP:
                # the hold runs from when the step landed, on this controller's clock (the
                # entry's time is the store's: never wait past this clock's now + hold)
                landed = min(entry.update_at, self.clock())
                rollout = self._save(self._stepped(rollout, step, entry.revision, landed))
            elif kind == plan.PROMOTE:
                rollout = self._save(
                    plan.changed(
                        rollout,
                        entry.update_at,
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
                        entry.update_at,
                        last_revision=entry.revision,
                        state=ABORTED,
                        due_at=None,
                        state_reason=entry.reason,
                    )
                )
        raise _Redo

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
            if (
                rollout.current_targets() != rollout.before
                or rollout.last_revision != rollout.started_revision
            ):
                written = self._set_alias(rollout, rollout.before, note)
                rollout = plan.changed(rollout, now, last_revision=written.revision)
            left = why
        except _Redo:
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
        for _ in range(_ATTEMPTS):
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

    # --- what people do ------------------------------------------------------------------------
    def abort(self, name: str, alias: str, reason: object = None) -> Rollout:
        """Put the alias back on its targets from before the rollout, from any state
        (one read of the record, one compare-and-set alias change), and end it.
        Aborting an aborted rollout returns it. Raises RolloutError (none, or it
        completed: roll the alias back instead)."""
        rollout, why = self._for_command(name, alias, reason)
        if rollout.state == ABORTED:
            return rollout
        if rollout.state == COMPLETED:
            raise self._ended_error(rollout, "abort it", "versioned alias rollback")
        return self._abort(rollout, why or f"aborted by {self._who()}")

    def promote(self, name: str, alias: str, reason: object = None) -> Rollout:
        """Go straight to 100 %: the new version alone, and the rollout completed.
        Raises RolloutError (none, ended, or the alias changed outside it)."""
        rollout, why = self._for_command(name, alias, reason)
        for _ in range(_ATTEMPTS):
            if rollout.ended:
                raise self._ended_error(rollout, "promote it", "versioned alias set")
            rollout = self._reconcile(rollout, pause=False)
            current = self.backend.get_alias(name, alias)
            if current is None or current.revision != rollout.last_revision:
                raise RolloutError(
                    f"rollout {rollout.number} of alias {alias!r} of artifact {name!r}: the "
                    "alias was changed outside the rollout; resume it (which says what it "
                    "will do) or abort it before promoting",
                    name=name,
                    alias=alias,
                    number=rollout.number,
                )
            now = self.clock()
            last = len(rollout.steps)
            try:
                if not rollout.at_full:
                    reason_text = rollout.promote_reason() + (f" ({why})" if why else "")
                    written = self._set_alias(rollout, rollout.targets_at(last), reason_text)
                    rollout = plan.changed(rollout, now, step=last, last_revision=written.revision)
                done = plan.changed(
                    rollout,
                    now,
                    state=COMPLETED,
                    due_at=None,
                    lease_owner=None,
                    lease_until=None,
                    state_reason=f"promoted by {self._who()}" + (f": {why}" if why else ""),
                )
                return self._save(
                    plan.changed(done, now, events=self._event(done, now, "promoted"))
                )
            except (_Redo, StaleRolloutError):
                rollout = self.get(name, alias, rollout.number)
        raise ConcurrentWriteError(
            f"promoting rollout {rollout.number} kept conflicting; try again"
        )

    def pause(self, name: str, alias: str, reason: object = None) -> Rollout:
        """Stop advancing (a controller running it stops at its next wake-up). Pausing a
        paused rollout returns it. Raises RolloutError (none, or ended)."""
        rollout, why = self._for_command(name, alias, reason)
        for _ in range(_ATTEMPTS):
            if rollout.state == PAUSED:
                return rollout
            if rollout.ended:
                raise self._ended_error(rollout, "pause it", None)
            now = self.clock()
            said = f"paused by {self._who()}" + (f": {why}" if why else "")
            paused = plan.changed(rollout, now, state=PAUSED, state_reason=said)
            try:
                return self._save(plan.changed(paused, now, events=self._event(paused, now, said)))
            except StaleRolloutError:
                rollout = self.get(name, alias, rollout.number)
        raise ConcurrentWriteError(f"pausing rollout {rollout.number} kept conflicting; try again")

    def resume_plan(self, name: str, alias: str) -> tuple[Rollout, str, int | None]:
        """What ``resume`` would do, in words, and the alias revision a resume onto an
        alias changed outside the rollout must name (None when it was not changed)."""
        rollout, _ = self._for_command(name, alias, None)
        if rollout.ended:
            raise self._ended_error(rollout, "resume it", None)
        rollout = self._reconcile(rollout, pause=False)
        current = self.backend.get_alias(name, alias)
        if current is not None and current.revision == rollout.last_revision:
            due = (
                "now"
                if rollout.due_at is None or rollout.due_at <= self.clock()
                else f"at {rollout.due_at.isoformat()}"
            )
            return (
                rollout,
                f"continues from step {rollout.step}/{len(rollout.steps)} "
                f"({rollout.weight} %); next: {rollout.next_action()} {due}",
                None,
            )
        if current is None:
            raise RolloutError(
                f"alias {alias!r} of artifact {name!r} was deleted outside rollout "
                f"{rollout.number}: set it again and resume, or abort the rollout",
                name=name,
                alias=alias,
                number=rollout.number,
            )
        base, targets, step = _resumed(rollout, current.state)
        if targets is None:
            words = (
                f"the alias already serves version {rollout.version} alone: resuming "
                "completes the rollout"
            )
        else:
            words = (
                f"the alias was changed outside the rollout (revision {current.revision}, "
                f"{describe_targets(current.state)}); resuming sets it to "
                f"{describe_targets(targets)} (step {step}/{len(rollout.steps)}), holds "
                f"{rollout.hold_seconds:g} s, then checks and steps on; an abort would then "
                f"restore {describe_targets(base)}"
            )
        return rollout, words, current.revision

    def resume(
        self, name: str, alias: str, expected_revision: object = None, reason: object = None
    ) -> Rollout:
        """Continue a paused rollout. If the alias was changed outside it, only with
        ``expected_revision`` equal to the alias's revision now (the RolloutError
        otherwise raised says what resuming would do): the rollout then continues from
        the alias as it is, its primary becoming the one an abort restores."""
        expected = args.check_expected_revision(expected_revision)
        why = args.check_reason(reason)
        for _ in range(_ATTEMPTS):
            rollout, words, revision = self.resume_plan(name, alias)
            if rollout.state == RUNNING and revision is None:
                return rollout
            now = self.clock()
            said = f"resumed by {self._who()}" + (f": {why}" if why else "") + f"; {words}"
            try:
                if revision is None:
                    due = rollout.due_at if rollout.due_at and rollout.due_at > now else now
                    resumed = plan.changed(
                        rollout, now, state=RUNNING, state_reason=None, due_at=due
                    )
                    return self._save(
                        plan.changed(resumed, now, events=self._event(resumed, now, said))
                    )
                if expected != revision:
                    raise RolloutError(
                        f"rollout {rollout.number} of alias {alias!r} of artifact "
                        f"{name!r}: {words}. To go ahead, resume with expected_revision="
                        f"{revision} (CLI: --if-revision {revision})",
                        name=name,
                        alias=alias,
                        number=rollout.number,
                    )
                return self._resume_onto(rollout, revision, said, now)
            except (_Redo, StaleRolloutError):
                continue
        raise ConcurrentWriteError(f"resuming the rollout of {alias!r} kept conflicting; try again")

    def _resume_onto(self, rollout: Rollout, revision: int, said: str, now: datetime) -> Rollout:
        current = self.backend.get_alias(rollout.name, rollout.alias)
        if current is None or current.revision != revision:
            raise _Redo
        base, targets, step = _resumed(rollout, current.state)
        moved = plan.changed(rollout, now, last_revision=revision)
        if targets is None:
            done = plan.changed(
                moved,
                now,
                step=len(rollout.steps),
                state=COMPLETED,
                due_at=None,
                state_reason="the alias already served the new version alone",
            )
            return self._save(plan.changed(done, now, events=self._event(done, now, said)))
        moved = plan.changed(moved, now, before=base, step=step)
        written = self._set_alias(moved, targets, moved.resume_reason())
        resumed = plan.changed(
            moved,
            now,
            last_revision=written.revision,
            state=RUNNING,
            state_reason=None,
            due_at=plan.due_after(now, rollout.hold_seconds),
        )
        return self._save(plan.changed(resumed, now, events=self._event(resumed, now, said)))

    def run(
        self, name: str, alias: str, on_step: Callable[[StepResult], None] | None = None
    ) -> StepResult:
        """Drive the rollout to its end: sleep through holds (renewing the lease), check,
        step. Returns when it completes, aborts or pauses. While another controller
        holds the lease this one waits, and takes over if that lease runs out."""
        while True:
            result = self.step(name, alias, keep_lease=True)
            if on_step is not None and result.action not in (WAITING, HELD):
                on_step(result)
            rollout = result.rollout
            if result.action in (ENDED, COMPLETED, ABORTED, PAUSED) or rollout.state != RUNNING:
                return StepResult(
                    self._released(rollout, False),
                    result.action if result.action != ENDED else rollout.state,
                )
            if result.action in (STEPPED, CHECKED):
                continue
            now = self.clock()
            wake = rollout.due_at if result.action == WAITING else rollout.lease_until
            wait = LEASE_SECONDS / 3 if wake is None else (wake - now).total_seconds()
            self.sleep(
                max(0.0, min(wait, LEASE_SECONDS / 3)) + (0.001 if result.action == HELD else 0.0)
            )

    def _for_command(
        self, name: object, alias: object, reason: object
    ) -> tuple[Rollout, str | None]:
        checked_name = args.check_name(name)
        checked_alias = args.check_alias(alias)
        why = args.check_reason(reason)
        return self.get(checked_name, checked_alias), why

    def _ended_error(self, rollout: Rollout, what: str, instead: str | None) -> RolloutError:
        return RolloutError(
            f"rollout {rollout.number} of alias {rollout.alias!r} of artifact "
            f"{rollout.name!r} is {rollout.state}: too late to {what}"
            + (f" (use {instead})" if instead else ""),
            name=rollout.name,
            alias=rollout.alias,
            number=rollout.number,
        )


def _resumed(rollout: Rollout, state: Targets) -> tuple[Targets, Targets | None, int]:
    """For a resume onto ``state`` (changed outside the rollout): what an abort would
    then restore, the targets to set (None: the new version already serves alone) and
    the step they are."""
    if state == Targets(rollout.version):
        return state, None, len(rollout.steps)
    primary = state.secondary_version if state.version == rollout.version else state.version
    base = (
        Targets(primary) if rollout.version in (state.version, state.secondary_version) else state
    )
    step = max(rollout.step, 1)
    if rollout.steps[step - 1] == 100:
        return base, Targets(rollout.version), step
    return base, Targets(primary, rollout.version, rollout.steps[step - 1]), step


def _seconds(value: object, what: str, default: float) -> float:
    if value is None:
        return default
    return args.check_seconds(value, what)


def _check_command(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise InvalidArgumentError(
            f"check command must be a non-empty shell command, got {value!r}"
        )
    return value
