"""A rollout controller killed at every step boundary, then a fresh one: every step once.

Local: the controller, on a thread of its own, is raised out of (as a kill would stop
it: nothing of it runs after that point, SQLite rolls its open transaction back) at the
k-th of the local backend's steps (``stores/local/steps.py``), for every k until it
finishes. S3: the controller's
k-th request is held and the controller killed there (the request lands, its answer is
lost, every later request is dropped), for every k; and, without the kill, its answer is
lost and botocore sends it again (the write landed, the caller saw an error).

Then a fresh controller (``run``, injected clock and sleep) drives the rollout to its end,
and the history must hold each step exactly once, in order (``1, 2, 3``), ending at
100 % with the rollout completed (an abort: on the pre-rollout targets), with every rule
of :mod:`tests.rollout_invariants`. Some k fall between the alias write and the record
write: the fresh controller must adopt that step, not apply it again (counted).
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.proxy import FaultProxy, Hold
from tests.helpers import Engines, S3Backend, unique
from tests.interleavings.rollout_ops import ALIAS, CONTENTS, T0, Clock, controller, prepare
from tests.interleavings.s3_explorer import World, hold_proxy, interleave
from tests.invariants import LocalRawStore
from tests.rollout_invariants import history, rollout_problems, step_numbers
from versioned.repository import BaseRepository
from versioned.stores.base import Targets
from versioned.stores.local import LocalBackend as Store
from versioned.stores.local import steps

NAME = "a"

Op = Callable[[Any, str], object]
#: What the killed controller was doing. "start": the rollout not yet recorded.
OPS: dict[str, Op] = {
    "start": lambda repo, name: controller(repo, "A", clock=Clock(T0)).start(
        name, ALIAS, 3, steps="10,50,100", hold_seconds=0, check="probe"
    ),
    "step": lambda repo, name: controller(repo, "A").step(name, ALIAS),
    "run": lambda repo, name: controller(repo, "A").run(name, ALIAS),
    "abort": lambda repo, name: controller(repo, "A").abort(name, ALIAS, "bad"),
}


def _prepared(repo: Any, name: str, op: str) -> None:
    if op != "start":
        prepare(repo, name)
        return
    for content in CONTENTS:
        repo.put_artifact(name, content)
        repo.publish_artifact_version(name)
    repo.put_alias(name, ALIAS, 2)
    repo.put_alias(name, ALIAS, 1)


def adopted(repo: Any, name: str) -> bool:
    """Whether the record misses a change of its own (the alias write landed, the record
    write did not): the next controller must adopt it."""
    try:
        record = controller(repo, "after").get(name, ALIAS)
    except Exception:
        return False
    return max((e.revision for e in history(repo, name, ALIAS)), default=0) > record.last_revision


def finish_and_check(repo: Any, name: str, op: str) -> list[str]:
    """A fresh controller finishes what ``op`` started; what is wrong then."""
    fresh = controller(repo, "after")
    if op == "abort":
        outcome = fresh.abort(name, ALIAS, "again")
        wanted, state = Targets("1"), "aborted"
    else:
        outcome = fresh.run(name, ALIAS).rollout
        wanted, state = Targets("3"), "completed"
    entries = history(repo, name, ALIAS)
    found = rollout_problems(repo, name, ALIAS)
    numbers = step_numbers(entries, 1)
    expected = [1] if op == "abort" else [1, 2, 3]
    if numbers != expected:
        found.append(f"steps in the history {numbers}, not {expected}")
    aborts = [e for e in entries if (e.reason or "").startswith("rollout 1: abort")]
    if len(aborts) > 1:
        found.append(f"{len(aborts)} abort entries")
    alias = repo.get_alias(name, ALIAS)
    if outcome.state != state or Targets(alias.version, alias.secondary_version) != wanted:
        found.append(f"ended {outcome.state} on {alias.version}/{alias.secondary_version}")
    return found


# --- local: a forked controller exits at each step ---------------------------------------
@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    made = {}
    for kind in ("start", "rollout"):
        root = tmp_path_factory.mktemp(f"rollout-crash-{kind}") / "repo"
        _prepared(BaseRepository(Store(root)), NAME, "start" if kind == "start" else "step")
        conn = sqlite3.connect(root / "versioned.sqlite3")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        made[kind] = root
    return made


class Killed(BaseException):
    """Raised out of the controller at a step: nothing of it runs after that point."""


def _killed_at(root: Path, op: str, k: int) -> bool:
    """Run ``op`` on a thread of its own, raised out of at its k-th step; whether it was."""
    count = 0
    worker = threading.current_thread()
    ended: list[BaseException | None] = []

    def hook(label: str) -> None:
        nonlocal count
        if threading.current_thread() is not worker:
            return
        if count == k:
            raise Killed(label)
        count += 1

    def body() -> None:
        nonlocal worker
        worker = threading.current_thread()
        repo = BaseRepository(Store(root))
        repo.list_artifact_names()  # opening is not part of the controller's work
        steps.install(hook)
        try:
            OPS[op](repo, NAME)
            ended.append(None)
        except BaseException as error:
            ended.append(error)
        finally:
            steps.install(None)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(60)
    assert ended, f"{op} never ended"
    if ended[0] is not None and not isinstance(ended[0], Killed):
        raise AssertionError(f"{op} raised {ended[0]!r} before its step {k}") from ended[0]
    return ended[0] is not None


@pytest.mark.parametrize("op", list(OPS))
def test_local_controller_killed_at_every_step(
    templates: dict[str, Path], tmp_path: Path, op: str
) -> None:
    failures, adoptions, k = [], 0, 0
    while True:
        root = tmp_path / str(k)
        shutil.copytree(templates["start" if op == "start" else "rollout"], root)
        killed = _killed_at(root, op, k)
        repo = BaseRepository(Store(root))
        found = LocalRawStore(root=root, suffix="").violations()
        if killed and op != "start":
            adoptions += adopted(repo, NAME)
        if killed and op == "start" and not repo.rollouts().list(NAME, ALIAS):
            OPS["start"](repo, NAME)  # killed before recording it: nothing to resume
        found += finish_and_check(repo, NAME, op)
        if found:
            failures.append(f"killed at step {k}: " + "; ".join(found))
        shutil.rmtree(root)
        if not killed:
            break
        k += 1
    assert k >= 3, f"{op} offered only {k} steps"
    if op in ("step", "run"):
        assert adoptions, f"no kill of {op} fell between its alias write and its record write"
    assert not failures, "\n".join(failures)


# --- S3: the controller killed at each request, or its answer lost ---------------------
@pytest.fixture(scope="module")
def proxy(engines: Engines) -> Any:
    with hold_proxy(engines) as held:
        yield held


@pytest.mark.parametrize("mode", ["die", "lost"])
@pytest.mark.parametrize("op", ["step", "abort"])
def test_s3_controller_killed_at_every_request(
    make_s3_backend: Callable[[], S3Backend], proxy: FaultProxy, op: str, mode: str
) -> None:
    world = World.make(make_s3_backend(), proxy, retry_attempts=2)
    name = unique("r")
    _prepared(world.direct, name, op)
    recorded = world.record(lambda repo: OPS[op](repo, name))
    failures, adoptions = [], 0
    for k in range(1, len(recorded) + 1):
        name = unique("r")
        _prepared(world.direct, name, op)
        hold = Hold(at=k, mode="before" if mode == "die" else "lost", die=mode == "die")
        outcome = interleave(world, lambda repo, n=name: OPS[op](repo, n), lambda repo: None, hold)
        assert outcome.held, f"k={k}: the hold caught no request"
        if mode == "lost" and outcome.a_error is not None:
            failures.append(f"k={k}: a lost answer made it raise {outcome.a_error!r}")
        adoptions += adopted(world.direct, name)
        found = finish_and_check(world.direct, name, op)
        if found:
            failures.append(f"k={k} ({outcome.held_operation}): " + "; ".join(found))
    if op == "step" and mode == "die":
        assert adoptions, "no kill fell between the alias write and the record write"
    assert not failures, "\n".join(failures)


def test_an_adopted_step_holds_on_the_controller_s_clock(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    """Killed after its alias write: the next controller adopts the step, and the hold
    runs on that controller's clock (the entry's time is the store's, real time, far
    from an injected clock): with hold 0 the next step is due at once, so one more
    ``step`` applies it (the last: completed) instead of waiting for the real time."""
    for k in range(40):
        root = tmp_path / str(k)
        shutil.copytree(templates["rollout"], root)
        assert _killed_at(root, "step", k), "the step ended before its alias write landed"
        repo = BaseRepository(Store(root))
        if adopted(repo, NAME):
            break
    fresh = controller(repo, "after")
    assert fresh.step(NAME, ALIAS).action == "completed"  # step 3 of 3 applied
    assert step_numbers(history(repo, NAME, ALIAS), 1) == [1, 2, 3]
