"""Verified local blobs: open a version's file, check its SHA-256 once, serve it many times.

A local repository's blobs are content-addressed and read-only: the file for a hash never
changes unless someone alters it out of band. So a file is hashed the first time it is
served and remembered by what identifies that file on disk (device, inode, size,
modification time); a later request that finds the same file serves it without hashing
again, and one that finds it changed hashes it again. Every answer comes from the file
descriptor that was checked, so a file swapped in afterwards is never sent unchecked.

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


class VerifiedBlobs:
    """Opens local blobs through ``open_blob`` and checks each file once."""

    def __init__(self, open_blob: object, remembered: int = REMEMBERED) -> None:
        self._open_blob = open_blob
        self._checked: OrderedDict[tuple[str, int, int, int, int], None] = OrderedDict()
        self._lock = threading.Lock()
        self._remembered = remembered

    def open(self, artifact: Artifact) -> tuple[BinaryIO, int]:
        """The open file of ``artifact``'s bytes and its size, checked against its sha256.

        The caller closes the file. Raises ArtifactNotFoundError (bytes gone),
        IntegrityError (they hash to something else), BackendError.
        """
        number = None if artifact.version == "LATEST" else int(artifact.version)
        stream: BinaryIO = self._open_blob(artifact.name, number, artifact.sha256)  # type: ignore[operator]
        try:
            found = os.fstat(stream.fileno())
            key = (artifact.sha256, found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)
            with self._lock:
                known = key in self._checked
                if known:
                    self._checked.move_to_end(key)
            if not known:
                actual = _hash(stream.fileno(), found.st_size)
                if actual != artifact.sha256:
                    raise corrupt(artifact.name, number, artifact.sha256, actual)
                self._remember(key)
            return stream, found.st_size
        except BaseException:
            stream.close()
            raise

    def _remember(self, key: tuple[str, int, int, int, int]) -> None:
        with self._lock:
            self._checked[key] = None
            while len(self._checked) > self._remembered:
                self._checked.popitem(last=False)


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
