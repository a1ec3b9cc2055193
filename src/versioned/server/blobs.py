"""Verified local blobs: open a version's file, check its SHA-256 once, serve it many times.

A local repository's blobs are content-addressed and read-only: the file for a hash never
changes unless someone alters it out of band. So a file is hashed the first time it is
served and remembered by what identifies that file on disk (device, inode, size,
modification time); a later request that finds the same file serves it without hashing
again, and one that finds it changed hashes it again (and is refused if it no longer
matches).

Small content (up to :data:`SMALL` bytes) is read once into memory, hashed there, and those
very bytes are kept, by hash (up to :data:`KEPT` bytes in all, least recently served
dropped first), and sent to later requests: what is sent is exactly what was hashed, so
it is right whatever happens to the file. The file itself is looked at again (opened,
its identity read, hashed again if that changed) at most every ``recheck_seconds``;
in between, :meth:`VerifiedBlobs.kept` answers from memory without touching the disk,
cheaply enough for the event loop. So damage to a kept blob's file is refused within
``recheck_seconds`` of the first request after it (and found by ``versioned verify``
whenever it runs). Larger content is answered from the file descriptor that was checked,
on every request, so a file swapped in afterwards is never sent unchecked.

Files are reached only through the backend's ``open_blob``, by hash: no part of a URL
becomes a path.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ..model import Artifact
from ..rules import corrupt

#: how many checked files to remember (a key is a few dozen bytes)
REMEMBERED = 10_000
CHUNK = 1024 * 1024
#: content up to this size is kept in memory once checked, and sent from there
SMALL = 2 * 1024 * 1024
#: at most this many bytes of small content are kept in all
KEPT = 64 * 1024 * 1024
#: how long kept content is sent without looking at its file again
RECHECK_SECONDS = 1.0

#: (sha256, device, inode, size, modification time in ns)
Key = tuple[str, int, int, int, int]


@dataclass
class _Kept:
    """Small content that hashed to its sha256, the identity of the file it came from,
    and when that file was last seen unchanged (``time.monotonic``)."""

    content: bytes
    key: Key
    seen: float


class VerifiedBlobs:
    """Opens local blobs through ``open_blob`` and checks each file once."""

    def __init__(
        self,
        open_blob: object,
        remembered: int = REMEMBERED,
        small: int = SMALL,
        kept: int = KEPT,
        recheck_seconds: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_blob = open_blob
        self._checked: OrderedDict[Key, None] = OrderedDict()
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._kept_size = 0
        self._lock = threading.Lock()
        self._remembered = remembered
        self._small = small
        self._kept_limit = kept
        self._recheck = recheck_seconds
        self._clock = clock

    @property
    def kept_bytes(self) -> int:
        """How many bytes of small content are kept in memory now."""
        return self._kept_size

    def kept(self, artifact: Artifact) -> bytes | None:
        """``artifact``'s content from memory if it is kept and its file was seen unchanged
        within ``recheck_seconds``; None otherwise (then :meth:`fetch`). No I/O."""
        with self._lock:
            entry = self._kept.get(artifact.sha256)
            if entry is None or self._clock() - entry.seen >= self._recheck:
                return None
            self._kept.move_to_end(artifact.sha256)
            return entry.content

    def fetch(self, artifact: Artifact) -> bytes | tuple[BinaryIO, int]:
        """``artifact``'s bytes checked against its sha256: the bytes themselves when they
        are small, otherwise the open file and its size (the caller closes the file).
        Raises ArtifactNotFoundError (bytes gone), IntegrityError (they hash to something
        else), BackendError.
        """
        content = self.kept(artifact)
        if content is not None:
            return content
        stream, found = self._opened(artifact)
        if found.st_size > self._small:
            return self._checked_stream(artifact, stream, found)
        try:
            key = _key(artifact, found)
            with self._lock:
                entry = self._kept.get(artifact.sha256)
                if entry is not None and entry.key == key:
                    entry.seen = self._clock()
                    self._kept.move_to_end(artifact.sha256)
                    return entry.content
            content = _read_all(stream.fileno(), found.st_size)
            actual = hashlib.sha256(content).hexdigest()
            if actual != artifact.sha256:
                self._drop(artifact.sha256)
                raise corrupt(artifact.name, _number(artifact), artifact.sha256, actual)
            self._keep(key, content)
            return content
        finally:
            stream.close()

    def open(self, artifact: Artifact) -> tuple[BinaryIO, int]:
        """The open file of ``artifact``'s bytes and its size, checked against its sha256.
        The caller closes the file. Raises ArtifactNotFoundError (bytes gone),
        IntegrityError (they hash to something else), BackendError.
        """
        stream, found = self._opened(artifact)
        return self._checked_stream(artifact, stream, found)

    def _opened(self, artifact: Artifact) -> tuple[BinaryIO, os.stat_result]:
        stream: BinaryIO = self._open_blob(artifact.name, _number(artifact), artifact.sha256)  # type: ignore[operator]
        try:
            return stream, os.fstat(stream.fileno())
        except BaseException:
            stream.close()
            raise

    def _checked_stream(
        self, artifact: Artifact, stream: BinaryIO, found: os.stat_result
    ) -> tuple[BinaryIO, int]:
        try:
            key = _key(artifact, found)
            with self._lock:
                known = key in self._checked
                if known:
                    self._checked.move_to_end(key)
            if not known:
                actual = _hash(stream.fileno(), found.st_size)
                if actual != artifact.sha256:
                    raise corrupt(artifact.name, _number(artifact), artifact.sha256, actual)
                self._remember(key)
            return stream, found.st_size
        except BaseException:
            stream.close()
            raise

    def _remember(self, key: Key) -> None:
        with self._lock:
            self._checked[key] = None
            while len(self._checked) > self._remembered:
                self._checked.popitem(last=False)

    def _keep(self, key: Key, content: bytes) -> None:
        sha256 = key[0]
        with self._lock:
            if len(content) > self._kept_limit:
                return
            self._forget(sha256)
            self._kept[sha256] = _Kept(content, key, self._clock())
            self._kept_size += len(content)
            while self._kept_size > self._kept_limit:
                _, oldest = self._kept.popitem(last=False)
                self._kept_size -= len(oldest.content)

    def _drop(self, sha256: str) -> None:
        with self._lock:
            self._forget(sha256)

    def _forget(self, sha256: str) -> None:
        # the lock held
        dropped = self._kept.pop(sha256, None)
        if dropped is not None:
            self._kept_size -= len(dropped.content)


def _number(artifact: Artifact) -> int | None:
    return None if artifact.version == "LATEST" else int(artifact.version)


def _key(artifact: Artifact, found: os.stat_result) -> Key:
    return (artifact.sha256, found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def _read_all(fd: int, size: int) -> bytes:
    """The file's first ``size`` bytes (fewer only if it is shorter: the hash then fails)."""
    content = os.pread(fd, size, 0)
    if len(content) == size or not content:
        return content
    parts = [content]
    offset = len(content)
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)


def _hash(fd: int, size: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while offset < size:
        chunk = os.pread(fd, CHUNK, offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()
