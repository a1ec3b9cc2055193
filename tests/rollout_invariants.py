"""The rollout rules, checked on what a repository holds (either backend, public API).

:func:`rollout_problems` lists every way an alias's history and its rollout records break
the rules of issue 18 after any interleaving, crash or race:

(a) each rollout's steps appear in the history at most once each and in order: the step
    numbers of its ``rollout N: step k/M`` entries rise by exactly one (from 1, or from a
    ``resume at step k`` entry);
(b) the rollout never overwrote a change made outside it: each entry it wrote (but a
    resume, which is an explicit decision on the alias as it is) directly follows its own
    previous entry, or the revision it started from;
(c) the record agrees with the alias: a running rollout's alias is at the record's
    ``last_revision`` with the targets of its current step; whatever the state, when the
    alias is at ``last_revision`` its targets are the ones the record says (current step,
    100 % when completed, the pre-rollout targets when aborted), and ``last_revision`` is
    an entry of the rollout's own (or the revision it started from);
(d) an abort that found no change made outside the rollout left the alias on the
    pre-rollout targets.
"""

from __future__ import annotations

import re
from typing import Any

from versioned import exc
from versioned.rollout_plan import ABORTED, COMPLETED, RUNNING, Rollout
from versioned.stores.base import AliasChange, Targets

_STEP = re.compile(r"rollout (\d+): step (\d+)/(\d+), (\d+) %$")
_RESUME = re.compile(r"rollout (\d+): resume at step (\d+)/(\d+)")


def history(repo: Any, name: str, alias: str) -> list[AliasChange]:
    """The alias's whole history, oldest first (empty when purged)."""
    try:
        entries = repo.list_alias_history(name, alias, limit=1000)
    except exc.AliasNotFoundError:
        return []
    return sorted(entries, key=lambda e: e.revision)


def step_numbers(entries: list[AliasChange], number: int) -> list[int]:
    """The steps rollout ``number`` wrote, in history order."""
    found = []
    for entry in entries:
        match = _STEP.match(entry.reason or "")
        if match and int(match.group(1)) == number:
            found.append(int(match.group(2)))
    return found


def _own(entry: AliasChange | None, number: int) -> bool:
    return entry is not None and (entry.reason or "").startswith(f"rollout {number}: ")


def rollout_problems(repo: Any, name: str, alias: str, *, settled: bool = True) -> list[str]:
    """Every rule (a)-(d) the alias's history and rollout records break (see above).
    ``settled``: a controller has stepped since the last change (before that, a running
    record may not have noticed a change made outside it yet)."""
    rollouts = repo.rollouts()
    try:
        records = rollouts.list(name, alias, limit=100)
    except exc.VersionedError as error:
        return [f"listing the rollouts of {alias} raised {type(error).__name__}: {error}"]
    entries = history(repo, name, alias)
    by_revision = {e.revision: e for e in entries}
    current = repo._engine.backend.get_alias(name, alias)
    problems: list[str] = []
    for rollout in records:
        where = f"rollout {rollout.number} ({rollout.state}, step {rollout.step})"
        problems += [f"{where}: {p}" for p in _history_problems(rollout, entries, by_revision)]
        problems += [
            f"{where}: {p}" for p in _record_problems(rollout, current, by_revision, settled)
        ]
    return problems


def _history_problems(
    rollout: Rollout, entries: list[AliasChange], by_revision: dict[int, AliasChange]
) -> list[str]:
    problems = []
    number = rollout.number
    expected = 1
    for entry in entries:
        reason = entry.reason or ""
        resumed = _RESUME.match(reason)
        if resumed and int(resumed.group(1)) == number:
            expected = int(resumed.group(2)) + 1
            continue
        match = _STEP.match(reason)
        if match and int(match.group(1)) == number:
            step = int(match.group(2))
            if step != expected:
                problems.append(f"(a) step {step} at revision {entry.revision}, {expected} due")
            expected = step + 1
        if _own(entry, number) and not resumed:
            previous = entry.revision - 1
            if previous != rollout.started_revision and not _own(by_revision.get(previous), number):
                prior = by_revision.get(previous)
                problems.append(
                    f"(b) revision {entry.revision} ({reason!r}) overwrote a change made "
                    f"outside the rollout (revision {previous}: "
                    f"{prior.reason if prior else 'missing'!r})"
                )
    return problems


def _record_problems(
    rollout: Rollout, current: Any, by_revision: dict[int, AliasChange], settled: bool
) -> list[str]:
    problems = []
    last = rollout.last_revision
    if (
        last != rollout.started_revision
        and by_revision
        and not _own(by_revision.get(last), rollout.number)
    ):
        problems.append(f"(c) last_revision {last} is not an entry of the rollout's own")
    at_last = current is not None and current.revision == last
    if settled and rollout.state == RUNNING and not at_last:
        seen = None if current is None else current.revision
        problems.append(f"(c) running, but the alias is at revision {seen}, not {last}")
    if not at_last:
        return problems
    if rollout.state == COMPLETED:
        wanted = Targets(rollout.version)
    elif rollout.state == ABORTED:
        wanted = rollout.before
    else:
        wanted = rollout.current_targets()
    if current.state != wanted:
        problems.append(f"(c/d) the alias serves {current.state}, the record says {wanted}")
    return problems
