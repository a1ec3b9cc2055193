"""The errors ``versioned`` raises.

Every error is a :class:`VersionedError`, so ``except VersionedError`` catches all of
them; errors about bad arguments also subclass the builtin the seed API documents, so
``except ValueError`` / ``except TypeError`` keep working::

    VersionedError
    ├── ArtifactNotFoundError        no such artifact / version, or it is soft-deleted
    │   └── VersionDeletedError      the version exists but is soft-deleted (restore it)
    ├── AliasNotFoundError           no such alias
    ├── VersionInUseError            a delete refused: aliases still point at the version
    ├── IntegrityError               stored bytes do not hash to the recorded sha256
    ├── ConcurrentWriteError         another writer held or took the write; retry
    │   └── StaleRolloutError        a rollout changed since it was read (read it again)
    ├── RevisionMismatchError        expected_revision given, but the alias has moved on
    ├── RolloutError                 a rollout can't do that now (its state says why)
    ├── BackendError                 the storage service failed (original as __cause__)
    │   ├── RepositoryNotReadyError  bucket, table or folder missing: run bootstrap()
    │   ├── AliasResolveTimeoutError an AliasResolver had no answer in time; ask again
    │   └── UnsafeStoreError         the S3 store ignores a condition writes rely on
    ├── RepositoryNotFoundError      no repository at that path (opened without creating)
    ├── RepositoryMismatchError (ValueError) opened with settings the repository was
    │                                not made with (suffix), or a newer storage format
    ├── InvalidArgumentError (ValueError)   a name, alias, version, weight... is wrong
    └── InvalidArgumentTypeError (TypeError) an argument has the wrong type

Bad arguments are rejected before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AliasNotFoundError",
    "AliasResolveTimeoutError",
    "ArtifactNotFoundError",
    "BackendError",
    "ConcurrentWriteError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "RepositoryMismatchError",
    "RepositoryNotFoundError",
    "RepositoryNotReadyError",
    "RevisionMismatchError",
    "RolloutError",
    "StaleRolloutError",
    "UnsafeStoreError",
    "VersionDeletedError",
    "VersionInUseError",
    "VersionedError",
]


class VersionedError(Exception):
    """Base of every error this package raises."""


class ArtifactNotFoundError(VersionedError):
    """The artifact, or the requested version of it, does not exist or is soft-deleted."""

    def __init__(self, message: str, *, name: str, version: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.version = version


class AliasNotFoundError(VersionedError):
    """The alias does not exist."""

    def __init__(self, message: str, *, name: str, alias: str) -> None:
        super().__init__(message)
        self.name = name
        self.alias = alias


class VersionDeletedError(ArtifactNotFoundError):
    """The version exists but is soft-deleted; ``restore_artifact_version`` brings it back."""


class RevisionMismatchError(VersionedError):
    """A compare-and-set on an alias lost: someone changed the alias first.

    ``expected`` is the revision the caller gave, ``current`` the alias's revision now
    (0: the alias does not exist) and ``current_target`` a description of where it points
    now (``None`` when it does not exist). Not a ConcurrentWriteError: retrying blindly
    would overwrite the other change, which is what the caller asked us not to do.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        alias: str,
        expected: int,
        current: int,
        current_target: str | None,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.alias = alias
        self.expected = expected
        self.current = current
        self.current_target = current_target


class VersionInUseError(VersionedError):
    """A version cannot be soft-deleted because aliases point at it."""

    def __init__(self, message: str, *, name: str, version: str, aliases: Sequence[str]) -> None:
        super().__init__(message)
        self.name = name
        self.version = version
        self.aliases = list(aliases)


class IntegrityError(VersionedError):
    """Stored bytes do not hash to the sha256 recorded for the version."""

    def __init__(
        self, message: str, *, name: str, version: str, expected: str, actual: str
    ) -> None:
        super().__init__(message)
        self.name = name
        self.version = version
        self.expected = expected
        self.actual = actual


class ConcurrentWriteError(VersionedError):
    """Another writer held or took over the write; nothing half-done is left, retry."""


class StaleRolloutError(ConcurrentWriteError):
    """A rollout's record changed since it was read (another controller, a pause or an
    abort): nothing was written; read it again."""


class RolloutError(VersionedError):
    """A rollout can't do what was asked in its current state (none running, one
    already running, a promote after an abort, an alias changed outside it...). The
    message says what state it is in and what would work."""

    def __init__(self, message: str, *, name: str, alias: str, number: int | None) -> None:
        super().__init__(message)
        self.name = name
        self.alias = alias
        self.number = number


class BackendError(VersionedError):
    """The storage service failed; the original error is kept as ``__cause__``."""


class AliasResolveTimeoutError(BackendError):
    """An :class:`~versioned.AliasResolver` had no answer for the alias in time: its first
    read of it (or the one after the cached answer grew too old) is still in flight, or
    too many reads are. Asking again later may find the answer."""

    def __init__(self, message: str, *, name: str, alias: str) -> None:
        super().__init__(message)
        self.name = name
        self.alias = alias


class RepositoryNotReadyError(BackendError):
    """The bucket, table or folder does not exist yet: call ``bootstrap()`` first."""


class UnsafeStoreError(BackendError):
    """The S3 store ignores a conditional write the fencing rule needs (such as
    ``If-None-Match: *``): writing could let concurrent writers overwrite each other."""


class RepositoryNotFoundError(VersionedError):
    """No repository exists where one was opened for reading; a write would create it."""


class RepositoryMismatchError(VersionedError, ValueError):
    """The repository was made with other settings than it was opened with (say which)."""


class InvalidArgumentError(VersionedError, ValueError):
    """An argument has the right type but a value the rules forbid."""


class InvalidArgumentTypeError(VersionedError, TypeError):
    """An argument has the wrong type."""
