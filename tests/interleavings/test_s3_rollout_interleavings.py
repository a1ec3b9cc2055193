"""Rollout operations raced on S3 + DynamoDB: A held at each of its requests (``before``:
not yet sent; ``lost``: applied, its answer lost and the request sent again) while B runs
to completion, for every pair with a rollout operation on one side
(:mod:`tests.interleavings.rollout_ops`); then the raw invariants, 1.0.1's view, verified
reads, and the rollout rules before and after one more ``step``
(:func:`tests.rollout_invariants.rollout_problems`). Two controllers running at once, on
threads, apply each step once.

B's controller's clock is past A's lease, so B takes over a held A (a controller frozen
past its lease): the frozen one's writes must then be refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from tests.faults.proxy import FaultProxy, Hold
from tests.helpers import Engines, S3Backend, unique
from tests.interleavings.rollout_ops import ALIAS, ALLOWED, OPS, PAIRS, controller, prepare, settle
from tests.interleavings.s3_explorer import World, check_artifact, hold_proxy, interleave
from tests.rollout_invariants import history, rollout_problems, step_numbers
from versioned.rollout_check import CheckOutcome

MODES = ("before", "lost")
#: Pairs in the default tier; the others are marked slow.
QUICK = {
    ("rollout_step", "rollout_step"),
    ("rollout_step", "put_alias"),
    ("put_alias", "rollout_step"),
    ("rollout_abort", "rollout_step"),
    ("rollout_step", "rollout_abort"),
    ("rollout_step", "purge_artifact"),
    ("rollout_abort", "rollback_alias"),
}


@pytest.fixture(scope="module")
def proxy(engines: Engines) -> Iterator[FaultProxy]:
    with hold_proxy(engines) as held:
        yield held


@pytest.fixture(scope="module")
def world(make_s3_backend: Callable[[], S3Backend], proxy: FaultProxy) -> World:
    return World.make(make_s3_backend(), proxy)


def _problems(world: World, name: str, a: str, b: str, outcome: object) -> list[str]:
    found = []
    for role, op in (("A", a), ("B", b)):
        error = getattr(outcome, f"{role.lower()}_error")
        if error is not None and not isinstance(error, ALLOWED.get(op, ())):
            found.append(f"{role} ({op}) raised {type(error).__name__}: {error}")
    found += check_artifact(world, name)
    repo = world.direct
    found += rollout_problems(repo, name, ALIAS, settled=False)
    settle(repo, name)
    found += [f"after one more step: {p}" for p in rollout_problems(repo, name, ALIAS)]
    return found


PARAMS = [
    pytest.param(a, b, id=f"{a}-{b}", marks=() if (a, b) in QUICK else pytest.mark.slow)
    for a, b in PAIRS
]


@pytest.mark.parametrize("a, b", PARAMS)
def test_s3_rollout_interleavings(world: World, a: str, b: str) -> None:
    name = unique("r")
    prepare(world.direct, name)
    recorded = world.record(lambda repo: OPS[a](repo, name, "A"))
    failures, held = [], 0
    for k in range(1, len(recorded) + 1):
        for mode in MODES:
            name = unique("r")
            prepare(world.direct, name)
            outcome = interleave(
                world,
                lambda repo, n=name: OPS[a](repo, n, "A"),  # type: ignore[misc]
                lambda repo, n=name: OPS[b](repo, n, "B"),  # type: ignore[misc]
                Hold(at=k, mode=mode),
            )
            held += outcome.held
            found = _problems(world, name, a, b, outcome)
            if found:
                failures.append(f"k={k} {mode} ({outcome.held_operation}): " + "; ".join(found))
    assert held >= len(recorded), f"only {held} of {2 * len(recorded)} holds caught a request"
    assert not failures, f"{len(failures)} interleavings broke:\n" + "\n".join(failures)


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
def test_two_controllers_at_once_apply_each_step_once(backend: object) -> None:
    """Two ``run`` at once (threads, hold 0, a passing check), several times."""
    repo = backend.repo  # type: ignore[attr-defined]
    for attempt in range(3):
        name = f"two{attempt}"
        prepare(repo, name, steps="10,20,40,60,80,100")
        results: list[object] = []

        def drive(role: str, n: str = name, results: list[object] = results) -> None:
            try:
                results.append(controller(repo, role).run(n, ALIAS).rollout.state)
            except BaseException as error:
                results.append(error)

        threads = [threading.Thread(target=drive, args=(role,)) for role in ("A", "B")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert results == ["completed", "completed"], results
        assert step_numbers(history(repo, name, ALIAS), 1) == [1, 2, 3, 4, 5, 6]
        assert rollout_problems(repo, name, ALIAS) == []


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
@pytest.mark.parametrize("outcome", ["failed", "inconclusive", "failed within limit"])
@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_check_at_each_step(backend: object, outcome: str, at: int) -> None:
    """The check fails or is inconclusive at step ``at`` (3: the bake at 100 %)."""
    repo = backend.repo  # type: ignore[attr-defined]
    name = "c"
    within = outcome == "failed within limit"
    prepare(repo, name, failure_limit=1 if within else 0)
    seen: list[str] = []

    def runner(command: str, env: dict[str, str], timeout: float) -> CheckOutcome:
        seen.append(env["VERSIONED_ROLLOUT_STEP"])
        if int(env["VERSIONED_ROLLOUT_STEP"]) == at and seen.count(str(at)) == 1:
            return CheckOutcome("inconclusive" if outcome == "inconclusive" else "failed", 2, "x")
        return CheckOutcome("passed", 0, "ok")

    ctl = controller(repo, "A", runner=runner)
    if at == 3:  # a bake, so that a check runs at 100 %
        ctl.abort(name, ALIAS, "restart with a bake")
        ctl.start(name, ALIAS, 3, steps="10,50,100", hold_seconds=0, bake_seconds=1,
                  check="probe", failure_limit=1 if within else 0)  # fmt: skip
        seen.clear()
    result = ctl.run(name, ALIAS)
    alias = repo.get_alias(name, ALIAS)
    targets = (alias.version, alias.secondary_version)
    number = result.rollout.number
    numbers = step_numbers(history(repo, name, ALIAS), number)
    assert rollout_problems(repo, name, ALIAS) == []
    if outcome == "failed":
        assert (result.action, result.rollout.step) == ("aborted", at)
        assert targets == ("1", None) and numbers == list(range(1, at + 1))
    elif outcome == "inconclusive":
        assert (result.action, result.rollout.step) == ("paused", at)
        assert result.rollout.last_revision == alias.revision
        assert numbers == list(range(1, at + 1))
        assert targets == (("3", None) if at == 3 else ("1", "3"))
    else:
        assert result.action == "completed" and numbers == [1, 2, 3]
        assert seen.count(str(at)) == 2, seen  # held again at that step, then passed
        assert [c.outcome for c in result.rollout.checks if c.step == at] == ["failed", "passed"]
