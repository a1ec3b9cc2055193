"""The embedded backend: a repository in a local folder, nothing to set up.

Bytes are files under ``root`` (content-addressed, read-only), metadata is SQLite in the
same folder. Same methods and rules as :mod:`versioned.s3_and_dynamodb_backend`; the
``bsm`` session argument is accepted and ignored. URIs are ``file://…``.
"""

from __future__ import annotations

import os

from . import arguments as args
from .exc import InvalidArgumentTypeError, RepositoryNotFoundError
from .model import Alias, Artifact
from .repository import BaseRepository
from .stores.local import LocalBackend

__all__ = ["Alias", "Artifact", "Repository"]


class Repository(BaseRepository[Artifact, Alias]):
    """A repository in the folder ``root``.

    With ``create`` (the default) the folder and database are made on first use; with
    ``create=False`` a missing repository raises RepositoryNotFoundError instead, so a
    mistyped path creates nothing. Raises InvalidArgumentTypeError / InvalidArgumentError
    for a ``root`` that is not a usable path.
    """

    artifact_class = Artifact
    alias_class = Alias

    def __init__(
        self, root: str | os.PathLike[str], suffix: str | None = None, *, create: bool = True
    ) -> None:
        if suffix is not None and not isinstance(suffix, str):
            raise InvalidArgumentTypeError("suffix must be a str or None")
        self.root = args.check_path(root, "root")
        # None: the suffix the repository recorded when it was made ("" for a new one)
        self._local = LocalBackend(self.root, suffix, create=create)
        if not create and not self._local.db_path.is_file():
            raise RepositoryNotFoundError(
                f"there is no repository at {self._local.root}: `versioned init` "
                "(or any write) creates one"
            )
        super().__init__(self._local)

    @property
    def suffix(self) -> str:
        """The suffix of blob file names (recorded in the repository when it was made)."""
        return str(self._local.suffix)

    def __repr__(self) -> str:
        return f"local_backend.Repository(root={self.root!r})"

    @property
    def uri(self) -> str:
        """The repository's URI, as :func:`versioned.open_repository` takes it."""
        return self._local.root.as_uri()

    def bootstrap(self, bsm: object = None) -> None:
        """Create the folder and database if missing; safe to call again."""
        self._engine.bootstrap()
