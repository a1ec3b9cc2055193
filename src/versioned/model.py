"""The value objects a repository returns: :class:`Artifact` and :class:`Alias`.

They hold plain data plus a reference to the repository that made them, so that
``get_content()`` and friends can fetch bytes without the caller passing anything.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .exc import InvalidArgumentError

__all__ = ["Alias", "Artifact", "ContentReader"]


class ContentReader(Protocol):
    """What a value object needs from its repository to fetch bytes."""

    def read_version(
        self, name: str, version: str, sha256: str | None, session: object | None
    ) -> bytes:
        """Return the verified bytes of ``name``/``version``.

        ``sha256`` is the hash the caller already knows (``None``: look it up first).
        Raises ArtifactNotFoundError, IntegrityError.
        """
        ...

    def download_version(
        self,
        name: str,
        version: str,
        sha256: str | None,
        path: str | os.PathLike[str],
        session: object | None,
    ) -> None:
        """Stream the verified bytes of ``name``/``version`` into the file ``path``."""
        ...


@dataclass(frozen=True)
class Artifact:
    """One version of an artifact: ``"LATEST"`` or a published number such as ``"5"``.

    ``update_at`` is timezone-aware UTC; ``uri`` says where the bytes are
    (``s3://…`` or ``file://…``); ``sha256`` is the lowercase hex hash of the bytes.
    """

    name: str
    version: str
    update_at: datetime
    uri: str
    sha256: str
    _reader: ContentReader | None = field(default=None, repr=False, compare=False)

    def get_content(self, bsm: object | None = None) -> bytes:
        """Return the bytes of this version, verified against ``sha256``.

        Loads everything into memory; use :meth:`download` for large artifacts.
        Raises ArtifactNotFoundError if the bytes are gone, IntegrityError if they differ.
        """
        return self._require_reader().read_version(self.name, self.version, self.sha256, bsm)

    def download(self, path: str | os.PathLike[str], bsm: object | None = None) -> None:
        """Stream the bytes of this version into the file ``path``, verifying ``sha256``.

        The file appears only once complete and verified. Raises IntegrityError.
        """
        self._require_reader().download_version(self.name, self.version, self.sha256, path, bsm)

    def _require_reader(self) -> ContentReader:
        if self._reader is None:
            raise InvalidArgumentError("this Artifact was not made by a repository")
        return self._reader


@dataclass(frozen=True)
class Alias:
    """A named pointer at a version, optionally splitting traffic with a second version.

    With ``secondary_version`` set, ``secondary_version_weight`` percent of
    :meth:`random_artifact` picks go to the secondary version, the rest to ``version``.
    """

    name: str
    alias: str
    update_at: datetime
    version: str
    secondary_version: str | None
    secondary_version_weight: int | None
    version_uri: str
    secondary_version_uri: str | None
    _reader: ContentReader | None = field(default=None, repr=False, compare=False)

    def get_version_content(self, bsm: object | None = None) -> bytes:
        """Return the verified bytes of the primary version (ignores the traffic split)."""
        return self._require_reader().read_version(self.name, self.version, None, bsm)

    def get_secondary_version_content(self, bsm: object | None = None) -> bytes:
        """Return the verified bytes of the secondary version.

        Raises InvalidArgumentError (a ValueError) when no secondary version is set.
        """
        return self._require_reader().read_version(self.name, self._require_secondary(), None, bsm)

    def download_version(self, path: str | os.PathLike[str], bsm: object | None = None) -> None:
        """Stream the primary version into ``path``, verified."""
        self._require_reader().download_version(self.name, self.version, None, path, bsm)

    def download_secondary_version(
        self, path: str | os.PathLike[str], bsm: object | None = None
    ) -> None:
        """Stream the secondary version into ``path``, verified; ValueError if none."""
        self._require_reader().download_version(
            self.name, self._require_secondary(), None, path, bsm
        )

    def random_version(self) -> str:
        """Pick a version by the traffic weights: each call is an independent draw."""
        if self.secondary_version is None or not self.secondary_version_weight:
            return self.version
        if random.randrange(100) < self.secondary_version_weight:
            return self.secondary_version
        return self.version

    def random_artifact(self) -> str:
        """Pick the URI of a version by the traffic weights (see :meth:`random_version`)."""
        if self.random_version() == self.version:
            return self.version_uri
        assert self.secondary_version_uri is not None
        return self.secondary_version_uri

    def _require_secondary(self) -> str:
        if self.secondary_version is None:
            raise InvalidArgumentError(
                f"alias {self.alias!r} of artifact {self.name!r} has no secondary version"
            )
        return self.secondary_version

    def _require_reader(self) -> ContentReader:
        if self._reader is None:
            raise InvalidArgumentError("this Alias was not made by a repository")
        return self._reader
