"""Resuming a paused rollout, and what every command checks first.

A rollout paused by a change made outside it resumes only after saying what it will do:
:meth:`Resuming.resume_plan` puts it in words, and :meth:`Resuming.resume` goes ahead
only with the alias's revision now (``expected_revision``), so nobody resumes over a
state they have not seen.
"""

from __future__ import annotations

from datetime import datetime

from . import arguments as args
from . import rollout_plan as plan
from .exc import ConcurrentWriteError, RolloutError, StaleRolloutError
from .rollout_driver import ATTEMPTS, Redo, RolloutDriver
from .rollout_plan import COMPLETED, RUNNING, Rollout
from .rules import describe_targets
from .stores.base import Targets


class Resuming(RolloutDriver):
    """``resume`` and ``resume_plan``, and the checks the commands share."""

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
        for _ in range(ATTEMPTS):
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
            except (Redo, StaleRolloutError):
                continue
        raise ConcurrentWriteError(f"resuming the rollout of {alias!r} kept conflicting; try again")

    def _resume_onto(self, rollout: Rollout, revision: int, said: str, now: datetime) -> Rollout:
        current = self.backend.get_alias(rollout.name, rollout.alias)
        if current is None or current.revision != revision:
            raise Redo
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
