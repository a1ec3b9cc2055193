"""The hash chain that makes an alias's history tamper-evident.

Every history entry stores the SHA-256 of its own canonical form, and that form includes
the SHA-256 of the entry one revision older. Removing or altering an entry out of band
(a console edit, a stray script) therefore breaks the chain at that point, and
:func:`chain_problems` names where. Both stores compute hashes here, so an entry hashes
the same whichever backend wrote it.

This module sits below the engine and the stores; it imports only the store records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from .stores.base import AliasChange, AliasRecord, ChangeNote, Targets
from .timestamps import to_storage

__all__ = [
    "OUTSIDE",
    "OUTSIDE_WHO",
    "chain_problems",
    "current_revision",
    "entry_sha256",
    "new_entry",
    "outside_entry",
    "plan_change",
    "targets_json",
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


def chain_problems(entries: Sequence[AliasChange], current: AliasRecord | None) -> list[str]:
    """Everything wrong with a whole history, oldest entry first; [] when it is intact.

    Checks that revisions run 1, 2, 3… without gaps, that each entry hashes to what it
    says, that each names the hash of the one before, and that the newest entry agrees
    with the alias as stored now (its revision and targets; absent after a delete).
    """
    problems: list[str] = []
    previous_hash = ""
    expected_revision = 1
    for change in entries:
        where = f"revision {change.revision}"
        if change.revision != expected_revision:
            problems.append(
                f"revision {expected_revision} is missing (next entry is {change.revision})"
            )
        if recomputed(change) != change.sha256:
            problems.append(f"{where} was altered: its contents do not hash to its sha256")
        if change.previous_sha256 != previous_hash:
            problems.append(f"{where} does not follow the entry before it (chain broken)")
        previous_hash = change.sha256
        expected_revision = change.revision + 1
    newest = entries[-1] if entries else None
    if current is not None and newest is None:
        problems.append(f"the alias exists (revision {current.revision}) but has no history")
    elif newest is not None:
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
    return problems


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
        update_at=current.update_at if current is not None else now,
        action=OUTSIDE,
        who=who,
        reason=None,
        before=head.after if head is not None else None,
        after=current.state if current is not None else None,
        previous_sha256=head.sha256 if head is not None else "",
    )


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
    """
    outside = outside_entry(name, alias, current, head, update_at)
    newest = outside if outside is not None else head
    stored = current.revision if current is not None else 0
    change = new_entry(
        name=name,
        alias=alias,
        revision=max(stored, newest.revision if newest is not None else 0) + 1,
        update_at=update_at,
        action=note.action,
        who=note.who,
        reason=note.reason,
        before=current.state if current is not None else None,
        after=after,
        previous_sha256=newest.sha256 if newest is not None else "",
    )
    return [change] if outside is None else [outside, change]
