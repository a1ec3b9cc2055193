"""The hash chain of alias history entries: the rules both stores write by.

Every history entry stores the SHA-256 of its own canonical form, and that form includes
the SHA-256 of the entry one revision older, so removing or altering an entry out of band
breaks the chain at that point. Both stores compute hashes and plan each change here, so
an entry hashes the same whichever backend wrote it, and a store checks here that the end
of the chain it builds on verifies (:func:`head_problem`). Reading a whole chain back is
``history.chain_problems``.

This module sits below the engine and the stores: it imports only ``exc``, ``timestamps``
and the store records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta

from .exc import BackendError
from .stores.base import AliasChange, AliasRecord, ChainMarks, ChangeNote, Targets
from .timestamps import to_storage

__all__ = [
    "OUTSIDE",
    "OUTSIDE_WHO",
    "after_head",
    "current_revision",
    "entry_sha256",
    "head_problem",
    "new_entry",
    "outside_entry",
    "plan_change",
    "recomputed",
    "targets_json",
    "untrusted_head",
]


def targets_json(targets: Targets | None) -> dict[str, int | None] | None:
    """Targets as the plain mapping the canonical form (and stored items) use."""
    if targets is None:
        return None
    return {
        "version": targets.version,
        "secondary_version": targets.secondary_version,
        "secondary_version_weight": targets.secondary_version_weight,
    }


def entry_sha256(
    *,
    name: str,
    alias: str,
    revision: int,
    update_at: datetime | str,
    action: str,
    who: str,
    reason: str | None,
    before: Targets | None,
    after: Targets | None,
    previous_sha256: str,
) -> str:
    """The hex SHA-256 of an entry's canonical JSON (sorted keys, no spaces).

    ``update_at`` is a datetime (rendered in the storage format) or already its text.
    """
    moment = update_at if isinstance(update_at, str) else to_storage(update_at)
    canonical = json.dumps(
        {
            "name": name,
            "alias": alias,
            "revision": revision,
            "update_at": moment,
            "action": action,
            "who": who,
            "reason": reason,
            "before": targets_json(before),
            "after": targets_json(after),
            "previous_sha256": previous_sha256,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def recomputed(change: AliasChange) -> str:
    """The hash ``change`` should carry, computed from its fields."""
    return entry_sha256(
        name=change.name,
        alias=change.alias,
        revision=change.revision,
        update_at=change.update_at,
        action=change.action,
        who=change.who,
        reason=change.reason,
        before=change.before,
        after=change.after,
        previous_sha256=change.previous_sha256,
    )


def head_problem(head: AliasChange | None, marks: ChainMarks) -> str | None:
    """Why a store must not plan a change on ``head`` (the newest entry it read, or the
    copy its head marker keeps), or None when the chain's end verifies: the entry hashes
    to what it says, and the head marker and the alias record name it."""
    if head is None:
        if marks.head_revision is not None:
            return f"its head marker names revision {marks.head_revision}, which is missing"
        return None
    if recomputed(head) != head.sha256:
        return f"revision {head.revision} does not hash to its sha256 (altered)"
    if (marks.head_revision, marks.head_sha256) != (head.revision, head.sha256):
        return (
            f"its newest entry is revision {head.revision}, but its head marker names "
            f"revision {marks.head_revision}"
        )
    if marks.alias_revision and marks.alias_revision != head.revision:
        return f"the alias is at revision {marks.alias_revision}, its history at {head.revision}"
    if marks.alias_head_sha256 is not None and marks.alias_head_sha256 != head.sha256:
        return f"the alias names another newest entry than revision {head.revision}"
    return None


def untrusted_head(name: str, alias: str, problem: str) -> BackendError:
    """The error for a change refused because the history's end does not verify."""
    return BackendError(
        f"alias {alias!r} of artifact {name!r}: its history does not verify ({problem}); "
        "no change is written on it: verify_alias_history (versioned alias history "
        "--verify) says what is wrong"
    )


