"""The rollout commands: start, run, step, status, pause, resume, promote, abort.

``run`` and ``step`` set the exit code from where the rollout ended up
(:data:`.rollout_table.EXIT_ABORTED`, :data:`.rollout_table.EXIT_PAUSED`).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from datetime import datetime

from ..exc import VersionedError
from ..rollout_plan import ABORTED, PAUSED, CheckRun, Rollout
from ..rollouts import Rollouts, StepResult
from ..timestamps import utc_now
from .context import Context, Failure
from .output import Done, Result, show_value
from .parser import UsageError
from .rollout_table import EXIT_ABORTED, EXIT_PAUSED
from .rollout_view import check_line, due, result_line, rollout_text, where

Handler = Callable[[Context, argparse.Namespace], Result]


def _in_session(handler: Handler) -> Handler:
    """Run ``handler`` with the command's session (``--verbose`` traces S3 and DynamoDB
    through it), as the other commands pass ``ctx.bsm`` with each call."""

    @functools.wraps(handler)
    def run(ctx: Context, args: argparse.Namespace) -> Result:
        with ctx.repo._using(ctx.bsm):
            return handler(ctx, args)

    return run


def _shown(ctx: Context, rollout: Rollout) -> Result:
    """The rollout: its text for people, or with --json ``Rollout.to_json()``."""
    return Done("", rollout.to_json()) if ctx.json else rollout_text(rollout)


def _exit_code(rollout: Rollout) -> int:
    return {ABORTED: EXIT_ABORTED, PAUSED: EXIT_PAUSED}.get(rollout.state, 0)


@_in_session
def start(ctx: Context, args: argparse.Namespace) -> Result:
    """Record the rollout and apply its first step; the result is the rollout."""
    if args.steps is None and args.preset is None:
        raise UsageError("rollout start needs --steps (such as 10,50,100) or --preset NAME")
    if args.bake is not None and args.check is None:
        raise UsageError("--bake goes with --check: the bake is a hold before a last check")
    rollout = ctx.repo.rollouts().start(
        args.name,
        args.alias,
        args.version,
        steps=args.steps,
        preset=args.preset,
        hold_seconds=args.hold,
        bake_seconds=args.bake,
        check=args.check,
        check_timeout_seconds=args.check_timeout,
        failure_limit=args.failure_limit,
        reason=args.reason,
    )
    if not rollout.ended:
        ctx.note(
            f"rollout {rollout.number} started at {where(rollout)}: "
            f"'versioned rollout run {args.name} {args.alias}' drives it on"
        )
    return _shown(ctx, rollout)


class _Reporter:
    """Prints what ``rollout run`` does as it goes: each check, each step, and each wait
    (what for, and until when) once."""

    def __init__(self, ctx: Context, rollouts: Rollouts, name: str, alias: str) -> None:
        self.ctx, self.rollouts, self.name, self.alias = ctx, rollouts, name, alias
        self.seen: set[tuple[int, datetime]] = set()
        self.waiting: object = None

    def say(self, line: str) -> None:
        if self.ctx.json:  # standard output is for the final object
            self.ctx.note(line)
        else:
            print(line, flush=True)

    def knows(self, rollout: Rollout) -> None:
        self.seen.update((c.step, c.at) for c in rollout.checks)

    def _new_checks(self, rollout: Rollout) -> list[CheckRun]:
        fresh = [c for c in rollout.checks if (c.step, c.at) not in self.seen]
        self.knows(rollout)
        return fresh

    def on_step(self, result: StepResult) -> None:
        for run in self._new_checks(result.rollout):
            self.say(check_line(run))
        self.say(result_line(result, utc_now()))
        self.waiting = None

    def sleep(self, seconds: float) -> None:
        """Say what the controller waits for (when that changed), then wait."""
        try:
            rollout = self.rollouts.get(self.name, self.alias)
        except VersionedError:
            rollout = None
        if rollout is not None:
            now = utc_now()
            owner = rollout.lease_owner
            if owner not in (None, self.rollouts.controller) and (
                rollout.lease_until is not None and rollout.lease_until > now
            ):
                key: object = ("held", owner)
                line = (
                    f"held by another controller ({owner}, its lease runs until "
                    f"{show_value(rollout.lease_until)}): waiting to take over if it stops"
                )
            else:
                key = ("due", rollout.due_at, rollout.step)
                line = (
                    f"waiting until {due(rollout)} to {rollout.next_action()} "
                    f"({where(rollout)}, hold {rollout.hold_seconds:g} s)"
                )
            if key != self.waiting:
                self.say(f"{show_value(now)}  {line}")
                self.waiting = key
        time.sleep(seconds)


@_in_session
def run(ctx: Context, args: argparse.Namespace) -> Result:
    """Drive the rollout to its end, a line per event; exit 0, 3 (aborted) or 4 (paused)."""
    rollouts = ctx.repo.rollouts()
    reporter = _Reporter(ctx, rollouts, args.name, args.alias)
    reporter.knows(rollouts.get(args.name, args.alias))  # checks already run are not news
    rollouts.sleep = reporter.sleep
    result = rollouts.run(args.name, args.alias, on_step=reporter.on_step)
    ctx.exit_code = _exit_code(result.rollout)
    return Done("", result.rollout.to_json()) if ctx.json else None


@_in_session
def step(ctx: Context, args: argparse.Namespace) -> Result:
    """At most one advance; says what it did (exit codes as ``run``)."""
    began = utc_now()
    result = ctx.repo.rollouts().step(args.name, args.alias)
    ctx.exit_code = _exit_code(result.rollout)
    if ctx.json:
        return Done("", {"action": result.action, "rollout": result.rollout.to_json()})
    lines = [check_line(c) for c in result.rollout.checks if c.at >= began]
    return "\n".join([*lines, result_line(result, utc_now())])


@_in_session
def status(ctx: Context, args: argparse.Namespace) -> Result:
    """The alias's newest rollout."""
    return _shown(ctx, ctx.repo.rollouts().get(args.name, args.alias))


