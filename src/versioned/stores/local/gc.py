"""gc on the local backend: what it may name as its own, and removing it.

Only two kinds of file are ever listed or removed: a blob (``blobs/<ab>/<ab…><suffix>``,
see :class:`~.files.BlobTree`) that no version row names, and a staging file no live put
holds (see :mod:`.staging`). Links are never followed; stray files are left alone.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import datetime

from .files import BlobTree
from .staging import is_abandoned
from .steps import _step


def orphans(
    tree: BlobTree, conn: sqlite3.Connection, older_than: datetime, remove: set[str] | None
) -> list[str]:
    """URIs of blobs no row names and of abandoned staging files, last written before
    ``older_than``; those also in ``remove`` are removed (inside the caller's write
    transaction, so no commit can start naming a blob being removed). Anything else
    under ``blobs/`` and ``tmp/`` (stray files, links) is neither listed nor touched.
    """
    cutoff = older_than.timestamp()
    found: list[str] = []
    for sha256, folder, name in tree.blobs_older_than(cutoff):
        uri = (tree.blob_dir / sha256[:2] / name).as_uri()
        if remove is not None and uri not in remove:
            continue
        used = conn.execute("SELECT 1 FROM versions WHERE sha256 = ? LIMIT 1", (sha256,))
        if used.fetchone() is not None:
            continue
        if remove is not None:
            _step("unlink blob")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=folder)
        found.append(uri)
    with tree.tmp_listing() as (tmp, names):
        for name in names:
            uri = (tree.tmp_dir / name).as_uri()
            if remove is not None and uri not in remove:
                continue
            if is_abandoned(tmp, name, cutoff, remove=remove is not None):
                found.append(uri)
    return sorted(found)
