"""The embedded backend: bytes as content-addressed files, metadata in SQLite.

Layout under ``root``::

    versioned.sqlite3          metadata (WAL mode)
    blobs/ab/abcdef…{suffix}   one read-only file per distinct SHA-256
    tmp/                       uploads in flight (written, fsynced, then renamed)

Every version row names a blob by its hash, so publishing copies no bytes and identical
content is stored once. Each write is one ``BEGIN IMMEDIATE`` transaction; a blob is
renamed into place inside the transaction that first refers to it, so a concurrent purge
can never remove bytes that a commit is about to name. A killed process leaves at most
a temporary file (``gc`` removes it) and never a lock: SQLite's locks die with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, cast

from ..exc import BackendError, ConcurrentWriteError
from ..rules import in_use, next_version_number, not_found
from ..timestamps import from_storage, to_storage
from .base import AliasRecord, Backend, LatestWrite, Payload, VersionRecord, iter_chunks

#: LATEST's row number: published versions start at 1.
_LATEST = 0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    update_at TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    size INTEGER,
    content_type TEXT,
    metadata TEXT,
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
    PRIMARY KEY (name, alias)
) WITHOUT ROWID;
"""


def _to_row(version: int | None) -> int:
    return _LATEST if version is None else version


def _from_row(version: int) -> int | None:
    return None if version == _LATEST else version


def _record(name: str, row: sqlite3.Row) -> VersionRecord:
    return VersionRecord(
        name=name,
        version=_from_row(row["version"]),
        sha256=row["sha256"],
        update_at=from_storage(row["update_at"]),
        is_deleted=bool(row["is_deleted"]),
    )


