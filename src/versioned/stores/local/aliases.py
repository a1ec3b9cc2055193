"""The local backend's aliases and their history, in the caller's SQLite transaction.

An alias row carries its revision; each change appends one ``alias_history`` row (two
when a change made without history is noticed first, see ``chain.outside_entry``).
The row and its entries are written in the same ``BEGIN IMMEDIATE`` transaction, so
neither is ever seen without the other and a compare-and-set reads the revision it
writes against. Versions are stored as in ``versions`` (0 for LATEST).
"""

from __future__ import annotations

import json
import sqlite3

from ...chain import (
    current_revision,
    head_problem,
    plan_change,
    targets_json,
    untrusted_head,
)
from ...rules import check_expected_revision, not_found
from ...timestamps import from_storage, to_storage, utc_now
from ..base import AliasChange, AliasRecord, ChainMarks, ChangeNote, Targets
from .steps import _step

#: LATEST's row number: published versions start at 1.
LATEST_ROW = 0

#: An alias row with the target hashes and the revision it is at (see
#: ``chain.current_revision``: a row written without history counts one past its
#: history's newest entry).
_SELECT = (
    "SELECT a.*, p.sha256 AS p_sha, s.sha256 AS s_sha, "
    "CASE WHEN a.revision > 0 THEN a.revision ELSE 1 + COALESCE(("
    "  SELECT MAX(h.revision) FROM alias_history h WHERE h.name = a.name AND h.alias = a.alias"
    "), 0) END AS shown_revision "
    "FROM aliases a "
    "LEFT JOIN versions p ON p.name = a.name AND p.version = a.version "
    "LEFT JOIN versions s ON s.name = a.name AND s.version = a.secondary_version "
)


def to_row(version: int | None) -> int:
    """The stored form of a version: 0 for LATEST."""
    return LATEST_ROW if version is None else version


def from_row(version: int) -> int | None:
    """A version from its stored form: None for LATEST."""
    return None if version == LATEST_ROW else version


def alias_records(
    conn: sqlite3.Connection, where: str, *params: object, raw_revision: bool = False
) -> list[AliasRecord]:
    """The aliases matching ``where`` (on ``a``), sorted by alias. ``raw_revision``: the
    revision as stored (0 for a row written without history), not as shown."""
    rows = conn.execute(f"{_SELECT} WHERE {where} ORDER BY a.alias", params).fetchall()
    return [
        AliasRecord(
            name=r["name"],
            alias=r["alias"],
            version=from_row(r["version"]),
            secondary_version=(
                None if r["secondary_version"] is None else from_row(r["secondary_version"])
            ),
            secondary_version_weight=r["secondary_version_weight"],
            update_at=from_storage(r["update_at"]),
            version_sha256=r["p_sha"],
            secondary_version_sha256=r["s_sha"],
            revision=r["revision"] if raw_revision else r["shown_revision"],
        )
        for r in rows
    ]


def _one_alias(conn: sqlite3.Connection, name: str, alias: str) -> AliasRecord | None:
    found = alias_records(conn, "a.name = ? AND a.alias = ?", name, alias, raw_revision=True)
    return found[0] if found else None


def _targets(text: str | None) -> Targets | None:
    if text is None:
        return None
    fields = json.loads(text)
    return Targets(
        fields["version"], fields["secondary_version"], fields["secondary_version_weight"]
    )


def _change(row: sqlite3.Row) -> AliasChange:
    return AliasChange(
        name=row["name"],
        alias=row["alias"],
        revision=row["revision"],
        update_at=from_storage(row["update_at"]),
        action=row["action"],
        who=row["who"],
        reason=row["reason"],
        before=_targets(row["before"]),
        after=_targets(row["after"]),
        previous_sha256=row["previous_sha256"],
        sha256=row["sha256"],
    )


def history(
    conn: sqlite3.Connection, name: str, alias: str, limit: int, before_revision: int | None
) -> list[AliasChange]:
    """Up to ``limit`` entries below ``before_revision`` (None: all), newest first."""
    below = before_revision if before_revision is not None else 2**62
    rows = conn.execute(
        "SELECT * FROM alias_history WHERE name = ? AND alias = ? AND revision < ? "
        "ORDER BY revision DESC LIMIT ?",
        (name, alias, below, limit),
    ).fetchall()
    return [_change(r) for r in rows]


