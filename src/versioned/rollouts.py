"""Progressive rollouts driven by any number of controllers, safely.

Every write is a compare-and-set: the rollout record on its ``seq``
(``Backend.write_rollout``), the alias on the revision the rollout wrote last
(``put_alias(expected_revision=...)``). A controller first takes the record's lease
(a compare-and-set too), so normally one drives; if it freezes past its lease and
another takes over, the frozen one's writes fail on those conditions; and a
controller applies a step only while its lease lasts by its clock (a pause, which leaves
the alias alone, is seen only on the record). A controller that
dies between its alias change and its record write leaves a change the next reader
recognises as the rollout's own (``rollout_plan.own_transition``) and adopts, so a step
is never applied twice nor skipped. Any other change of the alias pauses the rollout;
it is never overwritten.

The rules (steps, presets, the record) are in :mod:`versioned.rollout_plan`; the check
command runs through :mod:`versioned.rollout_check`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from . import arguments as args
from . import rollout_plan as plan
from . import rollout_record as record
from .exc import (
    ArtifactNotFoundError,
    ConcurrentWriteError,
    InvalidArgumentError,
    RolloutError,
    StaleRolloutError,
)
from .rollout_driver import (
    ATTEMPTS,
    CHECKED,
    ENDED,
    HELD,
    LEASE_SECONDS,
    STEPPED,
    WAITING,
    Redo,
    StepResult,
)
from .rollout_plan import ABORTED, COMPLETED, PAUSED, RUNNING, Rollout
from .rollout_resume import Resuming
from .stores.base import StoredRollout

__all__ = [
    "CHECKED",
    "ENDED",
    "HELD",
    "STEPPED",
    "WAITING",
    "Rollouts",
    "StepResult",
]


class Rollouts(Resuming):
    """Start, drive and steer rollouts. ``clock`` and ``sleep`` are for tests (a hold is
    then simulated time); ``runner`` runs the check command."""

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
        hold = args.check_duration_or(hold_seconds, "hold", chosen.hold_seconds if chosen else 0.0)
        bake = args.check_duration_or(bake_seconds, "bake", chosen.bake_seconds if chosen else 0.0)
        timeout = args.check_at_most_a_year(
            args.check_seconds(check_timeout_seconds, "check timeout", positive=True),
            "check timeout",
        )
        limit = args.check_non_negative_int(failure_limit, "failure limit")
        command = args.check_check_command(check)
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
        if current.has_secondary and current.secondary_version == number_version:
            # a ramp from there could lower its share (sticky routing would move keys
            # back) and an abort would restore the split, leaving it in traffic
            raise RolloutError(
                f"alias {alias!r} of artifact {name!r} already sends "
                f"{current.secondary_version_weight}% to version {number_version}: a "
                "rollout starts from a stable alias (set it to its primary alone first, "
                "or promote by hand)",
                name=name,
                alias=alias,
                number=None,
            )
        self._require_live(name, number_version)
        newest = self.backend.get_rollout(name, alias, None)
        if newest is not None:
            previous = record.decode(newest.body, newest.seq)
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
            StoredRollout(name, alias, rollout.number, 1, record.encode(rollout)), 0
        )
        rollout = plan.changed(rollout, now, seq=1)
        try:
            return self._apply_step(rollout, now)
        except Redo:
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

    # --- what people do ------------------------------------------------------------------------
    def abort(self, name: str, alias: str, reason: object = None) -> Rollout:
        """Put the alias back on its targets from before the rollout, from any state, and
        end it. The alias is back after two round trips: the record, the alias and who
        is acting are read at once, then one compare-and-set changes the alias (the
        record is written after). Aborting an aborted rollout returns it. Raises
        RolloutError (none, or it completed: roll the alias back instead)."""
        name = args.check_name(name)
        alias = args.check_alias(alias)
        why = args.check_reason(reason)
        with ThreadPoolExecutor(3) as pool:
            # the alias read leaves the store knowing the alias's state and its targets'
            # hashes, so the change needs no read of its own; failures here are the
            # change's to report
            warm = [
                pool.submit(contextvars.copy_context().run, read)
                for read in (lambda: self.backend.get_alias(name, alias), self._who)
            ]
            rollout = pool.submit(contextvars.copy_context().run, self.get, name, alias).result()
            for future in warm:
                future.exception()
        if rollout.state == ABORTED:
            return rollout
        if rollout.state == COMPLETED:
            raise self._ended_error(rollout, "abort it", "versioned alias rollback")
        return self._abort(rollout, why or f"aborted by {self._who()}")

    def promote(self, name: str, alias: str, reason: object = None) -> Rollout:
        """Go straight to 100 %: the new version alone, and the rollout completed.
        Raises RolloutError (none, ended, or the alias changed outside it)."""
        rollout, why = self._for_command(name, alias, reason)
        for _ in range(ATTEMPTS):
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
                    reason_text = rollout.promote_reason(why)
                    written = self._alias_or_gone(rollout, rollout.targets_at(last), reason_text)
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
            except (Redo, StaleRolloutError):
                rollout = self.get(name, alias, rollout.number)
        raise ConcurrentWriteError(
            f"promoting rollout {rollout.number} kept conflicting; try again"
        )

    def pause(self, name: str, alias: str, reason: object = None) -> Rollout:
        """Stop advancing (a controller running it stops at its next wake-up). Pausing a
        paused rollout returns it. Raises RolloutError (none, or ended)."""
        rollout, why = self._for_command(name, alias, reason)
        for _ in range(ATTEMPTS):
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

    def run(
        self, name: str, alias: str, on_step: Callable[[StepResult], None] | None = None
    ) -> StepResult:
        """Drive the rollout to its end: sleep through holds (renewing the lease), check,
        step. Returns when it completes, aborts or pauses. While another controller
        holds the lease this one waits, and takes over if that lease runs out."""
        contended = 0
        while True:
            try:
                result = self.step(name, alias, keep_lease=True)
            except ConcurrentWriteError:
                # another controller kept winning the record (both taking the lease at
                # once): back off and look again; the record decides who drives
                contended += 1
                if contended > ATTEMPTS:
                    raise
                self.sleep(0.05 * contended)
                continue
            contended = 0
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
