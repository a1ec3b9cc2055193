"""Expiry in the local store: a long soft-deleted version's bytes removed for good.

The row stays as a tombstone (``sha256`` empty, still deleted): never listed, read or
restored, and still counted by publish, which numbers past every row, so the number is
never given out again. The tombstone commits first; then, in a second transaction, the
blob goes if no row names its content (versions share content-addressed blobs), so no
put can link it anew meanwhile, and a crash between the two leaves only a blob nothing
names, which gc removes.
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


def tombstone(
    conn: sqlite3.Connection, name: str, version: int, deleted_at: datetime
) -> str | None:
    """Make the version's row a tombstone if it is still soft-deleted at ``deleted_at``;
    return the content it named, or None (restored, purged or expired meanwhile).
    Inside the caller's write transaction, which must commit before the blob goes."""
    row = conn.execute(
        "SELECT sha256 FROM versions WHERE name = ? AND version = ? AND is_deleted = 1 "
        f"AND deleted_at = ? AND {NAMES_BYTES}",
        (name, version, to_storage(deleted_at)),
    ).fetchone()
    if row is None:
        return None
    _step("expire version")
    conn.execute(
        "UPDATE versions SET sha256 = '', size = NULL, content_type = NULL, metadata = NULL "
        "WHERE name = ? AND version = ?",
        (name, version),
    )
    return str(row[0])


def remove_unnamed(conn: sqlite3.Connection, tree: BlobTree, sha256: str) -> int:
    """Remove the blob of ``sha256`` unless a row names it; return the bytes freed.
    Inside the caller's write transaction, so no put can start naming it meanwhile."""
    if conn.execute("SELECT 1 FROM versions WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone():
        return 0
    return tree.remove(sha256)
