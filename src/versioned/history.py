"""The hash chain that makes an alias's history tamper-evident.

Every history entry stores the SHA-256 of its own canonical form, and that form includes
the SHA-256 of the entry one revision older. Removing or altering an entry out of band
(a console edit, a stray script) therefore breaks the chain at that point, and
:func:`chain_problems` names where. Both stores compute hashes here, so an entry hashes
the same whichever backend wrote it.

This module sits below the engine and the stores; it imports only the store records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from .stores.base import AliasChange, AliasRecord, Targets
from .timestamps import to_storage

__all__ = ["chain_problems", "entry_sha256", "targets_json"]


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
