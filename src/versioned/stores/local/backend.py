"""The local backend: bytes as content-addressed files, metadata in SQLite.

Layout under ``root``::

    versioned.sqlite3          metadata (WAL mode) and the repository's settings
    blobs/ab/abcdef…{suffix}   one read-only file per distinct SHA-256
    tmp/versioned-*            bytes of puts in flight (locked by their put)

Every version row names a blob by its hash, so publishing copies no bytes and identical
content is stored once. Each write is one ``BEGIN IMMEDIATE`` transaction; a blob is
renamed into place inside the transaction that first refers to it, so a concurrent purge
or gc can never remove bytes that a commit is about to name. A killed process leaves at
most an unlocked staging file or an unnamed blob (``gc`` removes them) and never a lock:
SQLite's locks and ``flock`` die with it. No path is followed through a symbolic link.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from ...exc import BackendError, ConcurrentWriteError
from ...rules import in_use, next_version_number, not_found
from ...timestamps import from_storage, to_storage, utc_now
from ..base import (
    AliasChange,
    AliasRecord,
    Backend,
    ChainMarks,
    ChangeNote,
    LatestWrite,
    Payload,
    StoredRollout,
    VersionRecord,
    assembler,
    iter_chunks,
)
from . import aliases, expiry, rollouts
from .aliases import LATEST_ROW as _LATEST
from .aliases import from_row as _from_row
from .aliases import to_row as _to_row
from .db import Database, local_errors
from .expiry import NAMES_BYTES as _NAMES_BYTES
from .files import BlobTree, opened_dir
from .gc import orphans
from .staging import StagedFile, create_staged
from .steps import _step

_make_record = assembler(VersionRecord)


def _record(name: str, row: sqlite3.Row) -> VersionRecord:
    metadata, deleted_at = row["metadata"], row["deleted_at"]
    return _make_record(
        {
            "name": name,
            "version": _from_row(row["version"]),
            "sha256": row["sha256"],
            "update_at": from_storage(row["update_at"]),
            "is_deleted": bool(row["is_deleted"]),
            "size": row["size"],
            "content_type": row["content_type"],
            "metadata": json.loads(metadata) if metadata else None,
            "deleted_at": from_storage(deleted_at) if deleted_at else None,
            "guard": None,
        },
    )


class LocalBackend(Backend):
    """Files under ``root`` plus one SQLite database there."""

    def __init__(
        self, root: str | os.PathLike[str], suffix: str | None = None, *, create: bool = True
    ) -> None:
        """A repository in the folder ``root``; nothing is touched until first use.

        ``suffix`` None adopts the suffix the repository recorded (``""`` for a new one);
        another suffix than the recorded one is refused with RepositoryMismatchError on
        first use. With ``create`` False no repository is ever made: every operation
        raises RepositoryNotFoundError while ``root`` holds none.
        """
        self.root = Path(root).expanduser().resolve()
        self._tree = BlobTree(self.root)
        self.blob_dir = self._tree.blob_dir
        self.tmp_dir = self._tree.tmp_dir
        self._db = Database(self._tree, suffix, create)
        self.db_path = self._db.path
        #: staging files this process's puts wrote themselves, by token, with their lock
        self._held: dict[str, StagedFile] = {}
        self._identity: str | None = None

    @property
    def suffix(self) -> str:
        """The suffix of blob file names (the recorded one). Raises what opening raises."""
        self._db.ensure_ready()
        return self._tree.suffix

    # --- paths ---------------------------------------------------------------------------
    def change_stamp(self) -> tuple[int, int] | None:
        """See :meth:`.db.Database.change_stamp`: equal to this thread's previous stamp only
        if nothing was written since; None before the database is open. Raises
        BackendError."""
        return self._db.change_stamp()

    def blob_path(self, sha256: str) -> Path:
        """Where the bytes with this hash live."""
        self._db.ensure_ready()
        return self._tree.path(sha256)

    def version_uri(self, name: str, version: int | None, sha256: str | None) -> str:
        if sha256 is None:
            record = self.get_version(name, version)
            if record is None:
                raise not_found(name, version)
            sha256 = record.sha256
        self._db.ensure_ready()
        return self._tree.uri(sha256)

    def version_uris(self) -> Callable[[str, int | None, str], str]:
        self._db.ensure_ready()
        (prefix, suffix), exact = self._tree.uri_parts(), self.version_uri
        # the blob's URI (BlobTree.uri) made here: one call a row instead of two
        return lambda name, version, sha256: (
            f"{prefix}{sha256[:2]}/{sha256}{suffix}" if sha256 else exact(name, version, None)
        )

    # --- set-up -------------------------------------------------------------------------------
    def bootstrap(self, write_capacity: int | None, read_capacity: int | None) -> None:
        self._db.ensure_ready()

    # --- reads ---------------------------------------------------------------------------
    def get_version(self, name: str, version: int | None) -> VersionRecord | None:
        rows = self._db.query(
            f"SELECT * FROM versions WHERE name = ? AND version = ? AND {_NAMES_BYTES}",
            name,
            _to_row(version),
        )
        return _record(name, rows[0]) if rows else None

    versions_in_order = True

    def list_versions(self, name: str) -> list[VersionRecord]:
        # One record per row, made in a tight loop from plain tuples: for a long history
        # this is the whole cost of a listing (10,000 rows: SQLite reads them in ~10 ms,
        # sqlite3.Row lookups, strptime and dataclass __init__ used to add ~230 ms).
        with local_errors(f"listing the versions of {name!r}"):
            cursor = self._db.connection().cursor()
            cursor.row_factory = None
            rows = cursor.execute(
                "SELECT version, sha256, update_at, is_deleted, size, content_type, metadata, "
                f"deleted_at FROM versions WHERE name = ? AND {_NAMES_BYTES} "
                "ORDER BY version DESC",  # the key's order: SQLite sorts nothing
                (name,),
            ).fetchall()
        if rows and rows[-1][0] == _LATEST:
            rows.insert(0, rows.pop())  # LATEST first: the listing's order (no sort after)
        parse, loads, latest, make = from_storage, json.loads, _LATEST, assembler(VersionRecord)
        return [
            make(
                {
                    "name": name,
                    "version": None if version == latest else version,
                    "sha256": sha256,
                    "update_at": parse(update_at),
                    "is_deleted": bool(is_deleted),
                    "size": size,
                    "content_type": ctype,
                    "metadata": loads(metadata) if metadata else None,
                    "deleted_at": parse(deleted) if deleted else None,
                    "guard": None,  # one transaction decides each delete
                },
            )
            for version, sha256, update_at, is_deleted, size, ctype, metadata, deleted in rows
        ]

    def list_names(self) -> list[str]:
        rows = self._db.query(
            f"SELECT DISTINCT name FROM versions WHERE {_NAMES_BYTES} ORDER BY name"
        )
        return [r[0] for r in rows]

    def all_names(self) -> list[str]:
        rows = self._db.query(
            "SELECT name FROM versions UNION SELECT name FROM aliases "
            "UNION SELECT name FROM alias_history UNION SELECT name FROM alias_heads ORDER BY 1"
        )
        return [r[0] for r in rows]

    def get_alias(self, name: str, alias: str) -> AliasRecord | None:
        found = self.list_matching_aliases("a.name = ? AND a.alias = ?", name, alias)
        return found[0] if found else None

    def list_aliases(self, name: str) -> list[AliasRecord]:
        return self.list_matching_aliases("a.name = ?", name)

    def list_matching_aliases(self, where: str, *params: object) -> list[AliasRecord]:
        """The aliases whose row (``a``) matches ``where``, sorted by alias."""
        _step("read aliases")  # what an alias change decides on: explorers pause here
        with local_errors("reading aliases"):
            return aliases.alias_records(self._db.connection(), where, *params)

    def open_blob(self, name: str, version: int | None, sha256: str) -> BinaryIO:
        self._db.ensure_ready()
        try:
            return self._tree.open(sha256)
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
        with self._db.transaction() as conn:
            if not self._tree.present(sha256):
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
        self._db.ensure_ready()
        return str(self.tmp_dir)

    def upload_latest(self, write: LatestWrite, payload: Payload) -> None:
        with local_errors(f"storing the bytes of {write.name!r}"):
            if self._tree.present(payload.sha256):
                write.token = None  # stored already (another artifact or version has it)
                return
            if payload.private_copy and payload.path is not None:
                self._link_spool(write, payload.path)
                return
            staged = create_staged(self.tmp_dir, "part")
            write.token = staged.name  # set first, so abort_latest removes a half-written file
            self._held[staged.name] = staged
            _step("write part")
            with os.fdopen(staged.fd, "wb") as out, payload.open() as source:
                for chunk in iter_chunks(source):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
                os.fchmod(out.fileno(), 0o444)

    def _link_spool(self, write: LatestWrite, spool: str) -> None:
        # The content was copied (and fsynced) into tmp/ while it was hashed, in a file
        # the put keeps locked: a hard link stores it without touching a byte, shares
        # that lock, and keeps the copy for a retry.
        name = f"versioned-part-{uuid.uuid4().hex}"
        _step("link part")
        try:
            with opened_dir(self.tmp_dir) as tmp:
                os.chmod(spool, 0o444)
                os.link(spool, name, dst_dir_fd=tmp, follow_symlinks=False)
        except FileNotFoundError as error:
            raise BackendError(
                f"the staged copy of the content of {write.name!r} was removed from "
                f"{self.tmp_dir} during the put, which cannot read it again: put it again"
            ) from error
        write.token = name

    def commit_latest(self, write: LatestWrite, payload: Payload, now: datetime) -> VersionRecord:
        with self._db.transaction() as conn:
            if write.token is not None:
                self._install(write, payload.sha256)
            elif not self._tree.present(payload.sha256):
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
        return payload.latest_record(write.name, now)

    def _install(self, write: LatestWrite, sha256: str) -> None:
        token = write.token
        assert token is not None
        try:
            self._tree.install(token, sha256)
        except FileNotFoundError as error:
            if os.path.lexists(self.tmp_dir / token):
                raise
            # removed behind the put's back: nothing was written, so the engine retries
            # (bytes in memory are staged again; a spool that is gone too is refused)
            raise ConcurrentWriteError(
                f"the staged bytes of {write.name!r} were removed before the commit"
            ) from error
        write.token = None
        self._release(token)

    def _release(self, token: str) -> None:
        staged = self._held.pop(token, None)
        if staged is not None:
            staged.release()

    def abort_latest(self, write: LatestWrite, payload: Payload | None) -> None:
        token, write.token = write.token, None
        if token is None:
            return
        with contextlib.suppress(OSError), opened_dir(self.tmp_dir) as tmp:  # gc removes the rest
            _step("unlink staging")
            os.unlink(token, dir_fd=tmp)
        self._release(token)

    # --- versions ------------------------------------------------------------------------
    def publish(self, name: str, now: datetime) -> VersionRecord:
        with self._db.transaction() as conn:
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
        published = _record(name, latest)
        return VersionRecord(
            name,
            number,
            published.sha256,
            now,
            False,
            size=published.size,
            content_type=published.content_type,
            metadata=published.metadata,
        )

    def soft_delete(self, name: str, version: int | None) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT is_deleted FROM versions "
                f"WHERE name = ? AND version = ? AND {_NAMES_BYTES}",
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
                "UPDATE versions SET is_deleted = 1, deleted_at = ? WHERE name = ? AND version = ?",
                (to_storage(utc_now()), name, target),
            )
        return True

    def restore(self, name: str, version: int | None) -> VersionRecord:
        with self._db.transaction() as conn:
            changed = conn.execute(
                "UPDATE versions SET is_deleted = 0, deleted_at = NULL "
                f"WHERE name = ? AND version = ? AND {_NAMES_BYTES}",
                (name, _to_row(version)),
            ).rowcount
        record = self.get_version(name, version)
        if not changed or record is None:
            raise not_found(name, version)
        return record

    def date_deletion(self, name: str, version: int, now: datetime) -> bool:
        with self._db.transaction() as conn:
            return expiry.date_deletion(conn, name, version, now)

    def expire_version(self, name: str, version: int, deleted_at: datetime) -> int | None:
        # the row lets go of the blob (committed) before the blob goes: a crash between
        # leaves an unnamed blob for gc, never a restorable version without bytes
        with self._db.transaction() as conn:
            sha256 = expiry.tombstone(conn, name, version, deleted_at)
        if sha256 is None:
            return None
        with self._db.transaction() as conn:
            return expiry.remove_unnamed(conn, self._tree, sha256)

    # --- aliases -------------------------------------------------------------------------
    def put_alias(self, record: AliasRecord, note: ChangeNote) -> AliasRecord:
        with self._db.transaction() as conn:
            return aliases.put(conn, record, note)

    def delete_alias(self, name: str, alias: str, note: ChangeNote) -> AliasRecord | None:
        with self._db.transaction() as conn:
            return aliases.delete(conn, name, alias, note)

    def alias_history(
        self, name: str, alias: str, limit: int, before_revision: int | None
    ) -> list[AliasChange]:
        _step("read history")
        with local_errors("reading an alias's history"):
            return aliases.history(self._db.connection(), name, alias, limit, before_revision)

    def chain_marks(self, name: str, alias: str) -> ChainMarks:
        _step("read aliases")
        with local_errors("reading an alias's head marker"):
            return aliases.chain_marks(self._db.connection(), name, alias)

    def aliases_with_history(self, name: str) -> list[str]:
        _step("read history")
        with local_errors("reading which aliases have history"):
            return aliases.aliases_with_history(self._db.connection(), name)

    # --- rollouts ------------------------------------------------------------------------
    def get_rollout(self, name: str, alias: str, number: int | None) -> StoredRollout | None:
        _step("read rollout")
        with local_errors("reading a rollout"):
            return rollouts.get(self._db.connection(), name, alias, number)

    def list_rollouts(self, name: str, alias: str, limit: int) -> list[StoredRollout]:
        _step("read rollout")
        with local_errors("reading an alias's rollouts"):
            return rollouts.newest_first(self._db.connection(), name, alias, limit)

    def write_rollout(self, record: StoredRollout, expected_seq: int) -> None:
        with self._db.transaction() as conn:
            rollouts.write(conn, record, expected_seq)

    def identity(self) -> str:
        if self._identity is None:
            self._identity = local_identity()
        return self._identity

    # --- hard deletes and cleanup --------------------------------------------------------
    def purge_artifact(self, name: str) -> None:
        with self._db.transaction() as conn:
            hashes = {
                r[0] for r in conn.execute("SELECT sha256 FROM versions WHERE name = ?", (name,))
            }
            conn.execute("DELETE FROM aliases WHERE name = ?", (name,))
            conn.execute("DELETE FROM alias_history WHERE name = ?", (name,))
            conn.execute("DELETE FROM alias_heads WHERE name = ?", (name,))
            conn.execute("DELETE FROM rollouts WHERE name = ?", (name,))
            conn.execute("DELETE FROM versions WHERE name = ?", (name,))
            for sha256 in hashes:
                still_used = conn.execute(
                    "SELECT 1 FROM versions WHERE sha256 = ? LIMIT 1", (sha256,)
                ).fetchone()
                if not still_used:
                    self._tree.remove(sha256)

    def find_orphans(self, older_than: datetime) -> list[str]:
        with local_errors("looking for orphaned bytes"):
            return orphans(self._tree, self._db.connection(), older_than, None)

    def remove_orphans(self, uris: Iterable[str], older_than: datetime) -> list[str]:
        with self._db.transaction() as conn:
            return orphans(self._tree, conn, older_than, set(uris))


def local_identity() -> str:
    """``user@host`` for the history; parts that cannot be learned read ``unknown``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname() or 'unknown'}"
