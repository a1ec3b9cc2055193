"""Rollout operations for the explorers, on either backend, and their set-up.

The set-up (:func:`prepare`): artifact versions 1-3; alias ``prod`` on 2 (revision 1),
then on 1 (revision 2); rollout 1 of version 3 over ``10,50,100`` with hold 0 and a check
that passes (a stub runner), started at :data:`T0`, so step 1 is revision 3 and step 2 is
due. Controllers get clocks of their own: role ``A`` at :data:`T1`, role ``B`` far enough
past it that A's lease has run out (B may take over a held A: the harshest race), and the
controller that settles things afterwards later still.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from versioned import exc
from versioned.rollout_check import CheckOutcome
from versioned.rollouts import LEASE_SECONDS, Rollouts

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
TIMEOUT = 60.0
LEASE = timedelta(seconds=LEASE_SECONDS + TIMEOUT)
T1 = T0 + timedelta(hours=1)
CLOCKS = {"A": T1, "B": T1 + LEASE * 2, "after": T1 + LEASE * 5}
ALIAS = "prod"
CONTENTS = (b"one " * 40, b"two " * 40, b"three " * 40)


def passing(command: str, env: dict[str, str], timeout: float) -> CheckOutcome:
    return CheckOutcome("passed", 0, "ok")


class Clock:
    """A clock tests move by hand; ``sleep`` moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def controller(
    repo: Any,
    role: str,
    *,
    clock: Clock | None = None,
    runner: Callable[[str, dict[str, str], float], CheckOutcome] = passing,
) -> Rollouts:
    """A controller of its own (id ``role``) on ``repo``."""
    clock = clock or Clock(CLOCKS[role])
    return Rollouts(
        repo._engine, clock=clock, sleep=clock.sleep, runner=runner, controller=f"ctl-{role}"
    )


def prepare(repo: Any, name: str, *, steps: str = "10,50,100", failure_limit: int = 0) -> None:
    """The set-up in the module docstring."""
    for content in CONTENTS:
        repo.put_artifact(name, content)
        repo.publish_artifact_version(name)
    repo.put_alias(name, ALIAS, 2)
    repo.put_alias(name, ALIAS, 1)
    controller(repo, "start", clock=Clock(T0)).start(
        name, ALIAS, 3, steps=steps, hold_seconds=0, check="probe", failure_limit=failure_limit
    )


RoleOp = Callable[[Any, str, str], object]


def _nothing_left_is_fine(call: Callable[[], object]) -> object:
    try:
        return call()
    except exc.InvalidArgumentError as error:
        if "nothing to roll back" not in str(error):
            raise
        return None


#: The rollout operations, each run by a controller of the role's own.
ROLLOUT_OPS: dict[str, RoleOp] = {
    "rollout_step": lambda repo, name, role: controller(repo, role).step(name, ALIAS),
    "rollout_abort": lambda repo, name, role: controller(repo, role).abort(name, ALIAS, "bad"),
    "rollout_promote": lambda repo, name, role: controller(repo, role).promote(name, ALIAS),
}
#: What the rollouts race: alias changes by hand, and removal of what they stand on.
OTHER_OPS: dict[str, RoleOp] = {
    "put_alias": lambda repo, name, role: repo.put_alias(name, ALIAS, 2, reason="by hand"),
    "rollback_alias": lambda repo, name, role: _nothing_left_is_fine(
        lambda: repo.rollback_alias(name, ALIAS, reason="back")
    ),
    "delete_alias": lambda repo, name, role: repo.delete_alias(name, ALIAS),
    "purge_artifact": lambda repo, name, role: repo.purge_artifact(name),
    "purge_artifact_versions": lambda repo, name, role: repo.purge_artifact_versions(name, 0, 0),
}
OPS = {**ROLLOUT_OPS, **OTHER_OPS}
#: Every ordered pair with a rollout operation on at least one side.
PAIRS = [(a, b) for a in OPS for b in OPS if a in ROLLOUT_OPS or b in ROLLOUT_OPS]

#: Errors a rollout operation documents for the states a race can leave.
ALLOWED: dict[str, tuple[type[BaseException], ...]] = {
    # the rollout purged (none left), or it kept changing
    "rollout_step": (exc.RolloutError, exc.ConcurrentWriteError),
    # also: completed meanwhile (too late to abort)
    "rollout_abort": (exc.RolloutError, exc.ConcurrentWriteError),
    # also: the alias changed outside the rollout
    "rollout_promote": (exc.RolloutError, exc.ConcurrentWriteError),
    "put_alias": (exc.ArtifactNotFoundError,),
    "rollback_alias": (
        exc.ArtifactNotFoundError,
        exc.AliasNotFoundError,
        exc.RevisionMismatchError,
    ),
    "delete_alias": (exc.AliasNotFoundError,),
}


def settle(repo: Any, name: str) -> None:
    """One more ``step`` by a fresh controller past every lease (nothing if purged)."""
    with contextlib.suppress(exc.RolloutError):
        controller(repo, "after").step(name, ALIAS)
