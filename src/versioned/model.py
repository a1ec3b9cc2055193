"""The value objects a repository returns: :class:`Artifact` and :class:`Alias`.

They hold plain data plus a reference to the repository that made them, so that
``get_content()`` and friends can fetch bytes without the caller passing anything.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

from .exc import InvalidArgumentError
from .routing import route_version

__all__ = ["Alias", "AliasChange", "AliasState", "Artifact", "ContentReader", "HistoryCheck"]


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
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Stream the verified bytes of ``name``/``version`` into the file ``path``."""
        ...

    def write_version(
        self,
        name: str,
        version: str,
        sha256: str | None,
        out: BinaryIO,
        session: object | None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Write the bytes of ``name``/``version`` into ``out``, checked at the end."""
        ...


@dataclass(frozen=True)
class Artifact:
    """One version of an artifact: ``"LATEST"`` or a published number such as ``"5"``.

    ``update_at`` is timezone-aware UTC; ``uri`` says where the bytes are
    (``s3://…`` or ``file://…``); ``sha256`` is the lowercase hex hash of the bytes.

    ``size`` (bytes), ``content_type`` and ``metadata`` are what ``put_artifact`` stored,
    read with the version's own record (on S3: attributes of its DynamoDB item; no extra
    request). They are ``None`` when the record does not hold them, e.g. a version written
    by versioned 1.0.1 (its object's HEAD has them: ``s3path.head_object()``).
    ``is_deleted`` is True for a soft-deleted version (listed with ``include_deleted``).
    """

    name: str
    version: str
    update_at: datetime
    uri: str
    sha256: str
    size: int | None = field(default=None, compare=False)
    content_type: str | None = field(default=None, compare=False)
    metadata: dict[str, str] | None = field(default=None, compare=False)
    is_deleted: bool = field(default=False, compare=False)
    _reader: ContentReader | None = field(default=None, repr=False, compare=False)

    def get_content(self, bsm: object | None = None) -> bytes:
        """Return the bytes of this version, verified against ``sha256``.

        Loads everything into memory; use :meth:`download` for large artifacts.
        Raises ArtifactNotFoundError if the bytes are gone, IntegrityError if they differ.
        """
        return self._require_reader().read_version(self.name, self.version, self.sha256, bsm)

    def download(
        self,
        path: str | os.PathLike[str],
        bsm: object | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Stream the bytes of this version into the file ``path``, verifying ``sha256``.

        The file appears only once complete and verified. ``progress``, if given, is told
        the size of each piece as it arrives. Raises IntegrityError.
        """
        self._require_reader().download_version(
            self.name, self.version, self.sha256, path, bsm, progress
        )

    def write_to(
        self,
        out: BinaryIO,
        bsm: object | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Write the bytes of this version into the binary stream ``out`` as they arrive.

        They are hashed on the way and checked against ``sha256`` at the end: by the
        time IntegrityError is raised, ``out`` has received them (a download to a file
        never shows wrong bytes; a stream cannot take them back). ``progress`` as for
        :meth:`download`.
        """
        self._require_reader().write_version(
            self.name, self.version, self.sha256, out, bsm, progress
        )

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
    #: The targets' sha256 where the alias record carries them (published versions only:
    #: LATEST's bytes can change). A read that knows the hash skips the version lookup.
    _version_sha256: str | None = field(default=None, repr=False, compare=False)
    _secondary_version_sha256: str | None = field(default=None, repr=False, compare=False)
    _reader: ContentReader | None = field(default=None, repr=False, compare=False)
    #: Grows by one on every change of the alias (its history's newest revision); pass
    #: it as ``expected_revision`` to change the alias only if nobody changed it since.
    revision: int = 0

    def get_version_content(self, bsm: object | None = None) -> bytes:
        """Return the verified bytes of the primary version (ignores the traffic split)."""
        return self._require_reader().read_version(
            self.name, self.version, self._version_sha256, bsm
        )

    def get_secondary_version_content(self, bsm: object | None = None) -> bytes:
        """Return the verified bytes of the secondary version.

        Raises InvalidArgumentError (a ValueError) when no secondary version is set.
        """
        return self._require_reader().read_version(
            self.name, self._require_secondary(), self._secondary_version_sha256, bsm
        )

    def download_version(self, path: str | os.PathLike[str], bsm: object | None = None) -> None:
        """Stream the primary version into ``path``, verified."""
        self._require_reader().download_version(
            self.name, self.version, self._version_sha256, path, bsm
        )

    def download_secondary_version(
        self, path: str | os.PathLike[str], bsm: object | None = None
    ) -> None:
        """Stream the secondary version into ``path``, verified; ValueError if none."""
        self._require_reader().download_version(
            self.name, self._require_secondary(), self._secondary_version_sha256, path, bsm
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

    def target_sha256(self, version: str) -> str | None:
        """The sha256 the alias record carries for ``version`` (one of its targets), so a
        read can verify the bytes without looking the version up; None when the record
        does not carry it (LATEST, whose bytes change; an alias written by 1.0.1)."""
        if version == self.version:
            return self._version_sha256
        if version == self.secondary_version:
            return self._secondary_version_sha256
        return None

    # --- sticky routing (routing.py states the rule) -------------------------------------
    def route(self, key: str) -> str:
        """Return the version (``"LATEST"`` or ``"5"``) the caller ``key`` (a user id, a host
        name) gets under this alias's traffic split.

        Deterministic: the same key gets the same version on every machine and in every
        process for as long as the primary and secondary versions stay the same. Over many
        keys ``secondary_version_weight`` percent get the secondary, and raising the
        weight only moves keys from the primary to the secondary, never back. Without a
        secondary version every key gets the primary.

        Raises InvalidArgumentTypeError (a TypeError) if ``key`` is not a ``str``,
        InvalidArgumentError (a ValueError) if it is empty, longer than 1024 characters or
        not encodable as UTF-8.
        """
        return route_version(
            self.name, self.version, self.secondary_version, self.secondary_version_weight, key
        )

    def route_artifact(self, key: str) -> str:
        """Return the URI of the version :meth:`route` picks for ``key``; raises as it."""
        if self.route(key) == self.version:
            return self.version_uri
        assert self.secondary_version_uri is not None
        return self.secondary_version_uri

    def get_content(self, key: str | None = None, bsm: object | None = None) -> bytes:
        """Return the verified bytes of the version :meth:`route` picks for ``key``; with
        ``key=None``, of an independent weighted draw (as :meth:`random_version`).

        Raises as :meth:`route` for a bad key (before any request), ArtifactNotFoundError
        if the bytes are gone, IntegrityError if they differ from the recorded hash.
        """
        version, sha256 = self._pick(key)
        return self._require_reader().read_version(self.name, version, sha256, bsm)

    def download(
        self, path: str | os.PathLike[str], key: str | None = None, bsm: object | None = None
    ) -> None:
        """Stream the version :meth:`route` picks for ``key`` (``None``: a weighted draw)
        into the file ``path``, verified; the file appears only once complete.

        Raises as :meth:`get_content`.
        """
        version, sha256 = self._pick(key)
        self._require_reader().download_version(self.name, version, sha256, path, bsm)

    def _pick(self, key: str | None) -> tuple[str, str | None]:
        """The version for ``key`` (a random draw without one) and its hash if known."""
        version = self.random_version() if key is None else self.route(key)
        return version, self.target_sha256(version)

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


@dataclass(frozen=True)
class AliasState:
    """Where an alias pointed: versions as in :class:`Alias` (``"LATEST"`` or ``"5"``);
    the weight is set exactly when there is a secondary version."""

    version: str
    secondary_version: str | None = None
    secondary_version_weight: int | None = None


@dataclass(frozen=True)
class AliasChange:
    """One entry of an alias's history, recorded atomically with the change.

    ``action`` is ``"set"``, ``"rollback"``, ``"delete"`` or ``"outside"`` (a change made
    without versioned's history, e.g. by versioned 1.0.1, noticed by the next change).
    ``who`` is the caller's identity (``user@host`` locally, the STS caller ARN on AWS);
    ``reason`` what the caller said. ``before``/``after`` are None where the alias did not
    exist. ``sha256`` covers every field and ``previous_sha256`` (the entry one revision
    older; ``""`` for revision 1), so an entry removed or altered out of band shows.
    """

    name: str
    alias: str
    revision: int
    update_at: datetime
    action: str
    who: str
    reason: str | None
    before: AliasState | None
    after: AliasState | None
    previous_sha256: str
    sha256: str


@dataclass(frozen=True)
class HistoryCheck:
    """What verifying an alias's history found: ``ok`` exactly when ``problems`` is
    empty; ``entries`` is how many entries were checked."""

    ok: bool
    problems: list[str]
    entries: int


@dataclass(frozen=True)
class ExpiredVersion:
    """A version whose bytes expiry removed for good (or, in a dry run, would remove).

    ``size``: the version's size as recorded (None if unknown); ``freed``: the bytes of
    storage actually freed (0 in a dry run, or when other versions share the content);
    ``deleted_at``: when it was soft-deleted.
    """

    name: str
    version: str
    size: int | None
    deleted_at: datetime
    freed: int
