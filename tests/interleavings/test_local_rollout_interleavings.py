"""Rollout operations raced against alias changes, purges, retention and each other, on
the local backend: A held at each of its steps (``stores/local/steps.py``) while B runs
to completion, the way ``test_local_interleavings`` explores the other writes (its
:class:`Pauser` holds A; B waits when it reaches A's open transaction).

Set-up and operations: :mod:`tests.interleavings.rollout_ops`. After each interleaving:
both ended with an error their documentation explains or none; the raw-storage
invariants and every alias history verify; then a fresh controller takes one more
``step`` and the rollout rules hold (:func:`tests.rollout_invariants.rollout_problems`:
each step at most once and in order, no change made outside the rollout overwritten,
the record agreeing with the alias, an abort back on the pre-rollout targets).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.interleavings import test_local_interleavings as local
from tests.interleavings.rollout_ops import ALIAS, ALLOWED, OPS, PAIRS, prepare, settle
from tests.invariants import LocalRawStore
from tests.rollout_invariants import rollout_problems
from versioned.repository import BaseRepository
from versioned.stores.local import LocalBackend as Store

NAME = "a"
Outcomes = dict[str, BaseException | None]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rollout-template") / "repo"
    prepare(BaseRepository(Store(root)), NAME)
    conn = sqlite3.connect(root / "versioned.sqlite3")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return root


#: Each operation as A and as B (its controller's clock is the role's).
ROLE_OPS = {
    f"{role}:{op}": (lambda repo, op=op, role=role: OPS[op](repo, NAME, role))
    for op in OPS
    for role in ("A", "B")
}


def interleave(template: Path, root: Path, a: str, b: str, k: int) -> tuple[str | None, Outcomes]:
    """A held at its k-th step while B runs; returns the step's label (None: A ended
    first) and how both ended."""
    run = local.interleave(template, root, f"A:{a}", f"B:{b}", k, ROLE_OPS)
    return run.label, run.outcomes


def problems_after(root: Path, a: str, b: str, outcomes: Outcomes) -> list[str]:
    found = []
    for role, op in (("A", a), ("B", b)):
        error = outcomes.get(role, AssertionError("never finished"))
        if error is not None and not isinstance(error, ALLOWED.get(op, ())):
            found.append(f"{role} ({op}) raised {type(error).__name__}: {error}")
    found += LocalRawStore(root=root, suffix="").violations()
    repo = BaseRepository(Store(root))
    verified = repo.verify_alias_history(NAME, ALIAS)
    found += [f"history: {p}" for p in verified.problems]
    found += rollout_problems(repo, NAME, ALIAS, settled=False)
    settle(repo, NAME)
    found += [f"after one more step: {p}" for p in rollout_problems(repo, NAME, ALIAS)]
    return found


@pytest.mark.parametrize("a, b", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_rollout_interleavings(template: Path, tmp_path: Path, a: str, b: str) -> None:
    failures = []
    k = 0
    while True:
        root = tmp_path / str(k)
        label, outcomes = interleave(template, root, a, b, k)
        found = problems_after(root, a, b, outcomes)
        if found:
            where = f"A={a} held at step {k} ({label})" if label else f"A={a} first"
            failures.append(f"{where}, B={b}: " + "; ".join(found))
        shutil.rmtree(root)
        if label is None:
            break
        k += 1
    assert k >= 2, f"{a} offered only {k} pause points"
    assert not failures, f"{len(failures)} of {k + 1} interleavings broke:\n" + "\n".join(failures)
