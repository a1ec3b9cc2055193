"""The files a put stages its bytes in under ``tmp/``, and the rule that protects them.

A staging file is named ``versioned-<kind>-<32 hex>`` and locked (``flock``, exclusive)
by the put that made it for the put's whole life; a hard link to it shares the lock.
gc removes a staging file only while holding that lock itself, so it can remove what a
crashed put left but never a live put's file. A put locks its new file and then checks
that the name still leads to it: gc may have removed it in between, and then the put
simply makes another.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import uuid
from dataclasses import dataclass

from ...exc import BackendError
from .files import NO_FOLLOW, open_dir
from .steps import _step

#: Names the library gives staging files; the second line is what versions before
#: staging files were locked made (crash leftovers of those are collected too).
STAGING_NAME = re.compile(
    r"versioned-(?:spool|part)-[0-9a-f]{32}"
    r"|[0-9a-f]{32}\.part|versioned-spool-[a-z0-9_]{8}"
)


@dataclass
class StagedFile:
    """A new, empty, locked staging file: ``fd`` is open for writing, ``path`` names it."""

    fd: int
    path: str
    name: str
    lock_fd: int

    def release(self) -> None:
        """Drop the lock (after the file was renamed away or removed); idempotent."""
        fd, self.lock_fd = self.lock_fd, -1
        if fd >= 0:
            os.close(fd)


def create_staged(folder: str | os.PathLike[str], kind: str) -> StagedFile:
    """Create ``folder/versioned-<kind>-<hex>``, locked until :meth:`StagedFile.release`.

    Raises BackendError if ``folder`` is a symbolic link or the file cannot be made.
    """
    _step(f"create {kind}")
    try:
        dir_fd = open_dir(folder)
    except OSError as error:
        raise BackendError(f"cannot stage bytes in {os.fspath(folder)!r}: {error}") from error
    try:
        while True:
            name = f"versioned-{kind}-{uuid.uuid4().hex}"
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | NO_FOLLOW
            fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _still_named(fd, name, dir_fd):
                break
            os.close(fd)  # gc took it before we locked it: make another
    except OSError as error:
        raise BackendError(f"cannot stage bytes in {os.fspath(folder)!r}: {error}") from error
    finally:
        os.close(dir_fd)
    staged = StagedFile(fd, os.path.join(os.fspath(folder), name), name, os.dup(fd))
    _step(f"staged {kind}")
    return staged


def _still_named(fd: int, name: str, dir_fd: int) -> bool:
    try:
        named = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


def is_abandoned(dir_fd: int, name: str, cutoff: float, remove: bool) -> bool:
    """True if ``name`` in ``dir_fd`` is a staging file no live put holds, last written
    before ``cutoff``; with ``remove``, it is removed while gc holds its lock.

    Never follows a link; a name that vanished or was replaced meanwhile is not abandoned.
    """
    if not STAGING_NAME.fullmatch(name):
        return False
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | NO_FOLLOW, dir_fd=dir_fd)
    except OSError:
        return False  # gone, a link, or unreadable: not ours to judge
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live put holds it
        mine = os.fstat(fd)
        if not stat.S_ISREG(mine.st_mode) or mine.st_mtime >= cutoff:
            return False
        if not _still_named(fd, name, dir_fd):
            return False
        if remove:
            _step("unlink staging")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dir_fd)
        return True
    finally:
        os.close(fd)  # releases the lock
