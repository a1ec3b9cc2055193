"""Rules every layer shares: the error builders and the numbering of versions.

This module sits below the engine and the stores (it imports only ``arguments``,
``exc`` and the store records), so a store can raise the same error the engine would
without importing the engine.
"""

from __future__ import annotations

from . import arguments as args
from .exc import ArtifactNotFoundError, IntegrityError, VersionInUseError
from .stores.base import AliasRecord, VersionRecord


def not_found(name: str, version: int | None) -> ArtifactNotFoundError:
    """The error for a version that does not exist or is soft-deleted."""
    shown = args.version_to_str(version)
    return ArtifactNotFoundError(
        f"artifact {name!r} version {shown} not found (missing or soft-deleted)",
        name=name,
        version=shown,
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
    return sorted(records, key=lambda r: (r.version is not None, -(r.version or 0)))
