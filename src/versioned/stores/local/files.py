"""The blob files under a local repository's root, reached without following any link.

Every path is walked one folder at a time with ``O_NOFOLLOW`` (and every listing uses
``follow_symlinks=False``), so a symbolic link planted as ``blobs/``, ``tmp/`` or a
folder or file under them makes the operation fail instead of reaching outside the
root. Only names of the exact form ``blobs/<ab>/<ab…64 hex><suffix>`` are blobs.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import quote_from_bytes

from .steps import _step

NO_FOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
_FOLDER_NAME = re.compile(r"[0-9a-f]{2}")


def open_dir(path: str | os.PathLike[str], dir_fd: int | None = None) -> int:
    """Open a folder (not a link to one) for ``dir_fd`` use. Raises OSError."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | NO_FOLLOW, dir_fd=dir_fd)


@contextlib.contextmanager
def opened_dir(path: str | os.PathLike[str], dir_fd: int | None = None) -> Iterator[int]:
    """:func:`open_dir`, closed on exit."""
    fd = open_dir(path, dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


class BlobTree:
    """``blobs/`` and ``tmp/`` under ``root``; ``suffix`` is set once the repository's
    settings are known."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"
        self.suffix = ""
        #: ``file://…/blobs/`` and the quoted suffix, for :meth:`uri`; made on first use
        self._uri_parts: tuple[str, str, str] | None = None

    def name(self, sha256: str) -> str:
        """The file name of the blob with this hash."""
        return f"{sha256}{self.suffix}"

    def path(self, sha256: str) -> Path:
        """Where the blob with this hash lives (for URIs; never opened by path)."""
        return self.blob_dir / sha256[:2] / self.name(sha256)

    def uri(self, sha256: str) -> str:
        """``path(sha256).as_uri()``, without building a Path: a listing makes one per
        row, and pathlib's parsing cost more than the SQLite read of the row."""
        prefix, suffix = self.uri_parts()
        return f"{prefix}{sha256[:2]}/{sha256}{suffix}"

    def uri_parts(self) -> tuple[str, str]:
        """What :meth:`uri` puts before ``{sha256[:2]}/{sha256}`` and after it."""
        parts = self._uri_parts
        if parts is None or parts[0] != self.suffix:
            # quoting is per byte with "/" kept, so quoting the parts apart is the same
            # as quoting the whole path (a hash is hex: nothing in it needs quoting)
            quoted = quote_from_bytes(os.fsencode(self.suffix))
            parts = self._uri_parts = (self.suffix, self.blob_dir.as_uri() + "/", quoted)
        return parts[1], parts[2]

    @contextlib.contextmanager
    def folder(self, sha256: str, create: bool = False) -> Iterator[int]:
        """The folder holding this hash's blob, open; made first if ``create``.

        Raises FileNotFoundError if it is missing, OSError if a link is on the way.
        """
        with opened_dir(self.blob_dir) as blobs:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(sha256[:2], dir_fd=blobs)
            with opened_dir(sha256[:2], blobs) as folder:
                yield folder

    def present(self, sha256: str) -> bool:
        """True if the blob is a regular file. Raises OSError if a link is on the way."""
        try:
            with self.folder(sha256) as folder:
                found = os.stat(self.name(sha256), dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return stat.S_ISREG(found.st_mode)

    def open(self, sha256: str) -> BinaryIO:
        """The blob, open for reading. Raises FileNotFoundError, OSError (a link)."""
        with self.folder(sha256) as folder:
            fd = os.open(self.name(sha256), os.O_RDONLY | NO_FOLLOW, dir_fd=folder)
        return cast(BinaryIO, os.fdopen(fd, "rb"))

    def install(self, staged_name: str, sha256: str) -> None:
        """Rename the staging file ``tmp/<staged_name>`` into place as this hash's blob,
        durably. Raises FileNotFoundError if the staging file is gone."""
        with opened_dir(self.tmp_dir) as tmp, self.folder(sha256, create=True) as folder:
            _step("rename blob")
            os.replace(staged_name, self.name(sha256), src_dir_fd=tmp, dst_dir_fd=folder)
            os.fsync(folder)

    def remove(self, sha256: str) -> int:
        """Remove the blob if present (never a link's target); return its size (0 when
        there was none)."""
        try:
            with self.folder(sha256) as folder:
                size = os.stat(self.name(sha256), dir_fd=folder, follow_symlinks=False).st_size
                _step("unlink blob")
                os.unlink(self.name(sha256), dir_fd=folder)
                return size
        except FileNotFoundError:
            return 0

    def blobs_older_than(self, cutoff: float) -> Iterator[tuple[str, int, str]]:
        """``(sha256, folder fd, name)`` of each blob file last written before ``cutoff``.

        Skips anything else: other names, links, a linked ``blobs/`` or subfolder. The
        folder fd is valid until the iteration moves on.
        """
        pattern = re.compile(r"([0-9a-f]{64})" + re.escape(self.suffix))
        try:
            blobs = open_dir(self.blob_dir)
        except OSError:
            return  # missing, or a link: not ours to walk
        try:
            for entry in os.scandir(blobs):
                if not (_FOLDER_NAME.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)):
                    continue
                try:
                    folder = open_dir(entry.name, blobs)
                except OSError:
                    continue  # replaced by a link meanwhile
                try:
                    for blob in os.scandir(folder):
                        match = pattern.fullmatch(blob.name)
                        if match is None or not blob.name.startswith(entry.name):
                            continue
                        with contextlib.suppress(FileNotFoundError):
                            if (
                                blob.is_file(follow_symlinks=False)
                                and blob.stat(follow_symlinks=False).st_mtime < cutoff
                            ):
                                yield match.group(1), folder, blob.name
                finally:
                    os.close(folder)
        finally:
            os.close(blobs)

    @contextlib.contextmanager
    def tmp_listing(self) -> Iterator[tuple[int, list[str]]]:
        """``tmp/`` open, with the names in it (nothing if it is missing or a link)."""
        try:
            tmp = open_dir(self.tmp_dir)
        except OSError:
            yield -1, []
            return
        try:
            yield tmp, [e.name for e in os.scandir(tmp) if e.is_file(follow_symlinks=False)]
        finally:
            os.close(tmp)
