"""The embedded backend: a repository in a local folder, nothing to set up.

Bytes are files under ``root`` (content-addressed, read-only), metadata is SQLite in the
same folder. Same methods and rules as :mod:`versioned.s3_and_dynamodb_backend`, without
the session argument; URIs are ``file://…``.
"""

from __future__ import annotations

import os

from .exc import InvalidArgumentTypeError
from .model import Alias, Artifact
from .repository import BaseRepository
from .stores.local import LocalBackend

__all__ = ["Alias", "Artifact", "Repository"]


class Repository(BaseRepository):
    """A repository in the folder ``root`` (made on first use)."""

    def __init__(self, root: str | os.PathLike[str], suffix: str = "") -> None:
        if not isinstance(suffix, str):
            raise InvalidArgumentTypeError("suffix must be a str")
        self.root = os.fspath(root)
        self.suffix = suffix
        self._local = LocalBackend(root, suffix)
        super().__init__(self._local)

    def __repr__(self) -> str:
        return f"local_backend.Repository(root={self.root!r})"

    @property
    def uri(self) -> str:
        """The repository's URI, as :func:`versioned.open_repository` takes it."""
        return self._local.root.as_uri()

    def bootstrap(self) -> None:
        """Create the folder and database if missing; safe to call again."""
        self._engine.bootstrap()