def aliases_with_history(conn: sqlite3.Connection, name: str) -> list[str]:
    """Every alias of ``name`` with history rows, deleted ones included, sorted."""
    rows = conn.execute(
        "SELECT DISTINCT alias FROM alias_history WHERE name = ? ORDER BY alias", (name,)
    ).fetchall()
    return [row[0] for row in rows]


def chain_marks(conn: sqlite3.Connection, name: str, alias: str) -> ChainMarks:
    """The head marker and the alias row's revision (the row names no hash)."""
    head = conn.execute(
        "SELECT revision, sha256 FROM alias_heads WHERE name = ? AND alias = ?", (name, alias)
    ).fetchone()
    row = conn.execute(
        "SELECT revision FROM aliases WHERE name = ? AND alias = ?", (name, alias)
    ).fetchone()
    return ChainMarks(
        head_revision=None if head is None else head["revision"],
        head_sha256=None if head is None else head["sha256"],
        alias_revision=None if row is None else row["revision"],
    )


def _append(conn: sqlite3.Connection, entries: list[AliasChange]) -> None:
    newest = entries[-1]
    conn.execute(
        "INSERT OR REPLACE INTO alias_heads (name, alias, revision, sha256) VALUES (?, ?, ?, ?)",
        (newest.name, newest.alias, newest.revision, newest.sha256),
    )
    for entry in entries:
        _step("append history")
        conn.execute(
            "INSERT INTO alias_history (name, alias, revision, update_at, action, who, "
            "reason, before, after, previous_sha256, sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.name,
                entry.alias,
                entry.revision,
                to_storage(entry.update_at),
                entry.action,
                entry.who,
                entry.reason,
                _json(entry.before),
                _json(entry.after),
                entry.previous_sha256,
                entry.sha256,
            ),
        )


def _json(targets: Targets | None) -> str | None:
    fields = targets_json(targets)
    return None if fields is None else json.dumps(fields, sort_keys=True)


def _checked_state(
    conn: sqlite3.Connection, name: str, alias: str, expected: int | None
) -> tuple[AliasRecord | None, AliasChange | None]:
    """The alias as stored and its newest entry, once ``expected`` matched."""
    current = _one_alias(conn, name, alias)
    newest = history(conn, name, alias, 1, None)
    head = newest[0] if newest else None
    check_expected_revision(name, alias, expected, current, current_revision(current, head))
    problem = head_problem(head, chain_marks(conn, name, alias))
    if problem is not None:
        raise untrusted_head(name, alias, problem)
    return current, head


def put(conn: sqlite3.Connection, record: AliasRecord, note: ChangeNote) -> AliasRecord:
    """Write the alias and its entries if every target is live and the revision is the
    expected one. Raises ArtifactNotFoundError, RevisionMismatchError."""
    current, head = _checked_state(conn, record.name, record.alias, note.expected_revision)
    hashes: list[str] = []
    for target in record.targets():
        row = conn.execute(
            "SELECT sha256, is_deleted FROM versions WHERE name = ? AND version = ?",
            (record.name, to_row(target)),
        ).fetchone()
        if row is None or row["is_deleted"]:
            raise not_found(record.name, target)
        hashes.append(row["sha256"])
    # dated now, inside the transaction: after any wait for the lock, so after the
    # change it follows
    entries = plan_change(record.name, record.alias, current, head, record.state, note, utc_now())
    revision, update_at = entries[-1].revision, entries[-1].update_at
    _step("write alias")
    conn.execute(
        "INSERT OR REPLACE INTO aliases (name, alias, version, secondary_version, "
        "secondary_version_weight, update_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            record.name,
            record.alias,
            to_row(record.version),
            to_row(record.secondary_version) if record.has_secondary else None,
            record.secondary_version_weight,
            to_storage(update_at),
            revision,
        ),
    )
    _append(conn, entries)
    return AliasRecord(
        **{
            **record.__dict__,
            "update_at": update_at,
            "version_sha256": hashes[0],
            "secondary_version_sha256": hashes[1] if len(hashes) > 1 else None,
            "revision": revision,
        }
    )


def delete(conn: sqlite3.Connection, name: str, alias: str, note: ChangeNote) -> AliasRecord | None:
    """Remove the alias and record it; None (nothing written) when it does not exist.
    Raises RevisionMismatchError."""
    current, head = _checked_state(conn, name, alias, note.expected_revision)
    if current is None:
        return None
    entries = plan_change(name, alias, current, head, None, note, utc_now())
    _step("delete alias")
    conn.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))
    _append(conn, entries)
    return current
