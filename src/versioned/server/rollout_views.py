"""Rollouts as the alias page shows them, and the server's rollout controller.

Imports nothing of the server but :mod:`.views`, so both the page (:mod:`.pages`) and the
JSON routes (:mod:`.rollouts`) build on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..rollout_check import CheckOutcome
from ..rollout_plan import ENDED, Rollout
from ..rollouts import Rollouts
from ..rules import describe_targets
from ..timestamps import utc_now
from .views import when

#: rollouts the alias page reads (one request): the one in progress and the newest ended
PAGE_ROLLOUTS = 10


def _never_run(command: str, env: Mapping[str, str], timeout: float) -> CheckOutcome:
    """The server's check runner: it refuses (checks run where the controller runs)."""
    raise RuntimeError(f"versioned serve never runs check commands (asked to run {command!r})")


def controller(repo: Any) -> Rollouts:
    """The server's view of ``repo``'s rollouts: it reads and steers them, and never runs
    a check. Made per request (inside ``acting_as`` for a write, so it records the
    token's name)."""
    found: Rollouts = repo.rollouts(runner=_never_run)
    return found


def _steps(rollout: Rollout) -> list[dict[str, Any]]:
    """Each step with its weight and whether it is applied, the current one or to come."""
    shown = []
    for index, weight in enumerate(rollout.steps, start=1):
        status = "current" if index == rollout.step else "applied"
        if index > rollout.step:
            status = "pending"
        shown.append({"index": index, "weight": weight, "status": status})
    return shown


def _due(rollout: Rollout, now: datetime) -> dict[str, Any] | None:
    """When the next action is due: the time, and seconds from ``now`` (0: overdue)."""
    if rollout.due_at is None or rollout.ended:
        return None
    left = max(0, round((rollout.due_at - now).total_seconds()))
    return {"at": when(rollout.due_at), "in_seconds": left}


def rollout_view(rollout: Rollout, now: datetime) -> dict[str, Any]:
    """What the page shows of ``rollout``."""
    return {
        "number": rollout.number,
        "version": str(rollout.version),
        "state": rollout.state,
        "state_reason": rollout.state_reason,
        "reason": rollout.reason,
        "who": rollout.who,
        "preset": rollout.preset,
        "before": describe_targets(rollout.before),
        "steps": _steps(rollout),
        "step": rollout.step,
        "weight": rollout.weight,
        "next_action": rollout.next_action(),
        "due": _due(rollout, now),
        "hold_seconds": rollout.hold_seconds,
        "check": rollout.check,
        "failures": rollout.failures,
        "failure_limit": rollout.failure_limit,
        "created_at": when(rollout.created_at),
        "updated_at": when(rollout.updated_at),
        "checks": [
            {
                "step": c.step,
                "weight": c.weight,
                "at": when(c.at),
                "outcome": c.outcome,
                "exit_code": c.exit_code,
                "detail": c.detail,
            }
            for c in reversed(rollout.checks)  # newest first, as the history
        ],
        "events": [{"at": when(e.at), "what": e.what, "who": e.who} for e in rollout.events],
    }


def for_page(repo: Any, name: str, alias: str) -> dict[str, Any]:
    """The rollout in progress (running or paused; None) and the newest ended ones, from
    one read of the alias's rollouts."""
    now = utc_now()
    found = controller(repo).list(name, alias, limit=PAGE_ROLLOUTS)
    active = next((r for r in found if r.state not in ENDED), None)
    return {
        "active": None if active is None else rollout_view(active, now),
        "finished": [rollout_view(r, now) for r in found if r.state in ENDED],
    }
