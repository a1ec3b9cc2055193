"""The local store's rollout records: one row per rollout in the ``rollouts`` table.

A row's ``seq`` grows by one with every write, and a write checks it inside the same
``BEGIN IMMEDIATE`` transaction, which is what makes it a compare-and-set. Older builds
of format 2 never read the table.
"""

from __future__ import annotations

import sqlite3

from ...exc import StaleRolloutError
from ..base import StoredRollout


def _record(row: sqlite3.Row) -> StoredRollout:
    return StoredRollout(row["name"], row["alias"], row["number"], row["seq"], row["body"])


def get(
    conn: sqlite3.Connection, name: str, alias: str, number: int | None
) -> StoredRollout | None:
    if number is None:
        row = conn.execute(
            "SELECT * FROM rollouts WHERE name = ? AND alias = ? ORDER BY number DESC LIMIT 1",
            (name, alias),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT * FROM rollouts WHERE name = ? AND alias = ? AND number = ?",
            (name, alias, number),
        ).fetchone()
    return None if row is None else _record(row)


def newest_first(
    conn: sqlite3.Connection, name: str, alias: str, limit: int
) -> list[StoredRollout]:
    rows = conn.execute(
        "SELECT * FROM rollouts WHERE name = ? AND alias = ? ORDER BY number DESC LIMIT ?",
        (name, alias, limit),
    ).fetchall()
    return [_record(row) for row in rows]


def write(conn: sqlite3.Connection, record: StoredRollout, expected_seq: int) -> None:
    """Inside a write transaction: store ``record`` if the row is at ``expected_seq``."""
    found = conn.execute(
        "SELECT seq FROM rollouts WHERE name = ? AND alias = ? AND number = ?",
        (record.name, record.alias, record.number),
    ).fetchone()
    stored = 0 if found is None else int(found[0])
    if stored != expected_seq:
        raise StaleRolloutError(
            f"rollout {record.number} of alias {record.alias!r} of artifact {record.name!r} "
            f"changed since it was read (write {stored}, not {expected_seq}): read it again"
        )
    conn.execute(
        "INSERT OR REPLACE INTO rollouts (name, alias, number, seq, body) VALUES (?, ?, ?, ?, ?)",
        (record.name, record.alias, record.number, record.seq, record.body),
    )
