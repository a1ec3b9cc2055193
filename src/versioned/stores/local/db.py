"""The local repository's SQLite database: one connection per thread, opened lazily.

Opening checks (or, for a new repository, records) the repository's settings once per
:class:`Database` object; every write is one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import quote

from ...exc import BackendError, RepositoryNotFoundError
from .files import BlobTree
from .settings import SCHEMA, settle
from .steps import _step

T = TypeVar("T")


@contextmanager
def local_errors(what: str) -> Iterator[None]:
    """Turn SQLite and filesystem failures into BackendError (the original as __cause__)."""
    try:
        yield
    except sqlite3.Error as error:
        raise BackendError(f"{what} failed: SQLite: {error}") from error
    except OSError as error:
        raise BackendError(f"{what} failed: {error}") from error


class Database:
    """``versioned.sqlite3`` under the tree's root; sets ``tree.suffix`` when opened."""

    def __init__(self, tree: BlobTree, wanted_suffix: str | None, create: bool) -> None:
        self.tree = tree
        self.root = tree.root
        self.path = tree.root / "versioned.sqlite3"
        self._wanted_suffix = wanted_suffix
        self._create = create
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()
        self._probe_serials = itertools.count()

    def _connect(self) -> sqlite3.Connection:
        # mode=rw: a database removed behind our back is an error, never silently remade
        conn = sqlite3.connect(
            f"file:{quote(str(self.path))}?mode=rw",
            uri=True,
            timeout=60.0,
            isolation_level=None,
        )
        conn.execute("PRAGMA busy_timeout = 60000")
        return conn

    def _own(self, name: str, make: Callable[[], T]) -> T:
        # One object per thread and process: sqlite3 objects are not shared across
        # threads, and a connection inherited through fork must never be used.
        found: tuple[int, T] | None = getattr(self._local, name, None)
        if found is not None and found[0] == os.getpid():
            return found[1]
        made = make()
        setattr(self._local, name, (os.getpid(), made))
        return made

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (made on first use, after :meth:`ensure_ready`)."""
        return self._own("conn", self._writer_connection)

    def _writer_connection(self) -> sqlite3.Connection:
        self.ensure_ready()
        conn = self._connect()
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def change_stamp(self) -> tuple[int, int] | None:
        """A value that differs from the last one this thread got whenever a write was
        committed in between, by any connection of any process (``PRAGMA data_version``
        on a connection of this thread's own that never writes, paired with that
        connection's serial number, so stamps of two connections, such as two threads'
        or a parent's and its forked child's, never match); None until the
        database has been opened (by any other call), as opening it may wait on a
        writer. A few µs; it waits for no writer (WAL), and raises BackendError at once
        where SQLite would have it wait (busy)."""
        if not self._ready:
            return None
        with local_errors("reading the database's change stamp"):
            serial, probe = self._own("probe", self._probe)
            version: int = probe.execute("PRAGMA data_version").fetchone()[0]
        return (serial, version)

    def _probe(self) -> tuple[int, sqlite3.Cursor]:
        connection = self._connect()
        # never wait: a caller on an event loop reads the database instead when the
        # probe is busy (as while a crashed writer's WAL is recovered)
        connection.execute("PRAGMA busy_timeout = 0")
        return next(self._probe_serials), connection.cursor()

    def ensure_ready(self) -> None:
        """Open the database once: make it first if ``create`` and missing, check (or
        record) the settings, and only then make ``blobs/`` and ``tmp/`` beside it.

        Raises RepositoryNotFoundError (no database, not ``create``), BackendError naming
        the database file when it cannot be opened (such as one that is not SQLite).
        """
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            if not self._create and not self.path.is_file():
                raise RepositoryNotFoundError(
                    f"there is no repository at {self.root}: `versioned init` "
                    "(or any write) creates one"
                )
            with local_errors(f"opening the repository database {self.path}"):
                if self._create and not self.path.exists():
                    self.root.mkdir(parents=True, exist_ok=True)
                    sqlite3.connect(self.path).close()
                conn = self._connect()
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.executescript(SCHEMA)
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        self.tree.suffix = settle(conn, self.tree, self._wanted_suffix)
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                finally:
                    conn.close()
                # only once the database proved a repository's: a read of a folder that
                # is none (a corrupt database) must leave nothing behind
                for folder in (self.tree.blob_dir, self.tree.tmp_dir):
                    folder.mkdir(exist_ok=True)
            self._ready = True

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so every read inside the
        # transaction sees the state the write will apply to.
        with local_errors("a write transaction"):
            conn = self.connection()
            _step("begin")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                _step("commit")
                conn.execute("COMMIT")
            except BaseException:
                # a failed COMMIT leaves the transaction open: end it, or every later
                # BEGIN on this thread's connection would fail too
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                _step("rolled back")
                raise
            _step("committed")

    def query(self, sql: str, *params: object) -> list[sqlite3.Row]:
        with local_errors("a read"):
            return self.connection().execute(sql, params).fetchall()
