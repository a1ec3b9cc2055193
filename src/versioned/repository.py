"""The repository API shared by every backend's facade.

A facade turns the engine's records into the public value objects and nothing more.
Every method takes the optional ``bsm`` session argument of the S3 + DynamoDB backend
(a ``BotoSesManager`` or a ``boto3.Session``); the local backend has no sessions and
ignores it, so code written for one backend runs on the other.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Generic, TypeVar

from . import arguments as args
from .engine import Engine
from .model import Alias, AliasChange, AliasState, Artifact, ExpiredVersion, HistoryCheck
from .resolver import AliasResolver
from .stores import base
from .stores.base import AliasRecord, Backend, VersionRecord, assembler

if TYPE_CHECKING:
    from .rollout_check import CheckRunner
    from .rollouts import Rollouts

ArtifactT = TypeVar("ArtifactT", bound=Artifact)
AliasT = TypeVar("AliasT", bound=Alias)
#: Told the number of bytes of each piece of content moved (see ``put_artifact``).
Progress = Callable[[int], None]


class BaseRepository(Generic[ArtifactT, AliasT]):
    """Every repository method; a facade names its value classes and session handling."""

    # the plain value classes unless a facade names its own (as the S3 one does)
    artifact_class: type[ArtifactT] = Artifact  # type: ignore[assignment]
    alias_class: type[AliasT] = Alias  # type: ignore[assignment]

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._engine = Engine(backend)
        self._make_artifact = assembler(self.artifact_class)  # once: a get makes one too

    # --- hooks for facades ---------------------------------------------------------------
    @contextlib.contextmanager
    def _using(self, session: object | None) -> Iterator[None]:
        """Run the enclosed calls with ``session``'s clients (no-op without sessions)."""
        yield

    def _artifact(self, record: VersionRecord) -> ArtifactT:
        return self._artifacts([record])[0]

    def _artifacts(self, records: list[VersionRecord]) -> list[ArtifactT]:
        """The public value object of each record, made in a loop with its lookups
        hoisted and without the frozen dataclass's ``__init__`` (``assembler``): a long
        history is listed in one call, and that ``__init__`` was a third of the time of
        listing 10,000 local versions. ``records`` is used up (left empty)."""
        make, uri, to_str, latest = (
            self._make_artifact,
            self._backend.version_uris(),
            str,
            args.LATEST,
        )
        made = []
        # Consumed from the end, so each record is freed as soon as its Artifact is made:
        # CPython's collector counts live new objects, and keeping all 10,000 records to
        # the end made it run far more often during a long listing.
        records.reverse()
        while records:
            record = records.pop()
            name, version, sha256, metadata = (
                record.name,
                record.version,
                record.sha256,
                record.metadata,
            )
            made.append(
                make(
                    {
                        "name": name,
                        "version": latest if version is None else to_str(version),
                        "update_at": record.update_at,
                        "uri": uri(name, version, sha256),
                        "sha256": sha256,
                        "size": record.size,
                        "content_type": record.content_type,
                        "metadata": dict(metadata) if metadata is not None else None,
                        "is_deleted": record.is_deleted,
                        "_reader": self,
                    },
                )
            )
        return made

    def _alias(self, record: AliasRecord) -> AliasT:
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
            # LATEST's bytes can be replaced: only a published target's hash is final
            _version_sha256=record.version_sha256 if record.version is not None else None,
            _secondary_version_sha256=(
                record.secondary_version_sha256 if split and secondary is not None else None
            ),
            _reader=self,
            revision=record.revision,
        )

    def _trace(self, wrap: Callable[[Backend], Backend]) -> None:
        """Route every backend operation through ``wrap(backend)`` (the CLI's --verbose)."""
        self._engine.backend = wrap(self._engine.backend)

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
        progress: Progress | None = None,
    ) -> None:
        """Stream a version into ``path``, verified (used by ``Artifact.download``)."""
        with self._using(session):
            self._engine.download_version(name, version, sha256, path, progress)

    def write_version(
        self,
        name: str,
        version: str,
        sha256: str | None,
        out: BinaryIO,
        session: object | None,
        progress: Progress | None = None,
    ) -> None:
        """Write a version into ``out``, checked at the end (used by ``Artifact.write_to``)."""
        with self._using(session):
            self._engine.write_version(name, version, sha256, out, progress)

    # --- the API -------------------------------------------------------------------------
    # ``bsm``: an optional BotoSesManager or boto3.Session to make the calls with (S3 +
    # DynamoDB backend); without one, boto3's default chain. The local backend ignores it.
    def put_artifact(
        self,
        name: str,
        content: Any,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        bsm: Any = None,
        *,
        progress: Progress | None = None,
    ) -> ArtifactT:
        """Make ``content`` the LATEST version of ``name`` and return it.

        ``content`` is ``bytes``, an ``os.PathLike`` file path, or a readable binary file
        object (a ``str`` raises TypeError). Content identical to LATEST's uploads
        nothing: LATEST's time is updated (and a soft-deleted LATEST revived).
        ``content_type`` and ``metadata`` values must be printable ASCII; ``tags`` are S3
        object tags (stored on S3 only). ``progress``, if given, is told the size of each
        piece of content as the backend reads it to store it (after one pass over
        ``content`` that hashes it; bytes already stored are not read again).
        """
        with self._using(bsm):
            record = self._engine.put_artifact(
                name, content, content_type, metadata, tags, progress
            )
            return self._artifact(record)

    def get_artifact_version(
        self, name: str, version: int | str | None = None, bsm: Any = None
    ) -> ArtifactT:
        """Return a version (LATEST by default). Raises ArtifactNotFoundError."""
        with self._using(bsm):
            return self._artifact(self._engine.get_version(name, version))

    def list_artifact_versions(
        self, name: str, bsm: Any = None, *, include_deleted: bool = False
    ) -> list[ArtifactT]:
        """Return the live versions (with ``include_deleted``, soft-deleted ones too, their
        ``is_deleted`` set): LATEST first, then newest number first. An artifact that
        does not exist has none."""
        with self._using(bsm):
            records = self._engine.list_versions(name, include_deleted)
            return self._artifacts(records)

    def publish_artifact_version(self, name: str, bsm: Any = None) -> ArtifactT:
        """Freeze LATEST as the next version number and return it.

        Raises ArtifactNotFoundError when there is no live LATEST.
        """
        with self._using(bsm):
            return self._artifact(self._engine.publish(name))

    def delete_artifact_version(
        self, name: str, version: int | str | None = None, bsm: Any = None
    ) -> None:
        """Soft-delete a version (LATEST by default). Idempotent, as in 1.0.1: a version
        that is already deleted, or was never there, is left as it is without an error.

        Raises VersionInUseError if aliases point at it.
        """
        with self._using(bsm):
            self._engine.delete(name, version)

    def restore_artifact_version(
        self, name: str, version: int | str | None = None, bsm: Any = None
    ) -> ArtifactT:
        """Undo a soft delete and return the version. Raises ArtifactNotFoundError."""
        with self._using(bsm):
            return self._artifact(self._engine.restore(name, version))

    def list_artifact_names(self, bsm: Any = None) -> list[str]:
        """Return every artifact name with stored bytes, sorted."""
        with self._using(bsm):
            return self._engine.list_names()

    def put_alias(
        self,
        name: str,
        alias: str,
        version: int | str | None = None,
        secondary_version: int | str | None = None,
        secondary_version_weight: int | None = None,
        bsm: Any = None,
        *,
        expected_revision: int | None = None,
        reason: str | None = None,
    ) -> AliasT:
        """Point ``alias`` at ``version`` (LATEST by default), optionally sending
        ``secondary_version_weight`` percent (0-99) of traffic to ``secondary_version``,
        and return it with its new ``revision``. The change and its history entry (with
        ``reason`` and who made it) are written in one atomic step.

        With ``expected_revision`` the change happens only if the alias is at that
        revision now (0: only if it does not exist); otherwise RevisionMismatchError,
        naming the current revision and target, and nothing is written.
        Raises ValueError (hyphen in alias, bad weight, identical versions, bad reason),
        TypeError (weight not an int), ArtifactNotFoundError (a target missing or
        soft-deleted).
        """
        with self._using(bsm):
            record = self._engine.put_alias(
                name,
                alias,
                version,
                secondary_version,
                secondary_version_weight,
                expected_revision,
                reason,
            )
            return self._alias(record)

    def get_alias(
        self, name: str, alias: str, bsm: Any = None, *, as_of: datetime | None = None
    ) -> AliasT:
        """Return an alias; with ``as_of`` (a timezone-aware datetime), what it pointed at
        then, from its history (``revision`` and ``update_at`` of the change in force).
        Raises AliasNotFoundError (also when it did not exist at ``as_of``)."""
        with self._using(bsm):
            return self._alias(self._engine.get_alias(name, alias, as_of))

    def alias_resolver(
        self,
        ttl_seconds: float = 30.0,
        jitter: float = 0.1,
        stale_seconds: float = 300.0,
        bsm: Any = None,
        *,
        clock: Callable[[], float] | None = None,
        **limits: Any,
    ) -> AliasResolver[AliasT]:
        """Return a resolver that answers ``get_alias`` from a per-process cache, for
        long-running clients: at most one request per alias per ``ttl_seconds`` (each
        answer kept ``ttl * (1 ± jitter)``), however many threads ask, refreshed in the
        background, and the last good answer served (marked stale) while a refresh runs
        and up to ``stale_seconds`` past expiry while the backend fails. ``limits``:
        AliasResolver's ``missing_seconds``, ``wait_seconds``, ``max_entries``,
        ``max_refreshes``. See ``versioned.resolver``; ``clock`` is for tests.
        """
        return AliasResolver(
            lambda name, alias: self.get_alias(name, alias, bsm),
            ttl_seconds,
            jitter,
            stale_seconds,
            clock=clock,
            **limits,
        )

    def list_aliases(self, name: str, bsm: Any = None) -> list[AliasT]:
        """Return every alias of ``name``, sorted by alias."""
        with self._using(bsm):
            return [self._alias(r) for r in self._engine.list_aliases(name)]

    def delete_alias(
        self,
        name: str,
        alias: str,
        bsm: Any = None,
        *,
        expected_revision: int | None = None,
        reason: str | None = None,
    ) -> None:
        """Remove an alias, recording the removal in its history; removing a missing
        alias does nothing and records nothing. ``expected_revision`` as for
        :meth:`put_alias` (a missing alias is at revision 0).

        Raises RevisionMismatchError, and ConcurrentWriteError when other writes kept
        the alias changing, or (S3) while a purge of its artifact is under way: the
        purge removes the alias itself, and once it is done deleting it again does
        nothing. The message names the artifact and says it is being purged. (Locally a
        purge is one transaction: the delete waits for it, then has nothing to delete.)
        """
        with self._using(bsm):
            self._engine.delete_alias(name, alias, expected_revision, reason)

    def rollback_alias(
        self,
        name: str,
        alias: str,
        to_revision: int | None = None,
        reason: str | None = None,
        bsm: Any = None,
        *,
        expected_revision: int | None = None,
    ) -> AliasT:
        """Point ``alias`` back and return it with its new ``revision``, recorded with
        action ``"rollback"``, as a compare-and-set.

        Without ``to_revision``, the version(s) the current state introduced are taken
        out of traffic: the alias goes to the newest earlier state that served none of
        them, reading earlier rollbacks as the states they restored, so repeated
        rollbacks keep walking back and never forward again (after a canary ramp: the
        state before the canary's first step). With ``to_revision``: exactly that
        revision's targets. A deleted alias goes back to its last targets.

        With ``expected_revision`` the rollback happens only if the alias is at that
        revision now (a deleted alias: its delete's revision, or 0); without it, only if
        it did not change while rolling back. Raises RevisionMismatchError (naming the
        current revision and targets; nothing written), ValueError (nothing earlier to
        roll back to, a revision that is not earlier or that deleted the alias, bad
        arguments), VersionDeletedError when a target has been soft-deleted since
        (restore it with ``restore_artifact_version``), AliasNotFoundError when the alias
        has neither a current value nor history.
        """
        with self._using(bsm):
            record = self._engine.rollback_alias(
                name, alias, to_revision, reason, expected_revision
            )
            return self._alias(record)

    def list_alias_history(
        self,
        name: str,
        alias: str,
        bsm: Any = None,
        *,
        limit: int = 50,
        before_revision: int | None = None,
    ) -> list[AliasChange]:
        """Return up to ``limit`` changes of an alias, newest first: a page is full unless
        it reaches revision 1 (however short the store's own pages are); the next page is
        ``before_revision=page[-1].revision``. An alias that never existed has none."""
        with self._using(bsm):
            records = self._engine.alias_history(name, alias, limit, before_revision)
            return [_change(r) for r in records]

    def verify_alias_history(self, name: str, alias: str, bsm: Any = None) -> HistoryCheck:
        """Check the whole history of an alias: revisions without gaps, every entry
        hashing to its recorded sha256, naming the one before it and starting where it
        ended (``before`` = the previous ``after``); the newest entry being the one the
        store's head marker names (so entries cut off the end, a deleted alias's too,
        show) and agreeing with the alias as stored. Reports what was removed, altered,
        forged or reordered out of band (or changed outside versioned since its last
        recorded change). A history that does not verify takes no further change."""
        with self._using(bsm):
            problems, entries = self._engine.verify_alias_history(name, alias)
            return HistoryCheck(ok=not problems, problems=problems, entries=entries)

    def purge_artifact_versions(
        self,
        name: str,
        keep_last_n: int = 10,
        purge_older_than_secs: int = 7776000,
        bsm: Any = None,
        *,
        dry_run: bool = False,
        keep_rollback_targets: int = 1,
    ) -> tuple[datetime, list[ArtifactT]]:
        """Soft-delete published versions that are neither among the newest
        ``keep_last_n`` nor younger than ``purge_older_than_secs``.

        LATEST and versions an alias points at are always kept, and so are those an
        alias (a deleted one too) pointed at in its ``keep_rollback_targets`` revisions
        before the current one (so :meth:`rollback_alias` finds them). Returns the time
        the policy was applied and the versions it deleted; with ``dry_run``, the versions
        it would delete now, deleting nothing.
        """
        with self._using(bsm):
            purge_time, deleted = self._engine.purge_versions(
                name, keep_last_n, purge_older_than_secs, dry_run, keep_rollback_targets
            )
            return purge_time, [self._artifact(r) for r in deleted]

    def purge_artifact(self, name: str, bsm: Any = None) -> None:
        """Permanently remove every version, alias (with its history) and byte of ``name``."""
        with self._using(bsm):
            self._engine.purge_artifact(name)

    def purge_all(self, bsm: Any = None) -> None:
        """Permanently remove every artifact and alias in the repository."""
        with self._using(bsm):
            self._engine.purge_all()

    def expire_deleted_versions(
        self,
        older_than_secs: int,
        name: str | None = None,
        bsm: Any = None,
        *,
        dry_run: bool = False,
        keep_rollback_targets: int = 1,
    ) -> list[ExpiredVersion]:
        """Free the storage of versions soft-deleted more than ``older_than_secs`` ago (of
        artifact ``name``, or of every artifact): their bytes are removed for good and
        they can no longer be restored; their numbers are never given out again (by this
        package or by versioned 1.0.1). Retention soft-deletes; this is what frees.

        Never touched: live versions, LATEST, versions restored meanwhile, and the
        rollback targets retention keeps (``keep_rollback_targets``, as in
        :meth:`purge_artifact_versions`). A version soft-deleted before deletion times
        were recorded (or by 1.0.1) has none: the first run that sees it records the
        time, and it expires ``older_than_secs`` after that. With ``dry_run``, returns
        what would go now and changes nothing.

        Returns the versions expired, by artifact then number, each with the bytes it
        freed. Raises ValueError / TypeError for bad arguments, before anything is read.
        """
        with self._using(bsm):
            done = self._engine.expire_deleted(
                older_than_secs, name, dry_run, keep_rollback_targets
            )
            return [
                ExpiredVersion(
                    name=e.record.name,
                    version=args.version_to_str(e.record.version),
                    size=e.record.size,
                    deleted_at=e.record.deleted_at or e.record.update_at,
                    freed=e.freed,
                )
                for e in done
            ]

    def rollouts(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        runner: CheckRunner | None = None,
    ) -> Rollouts:
        """The progressive rollouts of this repository's aliases: ``start``, ``step``,
        ``run``, ``get``, ``list``, ``pause``, ``resume``, ``promote``, ``abort`` (see
        :class:`versioned.rollouts.Rollouts`). ``clock``, ``sleep`` and ``runner`` (the
        check command's) are for tests and embedding."""
        from .rollouts import Rollouts  # imported on first use: most commands need none

        options: dict[str, Any] = {"clock": clock, "sleep": sleep, "runner": runner}
        return Rollouts(self._engine, **{k: v for k, v in options.items() if v is not None})

    def gc(self, dry_run: bool = True, grace_seconds: int = 3600, bsm: Any = None) -> list[str]:
        """Find bytes that no version needs (left by crashes), older than ``grace_seconds``;
        remove them unless ``dry_run``. Returns their URIs."""
        with self._using(bsm):
            return self._engine.gc(dry_run, grace_seconds)


def _state(targets: base.Targets | None) -> AliasState | None:
    if targets is None:
        return None
    split = targets.secondary_version_weight is not None
    return AliasState(
        version=args.version_to_str(targets.version),
        secondary_version=args.version_to_str(targets.secondary_version) if split else None,
        secondary_version_weight=targets.secondary_version_weight,
    )


def _change(entry: base.AliasChange) -> AliasChange:
    return AliasChange(
        name=entry.name,
        alias=entry.alias,
        revision=entry.revision,
        update_at=entry.update_at,
        action=entry.action,
        who=entry.who,
        reason=entry.reason,
        before=_state(entry.before),
        after=_state(entry.after),
        previous_sha256=entry.previous_sha256,
        sha256=entry.sha256,
    )