@_in_session
def resume(ctx: Context, args: argparse.Namespace) -> Result:
    """Continue a paused rollout. When the alias was changed outside the rollout, say
    what resuming would do and go ahead only with --if-revision naming its revision."""
    rollouts = ctx.repo.rollouts()
    rollout, words, revision = rollouts.resume_plan(args.name, args.alias)
    at = rollout.last_revision if revision is None else revision
    again = f"versioned rollout resume {args.name} {args.alias} --if-revision {at}"
    if revision is not None and args.if_revision is None:
        raise Failure(f"rollout {rollout.number} not resumed: {words}. To go ahead: '{again}'")
    if args.if_revision is not None and args.if_revision != at:
        raise Failure(
            f"rollout {rollout.number} not resumed: alias {args.alias} of {args.name} is at "
            f"revision {at}, not {args.if_revision} ({words}). To go ahead: '{again}'"
        )
    was = rollout.state
    resumed = rollouts.resume(
        args.name,
        args.alias,
        expected_revision=args.if_revision if revision is not None else None,
        reason=args.reason,
    )
    if was != PAUSED and revision is None:
        ctx.note(f"rollout {rollout.number} was not paused ({was}): nothing to resume")
    else:
        ctx.note(f"rollout {rollout.number} resumed: {words}")
    return _shown(ctx, resumed)


#: what pause, promote and abort say once done
_DONE: dict[str, Callable[[Rollout, argparse.Namespace], str]] = {
    "pause": lambda r, a: (
        f"rollout {r.number} paused at {where(r)}: 'versioned rollout resume {a.name} "
        f"{a.alias}' continues it"
    ),
    "promote": lambda r, a: (
        f"rollout {r.number} promoted: alias {a.alias} serves version {r.version} alone "
        f"(revision {r.last_revision})"
    ),
    "abort": lambda r, a: f"rollout {r.number} aborted: {r.state_reason}",
}


@_in_session
def steer(ctx: Context, args: argparse.Namespace) -> Result:
    """``rollout pause``, ``promote`` or ``abort`` (the command's word), with --reason;
    the result is the rollout, and a remark says what was done."""
    word: str = args.rollout_command
    rollout: Rollout = getattr(ctx.repo.rollouts(), word)(args.name, args.alias, args.reason)
    ctx.note(_DONE[word](rollout, args))
    return _shown(ctx, rollout)
