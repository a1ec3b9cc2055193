"""The engine's expiry: versions soft-deleted long ago removed for good, freeing storage.

Soft deletes keep the bytes (a restore can bring a version back), so retention by
itself frees nothing. Expiry is the step after it: a published version soft-deleted more
than ``older_than_secs`` ago loses its bytes for good, and its record becomes a tombstone
that is never listed or restored but keeps its number taken (``Backend.expire_version``).

Never expired: a live version, LATEST, one restored meanwhile (the store's condition on
the deletion time refuses it), an aliased one (aliases point only at live versions) and
one retention keeps as a rollback target. A version soft-deleted without a recorded time
(before times were recorded, or by versioned 1.0.1) is dated by the first expiry that
sees it and expires ``older_than_secs`` after that.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import arguments as args
from .stores.base import Backend, VersionRecord
from .timestamps import seconds_before, utc_now

__all__ = ["Expired", "ExpiryOperations"]


@dataclass(frozen=True)
class Expired:
    """One version expiry removed (or, in a dry run, would remove): ``freed`` is the
    bytes it freed (0 in a dry run, or when other versions share the content)."""

    record: VersionRecord
    freed: int


class ExpiryOperations:
    """The expiry half of :class:`~versioned.engine.Engine` (which supplies the members)."""

    backend: Backend

    def rollback_targets(self, name: str, keep: int) -> set[int | None]:
        raise NotImplementedError  # AliasOperations'

    def expire_deleted(
        self,
        older_than_secs: object,
        name: object = None,
        dry_run: bool = False,
        keep_rollback_targets: object = 1,
    ) -> list[Expired]:
        """Remove for good the versions of ``name`` (None: of every artifact) soft-deleted
        more than ``older_than_secs`` ago, except rollback targets (as retention keeps
        them, with ``keep_rollback_targets``). With ``dry_run``, the ones that would go,
        nothing changed (undated ones are not dated either).

        Returns what was expired, by artifact then version. Raises the argument errors
        before anything is read.
        """
        age = args.check_non_negative_int(older_than_secs, "older_than_secs")
        keep = args.check_non_negative_int(keep_rollback_targets, "keep_rollback_targets")
        names = [args.check_name(name)] if name is not None else self.backend.list_names()
        now = utc_now()
        cutoff = seconds_before(now, age)
        expired: list[Expired] = []
        for artifact in names:
            deleted = [
                r
                for r in self.backend.list_versions(artifact)
                if r.is_deleted and r.version is not None
            ]
            if not deleted:
                continue
            kept = self.rollback_targets(artifact, keep)
            for record in sorted(deleted, key=lambda r: r.version or 0):
                number = record.version
                assert number is not None
                if number in kept:
                    continue
                if record.deleted_at is None:
                    if not dry_run:
                        self.backend.date_deletion(artifact, number, now)
                    continue
                if record.deleted_at > cutoff:
                    continue
                if dry_run:
                    expired.append(Expired(record, 0))
                    continue
                freed = self.backend.expire_version(artifact, number, record.deleted_at)
                if freed is not None:
                    expired.append(Expired(record, freed))
        return expired
