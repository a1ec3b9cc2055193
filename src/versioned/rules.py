"""Rules every layer shares: the error builders and the numbering of versions.

This module sits below the engine and the stores (it imports only ``arguments``,
``exc`` and the store records), so a store can raise the same error the engine would
without importing the engine.
"""

from __future__ import annotations

from . import arguments as args
from .exc import (
    ArtifactNotFoundError,
    ConcurrentWriteError,
    IntegrityError,
    RevisionMismatchError,
    VersionInUseError,
)
from .stores.base import AliasRecord, Targets, VersionRecord


def not_found(name: str, version: int | None) -> ArtifactNotFoundError:
    """The error for a version that does not exist or is soft-deleted."""
    shown = args.version_to_str(version)
    return ArtifactNotFoundError(
        f"artifact {name!r} version {shown} not found (missing or soft-deleted)",
        name=name,
        version=shown,
    )


def being_purged(name: str) -> ConcurrentWriteError:
    """The error for deleting an alias while a purge of its artifact is under way (the
    purge removes the alias itself; once it has, deleting it again does nothing)."""
    return ConcurrentWriteError(
        f"artifact {name!r} is being purged, its aliases with it: try again once the purge "
        f"is done (if it was interrupted, purge_artifact({name!r}) again finishes it)"
    )


def in_use(name: str, version: int | None, aliases: list[str]) -> VersionInUseError:
    """The error for deleting a version that aliases point at."""
    shown = args.version_to_str(version)
    return VersionInUseError(
        f"artifact {name!r} version {shown} is used by alias(es) {', '.join(sorted(aliases))}; "
        "point them elsewhere first",
        name=name,
        version=shown,
        aliases=sorted(aliases),
    )


def corrupt(name: str, version: int | None, expected: str, actual: str) -> IntegrityError:
    """The error for stored bytes that do not hash to the sha256 recorded for them."""
    shown = args.version_to_str(version)
    return IntegrityError(
        f"artifact {name!r} version {shown}: stored bytes hash to {actual}, expected {expected}",
        name=name,
        version=shown,
        expected=expected,
        actual=actual,
    )


def aliases_pointing_at(aliases: list[AliasRecord], version: int | None) -> list[str]:
    """Names of the aliases whose primary or secondary target is ``version``."""
    return [a.alias for a in aliases if version in a.targets()]


def next_version_number(numbers: list[int]) -> int:
    """The numbering rule: one past the highest number ever given, deleted ones included."""
    return max(numbers, default=0) + 1


def sort_versions(records: list[VersionRecord]) -> list[VersionRecord]:
    """LATEST first, then published versions by number, newest first."""
    # a number for a key, not a tuple: a listing of 10,000 versions made 10,000 tuples
    return sorted(records, key=lambda r: _FIRST if r.version is None else -r.version)


#: The sort key of LATEST: before every published number.
_FIRST = float("-inf")


def describe_targets(targets: Targets) -> str:
    """Where an alias points, in words: ``version 3`` or ``version 3, 20% to version 4``."""
    shown = f"version {args.version_to_str(targets.version)}"
    if targets.secondary_version_weight is None:
        return shown
    secondary = args.version_to_str(targets.secondary_version)
    return f"{shown}, {targets.secondary_version_weight}% to version {secondary}"


def check_expected_revision(
    name: str, alias: str, expected: int | None, current: AliasRecord | None, revision: int
) -> None:
    """Refuse a compare-and-set whose ``expected`` revision is not the alias's
    ``revision`` now (0 when ``current`` is None: the alias does not exist).

    Raises RevisionMismatchError naming the alias, the artifact, both revisions and the
    current target; does nothing when ``expected`` is None.
    """
    if expected is None or expected == revision:
        return
    where = "does not exist" if current is None else f"points at {describe_targets(current.state)}"
    raise RevisionMismatchError(
        f"alias {alias!r} of artifact {name!r} is at revision {revision}, not the expected "
        f"revision {args.shown(expected)}: it was changed meanwhile and now {where}; read it again "
        "and decide",
        name=name,
        alias=alias,
        expected=expected,
        current=revision,
        current_target=None if current is None else describe_targets(current.state),
    )
