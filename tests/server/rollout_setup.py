"""Rollouts in chosen states for the server tests, made through the library with a
simulated clock and scripted check outcomes (no sleeping, no check command run)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.helpers import Repository
from versioned.rollout_check import CheckOutcome
from versioned.rollout_plan import Rollout
from versioned.rollouts import Rollouts
from versioned.timestamps import utc_now

HOLD = 60


@dataclass
class Setup:
    """A controller on a simulated clock whose checks answer ``outcomes`` in turn."""

    repo: Repository
    now: datetime = field(default_factory=utc_now)
    outcomes: list[CheckOutcome] = field(default_factory=list)
    ran: list[dict[str, str]] = field(default_factory=list)

    def clock(self) -> datetime:
        return self.now

    def run(self, command: str, env: Mapping[str, str], timeout: float) -> CheckOutcome:
        self.ran.append(dict(env))
        return self.outcomes.pop(0)

    @property
    def rollouts(self) -> Rollouts:
        return self.repo.rollouts(clock=self.clock, runner=self.run)

    def start(self, alias: str = "canary", version: int = 3, **options: object) -> Rollout:
        """A rollout of ``version`` on ``alias`` (made at v1 if missing), steps 10,50,100."""
        if alias not in [a.alias for a in self.repo.list_aliases("model")]:
            self.repo.put_alias("model", alias, 1, reason="stable")
        settings: dict[str, object] = {
            "steps": "10,50,100",
            "hold_seconds": HOLD,
            "check": "probe",
            **options,
        }
        return self.rollouts.start("model", alias, version, reason="ship v3", **settings)

    def after_hold(self, outcome: CheckOutcome, alias: str = "canary") -> Rollout:
        """The hold passes, the check answers ``outcome``, the controller steps once."""
        self.now += timedelta(seconds=HOLD + 1)
        self.outcomes.append(outcome)
        return self.rollouts.step("model", alias).rollout


PASSED = CheckOutcome("passed", 0, "p99 120 ms")
FAILED = CheckOutcome("failed", 1, "error rate 7 %")
INCONCLUSIVE = CheckOutcome("inconclusive", 3, "metrics backend timed out")
