"""Verification of a whole alias history: every link, and both ends.

A chain of hashes (``chain``) proves each link; what proves where the chain ends is the
store's head marker and the alias record, read beside the entries (``ChainMarks``).
:func:`chain_problems` checks both and names every problem.
"""

from __future__ import annotations

from collections.abc import Sequence

from .chain import recomputed
from .stores.base import AliasChange, AliasRecord, ChainMarks

__all__ = ["chain_problems"]


def chain_problems(
    entries: Sequence[AliasChange], current: AliasRecord | None, marks: ChainMarks
) -> list[str]:
    """Everything wrong with a whole history, oldest entry first; [] when it is intact.

    Checks every link: revisions run 1, 2, 3… without gaps, each entry hashes to what it
    says, names the hash of the one before, and starts where that one ended (``before``
    is the previous ``after``). Then the ends: the newest entry is the one the store's
    head marker names (revision and hash), so cutting entries off the end, a deleted
    alias's included, or rewriting the newest one shows; and the alias as stored now
    agrees with it (revision, the hash the record names, targets; absent after a delete).
    """
    problems: list[str] = []
    previous: AliasChange | None = None
    for change in entries:
        where = f"revision {change.revision}"
        expected_revision = 1 if previous is None else previous.revision + 1
        if change.revision != expected_revision:
            problems.append(
                f"revision {expected_revision} is missing (next entry is {change.revision})"
            )
        if recomputed(change) != change.sha256:
            problems.append(f"{where} was altered: its contents do not hash to its sha256")
        if change.previous_sha256 != ("" if previous is None else previous.sha256):
            problems.append(f"{where} does not follow the entry before it (chain broken)")
        if change.before != (None if previous is None else previous.after):
            problems.append(
                f"{where} does not start where the entry before it ended (its before "
                "is not that entry's after)"
            )
        previous = change
    problems += _end_problems(previous, current, marks)
    return problems


def _end_problems(
    newest: AliasChange | None, current: AliasRecord | None, marks: ChainMarks
) -> list[str]:
    """What is wrong at the end of the chain (see :func:`chain_problems`)."""
    problems: list[str] = []
    if marks.head_revision is None:
        if newest is not None:
            problems.append(
                f"the history ends at revision {newest.revision} but has no head marker"
            )
    elif newest is None:
        problems.append(
            f"the head marker names revision {marks.head_revision} but the history has no "
            "entries (removed)"
        )
    elif (marks.head_revision, marks.head_sha256) != (newest.revision, newest.sha256):
        problems.append(
            f"the head marker names revision {marks.head_revision} ({marks.head_sha256}), "
            f"but the newest entry is revision {newest.revision} ({newest.sha256}): "
            "entries were removed or rewritten"
        )
    if current is not None and newest is None:
        problems.append(f"the alias exists (revision {current.revision}) but has no history")
        return problems
    if newest is None:
        return problems
    if current is None and newest.after is not None:
        problems.append(
            f"the alias is gone but the newest entry (revision {newest.revision}) "
            "does not record a delete"
        )
    if current is not None and (
        current.revision != newest.revision or current.state != newest.after
    ):
        problems.append(
            f"the alias (revision {current.revision}) does not match the newest entry "
            f"(revision {newest.revision})"
        )
    if marks.alias_head_sha256 is not None and marks.alias_head_sha256 != newest.sha256:
        problems.append(
            f"the alias names {marks.alias_head_sha256} as its newest entry, not revision "
            f"{newest.revision}'s {newest.sha256}"
        )
    return problems
