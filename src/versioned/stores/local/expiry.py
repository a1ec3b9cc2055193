"""Expiry in the local store: a long soft-deleted version's bytes removed for good.

The row stays as a tombstone (``sha256`` empty, still deleted): never listed, read or
restored, and still counted by publish, which numbers past every row, so the number is
never given out again. The blob goes in the same transaction when no other row names
its content (versions share content-addressed blobs), as ``purge_artifact`` does: no put
can link it anew before a row naming it commits.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ...timestamps import to_storage
from .files import BlobTree
from .steps import _step

#: Rows that name bytes: an expired version's tombstone is never read back.
NAMES_BYTES = "sha256 <> ''"


def date_deletion(conn: sqlite3.Connection, name: str, version: int, now: datetime) -> bool:
    """See ``Backend.date_deletion``; inside the caller's write transaction."""
    changed = conn.execute(
        "UPDATE versions SET deleted_at = ? WHERE name = ? AND version = ? "
        f"AND is_deleted = 1 AND deleted_at IS NULL AND {NAMES_BYTES}",
        (to_storage(now), name, version),
    ).rowcount
    return bool(changed)


def expire_version(
    conn: sqlite3.Connection, tree: BlobTree, name: str, version: int, deleted_at: datetime
) -> int | None:
    """See ``Backend.expire_version``; inside the caller's write transaction."""
    row = conn.execute(
        "SELECT sha256 FROM versions WHERE name = ? AND version = ? AND is_deleted = 1 "
        f"AND deleted_at = ? AND {NAMES_BYTES}",
        (name, version, to_storage(deleted_at)),
    ).fetchone()
    if row is None:
        return None  # restored, purged or expired meanwhile
    _step("expire version")
    conn.execute(
        "UPDATE versions SET sha256 = '', size = NULL, content_type = NULL, metadata = NULL "
        "WHERE name = ? AND version = ?",
        (name, version),
    )
    still_used = conn.execute(
        "SELECT 1 FROM versions WHERE sha256 = ? LIMIT 1", (row[0],)
    ).fetchone()
    return 0 if still_used else tree.remove(row[0])
