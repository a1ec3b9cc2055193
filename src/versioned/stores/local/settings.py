"""What a local repository records about itself: its storage format and blob suffix.

The settings are written once, when the repository is made, so a later opening cannot
guess them wrong: a repository opened without a suffix adopts the recorded one, and one
opened with another suffix is refused (with the wrong suffix every blob would look
orphaned and gc would remove them all). A repository made before settings existed gets
them recorded on its next opening, from its blobs when they tell.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ...exc import RepositoryMismatchError
from .files import BlobTree

#: The storage format this code writes and reads; a higher recorded one is refused.
FORMAT = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    update_at TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    size INTEGER,
    content_type TEXT,
    metadata TEXT,
    deleted_at TEXT,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS versions_by_sha256 ON versions (sha256);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    secondary_version INTEGER,
    secondary_version_weight INTEGER,
    update_at TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, alias)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alias_history (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    revision INTEGER NOT NULL,
    update_at TEXT NOT NULL,
    action TEXT NOT NULL,
    who TEXT NOT NULL,
    reason TEXT,
    before TEXT,
    after TEXT,
    previous_sha256 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (name, alias, revision)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alias_heads (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    revision INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (name, alias)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollouts (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    number INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (name, alias, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""

#: How many stored hashes are looked up to learn an older repository's suffix.
_SAMPLE = 64


def settle(conn: sqlite3.Connection, tree: BlobTree, wanted: str | None) -> str:
    """Check (or first record) the settings inside the caller's write transaction, and
    bring an older repository's tables up to date; return the suffix to use.

    ``wanted`` None adopts the recorded suffix. Raises RepositoryMismatchError for a
    newer format or another suffix than the recorded one (or than the blobs of a
    repository made before settings were recorded carry); nothing is recorded then.
    """
    stored = dict(conn.execute("SELECT key, value FROM settings").fetchall())
    root = tree.root
    if "format" in stored and int(stored["format"]) > FORMAT:
        raise RepositoryMismatchError(
            f"the repository at {root} has storage format {stored['format']}; this "
            f"version of versioned reads format {FORMAT} at most: upgrade versioned"
        )
    _add_alias_revisions(conn)
    if "alias_heads" not in stored:
        _add_alias_heads(conn)
    if int(stored.get("format", FORMAT)) < FORMAT:
        # from now on builds that do not keep head markers (format 1) refuse to write
        # here: a change they made would look like tampering, and block the alias
        conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('format', ?)", (str(FORMAT),)
        )
    if "suffix" in stored:
        if wanted is not None and wanted != stored["suffix"]:
            raise _suffix_mismatch(root, repr(stored["suffix"]), wanted, "was created with")
        return str(stored["suffix"])
    suffix = _suffix_of_older_repository(conn, tree, wanted)
    conn.executemany(
        "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
        [("format", str(FORMAT)), ("suffix", suffix)],
    )
    return suffix


def _add_alias_revisions(conn: sqlite3.Connection) -> None:
    # A repository made before aliases kept history lacks the column; its aliases read
    # as revision 0 (written without history), which the next change records as such.
    # Versions of this package without history keep working on it: they do not name
    # the column, so their writes leave revision 0 behind, noticed the same way.
    columns = {row[1] for row in conn.execute("PRAGMA table_info(aliases)")}
    if "revision" not in columns:
        conn.execute("ALTER TABLE aliases ADD COLUMN revision INTEGER NOT NULL DEFAULT 0")
    # Deletion times came with expiry: versions deleted before read as undated, and the
    # first expiry that sees one dates it (docs/api.md says so).
    columns = {row[1] for row in conn.execute("PRAGMA table_info(versions)")}
    if "deleted_at" not in columns:
        conn.execute("ALTER TABLE versions ADD COLUMN deleted_at TEXT")


def _add_alias_heads(conn: sqlite3.Connection) -> None:
    # Head markers came after history: mark each history's newest entry once, and
    # record that it was done, so a head removed later is noticed, never remade.
    conn.execute(
        "INSERT OR IGNORE INTO alias_heads (name, alias, revision, sha256) "
        "SELECT name, alias, revision, sha256 FROM alias_history h WHERE revision = "
        "(SELECT MAX(revision) FROM alias_history g WHERE g.name = h.name AND g.alias = h.alias)"
    )
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('alias_heads', '1')")


def _suffix_of_older_repository(
    conn: sqlite3.Connection, tree: BlobTree, wanted: str | None
) -> str:
    """The suffix a repository without settings uses: ``wanted`` unless its blobs
    contradict it; the blobs' own when ``wanted`` is None (default ``""``)."""
    hashes = [
        r[0] for r in conn.execute("SELECT DISTINCT sha256 FROM versions LIMIT ?", (_SAMPLE,))
    ]
    seen = _suffixes_on_disk(tree.blob_dir, hashes)
    if wanted is not None:
        if seen and wanted not in seen:
            shown = " or ".join(sorted(map(repr, seen)))
            raise _suffix_mismatch(tree.root, shown, wanted, "stores its blobs with")
        return wanted
    if len(seen) > 1:
        raise RepositoryMismatchError(
            f"the repository at {tree.root} stores blobs with the suffixes "
            f"{sorted(seen)}: open it with the suffix it was made with"
        )
    return seen.pop() if seen else ""


def _suffixes_on_disk(blob_dir: Path, hashes: list[str]) -> set[str]:
    """The suffixes the blob files of ``hashes`` carry (links and strays ignored)."""
    seen: set[str] = set()
    listings: dict[str, list[str]] = {}
    for sha256 in hashes:
        folder = blob_dir / sha256[:2]
        if sha256[:2] not in listings:
            try:
                listings[sha256[:2]] = [
                    e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)
                ]
            except OSError:
                listings[sha256[:2]] = []
        seen.update(n[len(sha256) :] for n in listings[sha256[:2]] if n.startswith(sha256))
    return seen


def _suffix_mismatch(root: Path, shown: str, wanted: str, verb: str) -> RepositoryMismatchError:
    return RepositoryMismatchError(
        f"the repository at {root} {verb} suffix {shown}, but was opened with suffix "
        f"{wanted!r}: open it without a suffix to use the recorded one"
    )
