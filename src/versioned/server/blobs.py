"""Verified local blobs: open a version's file, check its SHA-256 once, serve it many times.

A local repository's blobs are content-addressed and read-only: the file for a hash never
changes unless someone alters it out of band. So a file is hashed the first time it is
served and remembered by what identifies that file on disk (device, inode, size,
modification time); a later request that finds the same file serves it without hashing
again, and one that finds it changed hashes it again (and is refused if it no longer
matches). Every request opens the file and reads that identity, whatever is remembered.

Small content (up to :data:`SMALL` bytes) is read once into memory, hashed there, and those
very bytes are kept (up to :data:`KEPT` bytes in all, least recently served dropped first)
and sent to every later request that finds the same file: what is sent is exactly what
was hashed. Larger content is answered from the file descriptor that was checked, so a
file swapped in afterwards is never sent unchecked.

Files are reached only through the backend's ``open_blob``, by hash: no part of a URL
becomes a path.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
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

#: (sha256, device, inode, size, modification time in ns)
Key = tuple[str, int, int, int, int]


class VerifiedBlobs:
    """Opens local blobs through ``open_blob`` and checks each file once."""

    def __init__(
        self,
        open_blob: object,
        remembered: int = REMEMBERED,
        small: int = SMALL,
        kept: int = KEPT,
    ) -> None:
        self._open_blob = open_blob
        self._checked: OrderedDict[Key, None] = OrderedDict()
        self._kept: OrderedDict[Key, bytes] = OrderedDict()
        self._kept_size = 0
        self._lock = threading.Lock()
        self._remembered = remembered
        self._small = small
        self._kept_limit = kept

    @property
    def kept_bytes(self) -> int:
        """How many bytes of small content are kept in memory now."""
        return self._kept_size

    def fetch(self, artifact: Artifact) -> bytes | tuple[BinaryIO, int]:
        """``artifact``'s bytes checked against its sha256: the bytes themselves when they
        are small, otherwise the open file and its size (the caller closes the file).

        Raises ArtifactNotFoundError (bytes gone), IntegrityError (they hash to something
        else), BackendError.
        """
        stream, found = self._opened(artifact)
        if found.st_size > self._small:
            return self._checked_stream(artifact, stream, found)
        try:
            key = _key(artifact, found)
            with self._lock:
                content = self._kept.get(key)
                if content is not None:
                    self._kept.move_to_end(key)
                    return content
            content = _read_all(stream.fileno(), found.st_size)
            actual = hashlib.sha256(content).hexdigest()
            if actual != artifact.sha256:
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
        with self._lock:
            if key in self._kept or len(content) > self._kept_limit:
                return
            self._kept[key] = content
            self._kept_size += len(content)
            while self._kept_size > self._kept_limit:
                _, dropped = self._kept.popitem(last=False)
                self._kept_size -= len(dropped)


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
