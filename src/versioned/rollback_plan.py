"""Where a rollback without a revision goes: a rule an on-call engineer can predict.

A rollback takes out of traffic the version(s) the alias's current state introduced,
and never goes to a state that a later rollback or revert went back from:

- **The effective history.** A return to an earlier state is read as that state: it and
  every entry it undid are skipped. A return is a rollback, or a change that sets the
  alias exactly as one of the 20 changes before it did (a revert made by hand; setting
  the same targets again). So a second rollback starts from where the first one went
  back to and keeps walking back (``1 → 2 → 3``, rollback: 2, rollback: 1), never forward
  to what the first one undid; and after ``1 → 2 → 3 → 2`` (3 reverted by hand) a
  rollback goes to 1, not back to 3.
- **What the current state introduced.** Walking that history back from the current
  state, the first state that lacks some of the current versions names them: those
  versions are new (after a canary ramp ``5 → 5+6 at 5 %, 20 %, 50 % → 6``, version 6,
  which came in at 5 %).
- **The target** is the newest earlier state that serves none of the new versions and
  that set the alias (a delete is not a state to roll back to): ``5`` in the ramp.

A deleted alias rolls back to the newest state that set it. ``to_revision`` is exact and
bypasses this rule. This module sits below the engine; it imports only the store records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .stores.base import AliasChange, Targets

__all__ = [
    "ROLLBACK",
    "effective_states",
    "rollback_target",
    "successive_targets",
    "versions_of",
]

#: The action of an entry written by a rollback.
ROLLBACK = "rollback"
#: A change that sets the alias exactly as one of this many changes before it did goes
#: back to that state (a revert made by hand), as a rollback does.
RETURN_WINDOW = 20


def versions_of(targets: Targets | None) -> list[int | None]:
    """The versions ``targets`` sends traffic to (none for an absent alias)."""
    if targets is None:
        return []
    if targets.secondary_version_weight is None:
        return [targets.version]
    return [targets.version, targets.secondary_version]


def effective_states(
    newest_first: Iterable[AliasChange], window: int = RETURN_WINDOW
) -> Iterator[AliasChange]:
    """The entries, newest first, with each return to an earlier state read as that
    state: a rollback entry, or a change that set the alias exactly as one of the
    ``window`` entries before it did (a revert made by hand, a re-set of the same
    targets), stands for the newest entry before it (in this same effective history)
    with that state; everything between is skipped.

    Read lazily, ``window`` entries ahead: the usual rollback needs only the newest few.
    A rollback whose state is found nowhere before it (written by the older rule of this
    package, which could go forward) counts as an ordinary change; telling that needs the
    whole history, which is then read.
    """
    source = iter(newest_first)
    seen: list[AliasChange] = []
    wanted: list[Targets] = []  # states sought by the returns being skipped, innermost last
    given = 0
    index = 0
    while True:
        while len(seen) < index + 1 + window:
            following = next(source, None)
            if following is None:
                break
            seen.append(following)
        if index >= len(seen):
            break
        entry = seen[index]
        if _returns(entry, seen[index + 1 : index + 1 + window]):
            assert entry.after is not None
            wanted.append(entry.after)
        else:
            while wanted and entry.after == wanted[-1]:
                wanted.pop()
            if not wanted:
                given += 1
                yield entry
        index += 1
    if wanted:
        stack = _forward(list(reversed(seen)), window)
        yield from reversed(stack[: len(stack) - given])


def _returns(entry: AliasChange, older: list[AliasChange]) -> bool:
    """True when ``entry`` goes back to an earlier state: a rollback, or a change that
    set the alias as one of ``older`` (the entries just before it, newest first) did."""
    if entry.after is None:
        return False
    return entry.action == ROLLBACK or any(o.after == entry.after for o in older)


def _forward(oldest_first: list[AliasChange], window: int) -> list[AliasChange]:
    """The effective history as a stack, oldest first (see :func:`effective_states`)."""
    stack: list[AliasChange] = []
    for index, entry in enumerate(oldest_first):
        older = oldest_first[max(0, index - window) : index][::-1]
        if _returns(entry, older):
            match = next(
                (i for i in range(len(stack) - 1, -1, -1) if stack[i].after == entry.after),
                None,
            )
            if match is not None:
                del stack[match + 1 :]
                continue
        stack.append(entry)
    return stack


def rollback_target(newest_first: Iterable[AliasChange]) -> AliasChange | None:
    """The entry whose ``after`` a rollback without a revision restores, or None when
    there is none (see the module's rule). ``newest_first`` is the effective history
    (:func:`effective_states`), starting with the current state."""
    states = iter(newest_first)
    now = next(states, None)
    if now is None:
        return None
    if now.after is None:  # deleted: back to the newest state that set it
        return next((e for e in states if e.after is not None), None)
    current = set(versions_of(now.after))
    new: set[int | None] = set()
    for entry in states:
        present = set(versions_of(entry.after))
        if not new:
            new = current - present
            if not new:
                continue  # same versions (another weight, a re-set): further back
        if entry.after is not None and not present & new:
            return entry
    return None


def successive_targets(newest_first: Iterable[AliasChange], count: int) -> list[AliasChange]:
    """The entries ``count`` rollbacks in a row would restore, in order (fewer when the
    rule runs out): each from where the one before went. ``newest_first`` is the
    effective history (:func:`effective_states`); it is read only as far as needed."""
    states = iter(newest_first)
    seen: list[AliasChange] = []

    def from_position(start: int) -> Iterator[AliasChange]:
        index = start
        while True:
            if index == len(seen):
                following = next(states, None)
                if following is None:
                    return
                seen.append(following)
            yield seen[index]
            index += 1

    found: list[AliasChange] = []
    position = 0
    for _ in range(count):
        target = rollback_target(from_position(position))
        if target is None:
            break
        found.append(target)
        position = next(i for i in range(len(seen) - 1, -1, -1) if seen[i] is target)
    return found