#: ``who`` of an entry recording a change made without history (it cannot be known).
OUTSIDE_WHO = "outside versioned (e.g. versioned 1.0.1)"
#: The action of an entry recording a change made without history.
OUTSIDE = "outside"


def new_entry(
    *,
    name: str,
    alias: str,
    revision: int,
    update_at: datetime,
    action: str,
    who: str,
    reason: str | None,
    before: Targets | None,
    after: Targets | None,
    previous_sha256: str,
) -> AliasChange:
    """An entry with its ``sha256`` computed from the other fields."""
    unsealed = AliasChange(
        name, alias, revision, update_at, action, who, reason, before, after, previous_sha256, ""
    )
    return dataclasses.replace(unsealed, sha256=recomputed(unsealed))


def current_revision(current: AliasRecord | None, head: AliasChange | None) -> int:
    """The revision an alias is at, for a compare-and-set: 0 when it does not exist; for
    an alias written without history (stored revision 0), the revision the entry that
    records that outside change gets (one past the newest entry)."""
    if current is None:
        return 0
    if current.revision == 0:
        return (head.revision if head is not None else 0) + 1
    return current.revision


def outside_entry(
    name: str,
    alias: str,
    current: AliasRecord | None,
    head: AliasChange | None,
    now: datetime,
    who: str = OUTSIDE_WHO,
) -> AliasChange | None:
    """The entry recording a change made without history since ``head``, or None.

    Two are noticed: an alias stored without a revision (written by versioned 1.0.1, or
    by this package before it kept history), and an alias gone although the newest entry
    says it exists (deleted that way). ``now`` dates the second (its time is unknown).
    """
    outside_set = current is not None and current.revision == 0
    outside_delete = current is None and head is not None and head.after is not None
    if not (outside_set or outside_delete):
        return None
    return new_entry(
        name=name,
        alias=alias,
        revision=(head.revision if head is not None else 0) + 1,
        update_at=after_head(current.update_at if current is not None else now, head),
        action=OUTSIDE,
        who=who,
        reason=None,
        before=head.after if head is not None else None,
        after=current.state if current is not None else None,
        previous_sha256=head.sha256 if head is not None else "",
    )


#: How much later than the entry it follows a change is dated at least.
_TICK = timedelta(microseconds=1)


def after_head(moment: datetime, head: AliasChange | None) -> datetime:
    """``moment``, or just after ``head`` when a clock (ours behind, or another
    writer's ahead) would date a change before the one it follows: times grow with the
    revision, so a point-in-time read never sees a change before the one it replaced."""
    if head is not None and moment <= head.update_at:
        return head.update_at + _TICK
    return moment


def plan_change(
    name: str,
    alias: str,
    current: AliasRecord | None,
    head: AliasChange | None,
    after: Targets | None,
    note: ChangeNote,
    update_at: datetime,
) -> list[AliasChange]:
    """The entries one change writes, oldest first: the outside entry if one is due
    (see :func:`outside_entry`), then the change itself from ``current`` (the alias as
    stored now; None: absent) to ``after`` (None: a delete). ``head`` is the newest entry.
    ``update_at`` should be taken when the change is about to commit (after any wait for
    a lock); each entry is dated after the one it follows (:func:`after_head`), so the
    record written should carry the last entry's ``update_at``.
    """
    outside = outside_entry(name, alias, current, head, update_at)
    newest = outside if outside is not None else head
    stored = current.revision if current is not None else 0
    change = new_entry(
        name=name,
        alias=alias,
        revision=max(stored, newest.revision if newest is not None else 0) + 1,
        update_at=after_head(update_at, newest),
        action=note.action,
        who=note.who,
        reason=note.reason,
        before=current.state if current is not None else None,
        after=after,
        previous_sha256=newest.sha256 if newest is not None else "",
    )
    return [change] if outside is None else [outside, change]
