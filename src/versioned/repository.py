"""The repository API shared by every backend's facade.

A facade turns the engine's records into the public value objects and nothing more;
the S3 + DynamoDB facade adds the optional ``bsm`` session argument on top.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from . import arguments as args
from .engine import Engine
from .model import Alias, Artifact
from .stores.base import AliasRecord, Backend, VersionRecord


class BaseRepository:
    """Every repository method, for a backend that needs no session argument."""

    artifact_class: ClassVar[type[Artifact]] = Artifact
    alias_class: ClassVar[type[Alias]] = Alias

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._engine = Engine(backend)

    # --- hooks for facades ---------------------------------------------------------------
    @contextlib.contextmanager
    def _using(self, session: object | None) -> Iterator[None]:
        """Run the enclosed calls with ``session``'s clients (no-op without sessions)."""
        yield

    def _artifact(self, record: VersionRecord) -> Artifact:
        return self.artifact_class(
            name=record.name,
            version=args.version_to_str(record.version),
            update_at=record.update_at,
            uri=self._backend.version_uri(record.name, record.version, record.sha256),
            sha256=record.sha256,
            _reader=self,
        )

    def _alias(self, record: AliasRecord) -> Alias:
        secondary = record.secondary_version
        split = record.has_secondary
        return self.alias_class(
            name=record.name,
            alias=record.alias,
            update_at=record.update_at,
            version=args.version_to_str(record.version),
            secondary_version=args.version_to_str(secondary) if split else None,
            secondary_version_weight=record.secondary_version_weight,
            version_uri=self._backend.version_uri(
                record.name, record.version, record.version_sha256
            ),
            secondary_version_uri=(
                None
                if not split
                else self._backend.version_uri(
                    record.name, secondary, record.secondary_version_sha256
                )
            ),
            _reader=self,
        )

    # --- ContentReader, for the value objects --------------------------------------------
    def read_version(
        self, name: str, version: str, sha256: str | None, session: object | None
    ) -> bytes:
        """The verified bytes of a version (used by ``Artifact.get_content``)."""
        with self._using(session):
            return self._engine.read_version(name, version, sha256)

    def download_version(
        self,
        name: str,
        version: str,
        sha256: str | None,
        path: str | os.PathLike[str],
        session: object | None,
    ) -> None:
        """Stream a version into ``path``, verified (used by ``Artifact.download``)."""
        with self._using(session):
            self._engine.download_version(name, version, sha256, path)

    # --- the API -------------------------------------------------------------------------
    def put_artifact(
        self,
        name: str,
        content: Any,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> Artifact:
        """Make ``content`` the LATEST version of ``name`` and return it.

        ``content`` is ``bytes``, an ``os.PathLike`` file path, or a readable binary file
        object (a ``str`` raises TypeError). Content identical to LATEST's uploads
        nothing: LATEST's time is updated (and a soft-deleted LATEST revived).
        """
        return self._artifact(
            self._engine.put_artifact(name, content, content_type, metadata, tags)
        )

    def get_artifact_version(self, name: str, version: int | str | None = None) -> Artifact:
        """Return a version (LATEST by default). Raises ArtifactNotFoundError."""
        return self._artifact(self._engine.get_version(name, version))

    def list_artifact_versions(self, name: str) -> list[Artifact]:
        """Return the live versions: LATEST first, then newest number first."""
        return [self._artifact(r) for r in self._engine.list_versions(name)]

    def publish_artifact_version(self, name: str) -> Artifact:
        """Freeze LATEST as the next version number and return it.

        Raises ArtifactNotFoundError when there is no live LATEST.
        """
        return self._artifact(self._engine.publish(name))

    def delete_artifact_version(self, name: str, version: int | str | None = None) -> None:
        """Soft-delete a version (LATEST by default); deleting it again does nothing.

        Raises ArtifactNotFoundError if it never existed, VersionInUseError if aliases
        point at it.
        """
        self._engine.delete(name, version)

    def restore_artifact_version(self, name: str, version: int | str | None = None) -> Artifact:
        """Undo a soft delete and return the version. Raises ArtifactNotFoundError."""
        return self._artifact(self._engine.restore(name, version))

    def list_artifact_names(self) -> list[str]:
        """Return every artifact name with stored bytes, sorted."""
        return self._engine.list_names()

    def put_alias(
        self,
        name: str,
        alias: str,
        version: int | str | None = None,
        secondary_version: int | str | None = None,
        secondary_version_weight: int | None = None,
    ) -> Alias:
        """Point ``alias`` at ``version`` (LATEST by default), optionally sending
        ``secondary_version_weight`` percent (0-99) of traffic to ``secondary_version``.

        Raises ValueError (hyphen in alias, bad weight, identical versions), TypeError
        (weight not an int), ArtifactNotFoundError (a target missing or soft-deleted).
        """
        return self._alias(
            self._engine.put_alias(
                name, alias, version, secondary_version, secondary_version_weight
            )
        )

    def get_alias(self, name: str, alias: str) -> Alias:
        """Return an alias. Raises AliasNotFoundError."""
        return self._alias(self._engine.get_alias(name, alias))

    def list_aliases(self, name: str) -> list[Alias]:
        """Return every alias of ``name``, sorted by alias."""
        return [self._alias(r) for r in self._engine.list_aliases(name)]

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias; removing a missing alias does nothing."""
        self._engine.delete_alias(name, alias)

    def purge_artifact_versions(
        self, name: str, keep_last_n: int = 10, purge_older_than_secs: int = 7776000
    ) -> tuple[datetime, list[Artifact]]:
        """Soft-delete published versions that are neither among the newest
        ``keep_last_n`` nor younger than ``purge_older_than_secs``.

        LATEST and versions an alias points at are always kept. Returns the time the
        policy was applied and the versions it deleted.
        """
        purge_time, deleted = self._engine.purge_versions(name, keep_last_n, purge_older_than_secs)
        return purge_time, [self._artifact(r) for r in deleted]

    def purge_artifact(self, name: str) -> None:
        """Permanently remove every version, alias and byte of ``name``."""
        self._engine.purge_artifact(name)

    def purge_all(self) -> None:
        """Permanently remove every artifact and alias in the repository."""
        self._engine.purge_all()

    def gc(self, dry_run: bool = True, grace_seconds: int = 3600) -> list[str]:
        """Find bytes that no version needs (left by crashes), older than ``grace_seconds``;
        remove them unless ``dry_run``. Returns their URIs."""
        return self._engine.gc(dry_run, grace_seconds)