@contextmanager
def _local_errors(what: str) -> Iterator[None]:
    """Turn SQLite and filesystem failures into BackendError (the original as __cause__)."""
    try:
        yield
    except sqlite3.Error as error:
        raise BackendError(f"{what} failed: SQLite: {error}") from error
    except OSError as error:
        raise BackendError(f"{what} failed: {error}") from error


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBackend(Backend):
    """Files under ``root`` plus one SQLite database there."""

    def __init__(self, root: str | os.PathLike[str], suffix: str = "") -> None:
        self.root = Path(root).expanduser().resolve()
        self.suffix = suffix
        self.blob_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.db_path = self.root / "versioned.sqlite3"
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()

    # --- connections ---------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and process: sqlite3 objects are not shared across
        # threads, and a connection inherited through fork must never be used.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        self._ensure_ready()
        conn = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA synchronous = FULL")
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            with _local_errors(f"opening the repository at {self.root}"):
                for folder in (self.root, self.blob_dir, self.tmp_dir):
                    folder.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None)
                try:
                    conn.execute("PRAGMA busy_timeout = 60000")
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.executescript(_SCHEMA)
                finally:
                    conn.close()
            self._ready = True

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so every read inside the
        # transaction sees the state the write will apply to.
        with _local_errors("a write transaction"):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # a failed COMMIT leaves the transaction open: end it, or every later
                # BEGIN on this thread's connection would fail too
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, *params: object) -> list[sqlite3.Row]:
        with _local_errors("a read"):
            return self._connection().execute(sql, params).fetchall()

    # --- paths ---------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        """Where the bytes with this hash live."""
        return self.blob_dir / sha256[:2] / f"{sha256}{self.suffix}"

    def version_uri(self, name: str, version: int | None, sha256: str | None) -> str:
        if sha256 is None:
            record = self.get_version(name, version)
            if record is None:
                raise not_found(name, version)
            sha256 = record.sha256
        return self.blob_path(sha256).as_uri()

    # --- set-up -------------------------------------------------------------------------------
    def bootstrap(self, write_capacity: int | None, read_capacity: int | None) -> None:
        self._ensure_ready()

    # --- reads ---------------------------------------------------------------------------
    def get_version(self, name: str, version: int | None) -> VersionRecord | None:
        rows = self._query(
            "SELECT * FROM versions WHERE name = ? AND version = ?", name, _to_row(version)
        )
        return _record(name, rows[0]) if rows else None

    def list_versions(self, name: str) -> list[VersionRecord]:
        return [
            _record(name, r) for r in self._query("SELECT * FROM versions WHERE name = ?", name)
        ]

    def list_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT name FROM versions ORDER BY name")]

    def all_names(self) -> list[str]:
        rows = self._query("SELECT name FROM versions UNION SELECT name FROM aliases ORDER BY 1")
        return [r[0] for r in rows]

    def _alias_records(self, where: str, *params: object) -> list[AliasRecord]:
        rows = self._query(
            "SELECT a.*, p.sha256 AS p_sha, s.sha256 AS s_sha FROM aliases a "
            "LEFT JOIN versions p ON p.name = a.name AND p.version = a.version "
            "LEFT JOIN versions s ON s.name = a.name AND s.version = a.secondary_version "
            f"WHERE {where} ORDER BY a.alias",
            *params,
        )
        return [
            AliasRecord(
                name=r["name"],
                alias=r["alias"],
                version=_from_row(r["version"]),
                secondary_version=(
                    None if r["secondary_version"] is None else _from_row(r["secondary_version"])
                ),
                secondary_version_weight=r["secondary_version_weight"],
                update_at=from_storage(r["update_at"]),
                version_sha256=r["p_sha"],
                secondary_version_sha256=r["s_sha"],
            )
            for r in rows
        ]

    def get_alias(self, name: str, alias: str) -> AliasRecord | None:
        found = self._alias_records("a.name = ? AND a.alias = ?", name, alias)
        return found[0] if found else None

    def list_aliases(self, name: str) -> list[AliasRecord]:
        return self._alias_records("a.name = ?", name)

    def open_blob(self, name: str, version: int | None, sha256: str) -> BinaryIO:
        try:
            return cast(BinaryIO, open(self.blob_path(sha256), "rb"))
        except FileNotFoundError as error:
            raise not_found(name, version) from error
        except OSError as error:
            raise BackendError(f"reading {name!r} version {version}: {error}") from error

    # --- LATEST --------------------------------------------------------------------------
    def begin_latest_write(self, name: str) -> LatestWrite:
        # No lease is needed: content-addressed blobs are never overwritten, and the
        # row update that makes them LATEST is a single transaction.
        return LatestWrite(name=name, current=self.get_version(name, None))

    def touch_latest(self, write: LatestWrite, sha256: str, now: datetime) -> VersionRecord | None:
        with self._transaction() as conn:
            if not self.blob_path(sha256).exists():
                return None  # removed behind our back: upload it again
            changed = conn.execute(
                "UPDATE versions SET update_at = ?, is_deleted = 0 "
                "WHERE name = ? AND version = ? AND sha256 = ?",
                (to_storage(now), write.name, _LATEST, sha256),
            ).rowcount
            if not changed:
                return None
        return VersionRecord(write.name, None, sha256, now, False)

    @property
    def staging_dir(self) -> str:  # type: ignore[override]
        """Puts copy their content here while hashing it (see ``engine.make_payload``)."""
        self._ensure_ready()
        return str(self.tmp_dir)

    def upload_latest(self, write: LatestWrite, payload: Payload) -> None:
        if self.blob_path(payload.sha256).exists():
            write.token = None  # stored already (another artifact or version has it)
            return
        temp = self.tmp_dir / f"{uuid.uuid4().hex}.part"
        write.token = str(temp)  # set first, so abort_latest removes a half-written file
        with _local_errors(f"storing the bytes of {write.name!r}"):
            if payload.private_copy and payload.path is not None:
                # The content was copied (and fsynced) here while it was hashed: a hard
                # link stores it without touching a byte, and keeps the copy for a retry.
                os.chmod(payload.path, 0o444)
                os.link(payload.path, temp)
                return
            with payload.open() as source, open(temp, "wb") as out:
                for chunk in iter_chunks(source):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o444)

    def commit_latest(self, write: LatestWrite, payload: Payload, now: datetime) -> VersionRecord:
        target = self.blob_path(payload.sha256)
        with self._transaction() as conn:
            if write.token is not None:
                target.parent.mkdir(exist_ok=True)
                os.replace(write.token, target)
                _fsync_dir(target.parent)
                write.token = None
            elif not target.exists():
                # the blob we meant to share was purged meanwhile: the engine retries
                raise ConcurrentWriteError(f"bytes of {write.name!r} vanished during the put")
            conn.execute(
                "INSERT OR REPLACE INTO versions "
                "(name, version, sha256, update_at, is_deleted, size, content_type, metadata) "
                "VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    write.name,
                    _LATEST,
                    payload.sha256,
                    to_storage(now),
                    payload.size,
                    payload.content_type,
                    json.dumps(payload.metadata) if payload.metadata else None,
                ),
            )
        return VersionRecord(write.name, None, payload.sha256, now, False)

    def abort_latest(self, write: LatestWrite, payload: Payload | None) -> None:
        if write.token is not None:
            with contextlib.suppress(OSError):  # gc removes what is left
                os.unlink(write.token)
            write.token = None

    # --- versions ------------------------------------------------------------------------
    def publish(self, name: str, now: datetime) -> VersionRecord:
        with self._transaction() as conn:
            latest = conn.execute(
                "SELECT * FROM versions WHERE name = ? AND version = ?", (name, _LATEST)
            ).fetchone()
            if latest is None or latest["is_deleted"]:
                raise not_found(name, None)
            numbers = [
                r[0]
                for r in conn.execute(
                    "SELECT MAX(version) FROM versions WHERE name = ?", (name,)
                ).fetchall()
                if r[0]
            ]
            number = next_version_number(numbers)
            conn.execute(
                "INSERT INTO versions "
                "(name, version, sha256, update_at, is_deleted, size, content_type, metadata) "
                "VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    name,
                    number,
                    latest["sha256"],
                    to_storage(now),
                    latest["size"],
                    latest["content_type"],
                    latest["metadata"],
                ),
            )
        return VersionRecord(name, number, latest["sha256"], now, False)

    def soft_delete(self, name: str, version: int | None) -> bool:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT is_deleted FROM versions WHERE name = ? AND version = ?",
                (name, _to_row(version)),
            ).fetchone()
            if row is None:
                raise not_found(name, version)
            if row["is_deleted"]:
                return False
            target = _to_row(version)
            users = [
                r[0]
                for r in conn.execute(
                    "SELECT alias FROM aliases WHERE name = ? "
                    "AND (version = ? OR secondary_version = ?)",
                    (name, target, target),
                ).fetchall()
            ]
            if users:
                raise in_use(name, version, users)
            conn.execute(
                "UPDATE versions SET is_deleted = 1 WHERE name = ? AND version = ?",
                (name, target),
            )
        return True

    def restore(self, name: str, version: int | None) -> VersionRecord:
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE versions SET is_deleted = 0 WHERE name = ? AND version = ?",
                (name, _to_row(version)),
            ).rowcount
        record = self.get_version(name, version)
        if not changed or record is None:
            raise not_found(name, version)
        return record

    # --- aliases -------------------------------------------------------------------------
    def put_alias(self, record: AliasRecord) -> AliasRecord:
        with self._transaction() as conn:
            hashes: list[str] = []
            for target in record.targets():
                row = conn.execute(
                    "SELECT sha256, is_deleted FROM versions WHERE name = ? AND version = ?",
                    (record.name, _to_row(target)),
                ).fetchone()
                if row is None or row["is_deleted"]:
                    raise not_found(record.name, target)
                hashes.append(row["sha256"])
            conn.execute(
                "INSERT OR REPLACE INTO aliases "
                "(name, alias, version, secondary_version, secondary_version_weight, update_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.name,
                    record.alias,
                    _to_row(record.version),
                    _to_row(record.secondary_version) if record.has_secondary else None,
                    record.secondary_version_weight,
                    to_storage(record.update_at),
                ),
            )
        return AliasRecord(
            **{
                **record.__dict__,
                "version_sha256": hashes[0],
                "secondary_version_sha256": hashes[1] if len(hashes) > 1 else None,
            }
        )

    def delete_alias(self, name: str, alias: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))

    # --- hard deletes and cleanup --------------------------------------------------------
    def purge_artifact(self, name: str) -> None:
        with self._transaction() as conn:
            hashes = {
                r[0] for r in conn.execute("SELECT sha256 FROM versions WHERE name = ?", (name,))
            }
            conn.execute("DELETE FROM aliases WHERE name = ?", (name,))
            conn.execute("DELETE FROM versions WHERE name = ?", (name,))
            for sha256 in hashes:
                still_used = conn.execute(
                    "SELECT 1 FROM versions WHERE sha256 = ? LIMIT 1", (sha256,)
                ).fetchone()
                if not still_used:
                    self.blob_path(sha256).unlink(missing_ok=True)

    def _orphan_candidates(self, older_than: datetime) -> Iterator[Path]:
        cutoff = older_than.timestamp()
        for folder in (self.blob_dir, self.tmp_dir):
            if not folder.exists():
                continue
            for path in folder.rglob("*"):
                # a put may rename or remove a staged file while we look
                with contextlib.suppress(FileNotFoundError):
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        yield path

    def _is_orphan(self, conn: sqlite3.Connection, path: Path) -> bool:
        if path.parent == self.tmp_dir:
            return True
        sha256 = path.name[: len(path.name) - len(self.suffix)] if self.suffix else path.name
        used = conn.execute("SELECT 1 FROM versions WHERE sha256 = ? LIMIT 1", (sha256,))
        return used.fetchone() is None

    def find_orphans(self, older_than: datetime) -> list[str]:
        with _local_errors("looking for orphaned bytes"):
            conn = self._connection()
            return sorted(
                p.as_uri() for p in self._orphan_candidates(older_than) if self._is_orphan(conn, p)
            )

    def remove_orphans(self, uris: Iterable[str], older_than: datetime) -> list[str]:
        wanted = set(uris)
        removed: list[str] = []
        # inside one write transaction, so no commit can start naming a blob we remove
        with self._transaction() as conn:
            for path in self._orphan_candidates(older_than):
                if path.as_uri() in wanted and self._is_orphan(conn, path):
                    path.unlink(missing_ok=True)
                    removed.append(path.as_uri())
        return sorted(removed)
