"""How the rollout commands write a rollout for people: its fields a line, its checks as
a table, and the one-line accounts ``rollout run`` and ``rollout step`` print."""

from __future__ import annotations

from datetime import datetime

from .. import arguments
from ..notation import describe_targets
from ..rollout_plan import ABORTED, PAUSED, CheckRun, Rollout
from ..rollouts import CHECKED, ENDED, HELD, STEPPED, WAITING, StepResult
from ..stores.base import Targets
from .output import align, output_width, show_value

#: the checks a table shows (the newest; --json has every one the record keeps)
SHOWN_CHECKS = 10


def targets(value: Targets) -> str:
    """``5`` or ``5 (80%) + 6 (20%)``, as every command writes targets."""
    secondary = value.secondary_version
    return describe_targets(
        arguments.version_to_str(value.version),
        None if secondary is None else arguments.version_to_str(secondary),
        value.secondary_version_weight,
    )


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _steps(rollout: Rollout) -> str:
    marks = [f"[{s}]" if i == rollout.step else str(s) for i, s in enumerate(rollout.steps, 1)]
    return " -> ".join(marks) + " %"


def where(rollout: Rollout) -> str:
    """``step 2/3, 50 %``."""
    return f"step {rollout.step}/{len(rollout.steps)}, {rollout.weight} %"


def set_by(rollout: Rollout) -> Targets:
    """What the rollout last set the alias to (an aborted one: the targets before it)."""
    return rollout.before if rollout.state == ABORTED else rollout.current_targets()


def due(rollout: Rollout) -> str:
    """When the next action is due: a time, or why none is."""
    if rollout.due_at is None:
        return "-"
    return show_value(rollout.due_at)


def rollout_text(rollout: Rollout) -> str:
    """The rollout, a field a line, then its newest checks as a table."""
    stable = targets(rollout.before)
    pairs = [
        ["rollout", f"{rollout.number} of {rollout.name} {rollout.alias}"],
        ["state", rollout.state + (f": {rollout.state_reason}" if rollout.state_reason else "")],
        ["version", str(rollout.version)],
        ["stable", stable + ("" if rollout.ended else " (an abort goes back there)")],
        ["steps", _steps(rollout) + (f" (preset {rollout.preset})" if rollout.preset else "")],
        ["step", f"{rollout.step}/{len(rollout.steps)}, {rollout.weight} %"],
        ["last set", f"{targets(set_by(rollout))} (alias revision {rollout.last_revision})"],
        ["hold", _seconds(rollout.hold_seconds) + f", bake {_seconds(rollout.bake_seconds)}"],
        [
            "check",
            "-"
            if rollout.check is None
            else f"{rollout.check} (timeout {_seconds(rollout.check_timeout_seconds)}, "
            f"failures {rollout.failures} of {rollout.failure_limit} allowed)",
        ],
        ["next", rollout.next_action()],
        ["due", due(rollout)],
        ["reason", show_value(rollout.reason)],
        ["started", f"{show_value(rollout.created_at)} by {rollout.who}"],
    ]
    if rollout.lease_owner is not None:
        pairs.append(
            ["controller", f"{rollout.lease_owner} until {show_value(rollout.lease_until)}"]
        )
    text = align(pairs)
    if rollout.checks:
        shown = rollout.checks[-SHOWN_CHECKS:]
        header = ["STEP", "WEIGHT", "AT", "OUTCOME", "EXIT", "DETAIL"]
        rows = [
            [str(c.step), f"{c.weight} %", show_value(c.at), c.outcome, show_value(c.exit_code),
             c.detail or "-"]
            for c in shown
        ]  # fmt: skip
        older = len(rollout.checks) - len(shown)
        title = "checks" + (f" (the newest {len(shown)}; --json has all)" if older else "")
        text += f"\n\n{title}:\n" + align([header, *rows], width=output_width())
    return text


def check_line(run: CheckRun) -> str:
    """A check's outcome, in one line."""
    return f"{show_value(run.at)}  check at {run.weight} % (step {run.step}): {run.outcome}" + (
        f" ({run.detail})" if run.detail else ""
    )


def result_line(result: StepResult, now: datetime) -> str:
    """What one ``step`` did, in one line."""
    rollout, action = result.rollout, result.action
    at = show_value(now)
    if action == STEPPED:
        return (
            f"{at}  {where(rollout)}: alias {rollout.alias} -> "
            f"{targets(rollout.current_targets())} (revision {rollout.last_revision}); "
            f"next: {rollout.next_action()} at {due(rollout)}"
        )
    if action == CHECKED:
        return (
            f"{at}  check failed at {where(rollout)} ({rollout.failures} of "
            f"{rollout.failure_limit} allowed): holding the step again until {due(rollout)}"
        )
    if action == WAITING:
        return f"{at}  waiting until {due(rollout)} to {rollout.next_action()} ({where(rollout)})"
    if action == HELD:
        return (
            f"{at}  held by another controller ({rollout.lease_owner}) until "
            f"{show_value(rollout.lease_until)}: nothing done"
        )
    return ended_line(rollout, at, already=action == ENDED)


def ended_line(rollout: Rollout, at: str, *, already: bool = False) -> str:
    """A rollout that completed, aborted or paused, in one line."""
    was = "was already " if already else ""
    alias = f"alias {rollout.alias} at {targets(rollout.current_targets())}"
    if rollout.state == PAUSED:
        alias = f"it last set alias {rollout.alias} to {targets(rollout.current_targets())}"
    elif rollout.state == ABORTED:
        alias = f"alias {rollout.alias} back on {targets(rollout.before)}"
    why = f": {rollout.state_reason}" if rollout.state_reason else ""
    return f"{at}  rollout {rollout.number} {was}{rollout.state}{why} ({alias})"
