"""The engine's alias operations: compare-and-set, history, point-in-time reads, rollback.

Arguments are checked here before the backend is called; the backend writes each change
together with its history entry in one atomic step (see ``stores.base.Backend``). A
:class:`~versioned.exc.RevisionMismatchError` is never retried: the caller asked not to
overwrite someone else's change.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from . import arguments as args
from .acting import current_actor
from .exc import (
    AliasNotFoundError,
    ArtifactNotFoundError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    VersionDeletedError,
)
from .history import OUTSIDE, chain_problems
from .rules import check_expected_revision, not_found
from .stores.base import AliasChange, AliasRecord, Backend, ChangeNote, Targets
from .timestamps import to_storage, utc_now

T = TypeVar("T")

#: Entries fetched per request when the engine walks a whole history.
_PAGE = 500
#: Page sizes and revisions above these mean "all" and "below every revision": stores
#: need not spell larger ones (DynamoDB's Limit is 32-bit, SQLite's integers 64-bit).
_MOST_ENTRIES = 2**31 - 1
_PAST_ALL = 2**62


def _missing(name: str, alias: str, detail: str = "") -> AliasNotFoundError:
    return AliasNotFoundError(
        f"alias {alias!r} of artifact {name!r} not found{detail}", name=name, alias=alias
    )


class AliasOperations:
    """The alias half of :class:`~versioned.engine.Engine` (which supplies both members)."""

    backend: Backend

    def _retry_conflicts(self, step: Callable[[], T]) -> T:
        raise NotImplementedError  # Engine's

    # --- changes ---------------------------------------------------------------------------
    def put_alias(
        self,
        name: str,
        alias: str,
        version: object = None,
        secondary_version: object = None,
        secondary_version_weight: object = None,
        expected_revision: object = None,
        reason: object = None,
    ) -> AliasRecord:
        """Point ``alias`` at a version, optionally splitting traffic with a second one;
        with ``expected_revision``, only if the alias is at that revision (0: absent).

        Returns the record written (its new revision set). Raises ArtifactNotFoundError,
        RevisionMismatchError and the argument errors.
        """
        name = args.check_name(name)
        alias = args.check_alias(alias)
        targets = _check_targets(version, secondary_version, secondary_version_weight)
        expected = args.check_expected_revision(expected_revision)
        note = self._note("set", reason, expected)
        return self._write(name, alias, targets, note)

    def _note(self, action: str, reason: object, expected: int | None) -> ChangeNote:
        checked = args.check_reason(reason)
        # who: the name set by versioned.acting_as (a server's token holder), if any
        who = current_actor() or self.backend.identity()
        return ChangeNote(action, who, checked, expected)

    def _write(self, name: str, alias: str, targets: Targets, note: ChangeNote) -> AliasRecord:
        record = AliasRecord(
            name,
            alias,
            targets.version,
            targets.secondary_version,
            targets.secondary_version_weight,
            utc_now(),
        )
        return self._retry_conflicts(lambda: self.backend.put_alias(record, note))

    def delete_alias(
        self, name: str, alias: str, expected_revision: object = None, reason: object = None
    ) -> None:
        """Remove an alias, recording it; a missing alias is not an error and records
        nothing (with ``expected_revision`` above 0 it is a RevisionMismatchError)."""
        name = args.check_name(name)
        alias = args.check_alias(alias)
        note = self._note("delete", reason, args.check_expected_revision(expected_revision))
        self._retry_conflicts(lambda: self.backend.delete_alias(name, alias, note))

    def rollback_alias(
        self,
        name: str,
        alias: str,
        to_revision: object = None,
        reason: object = None,
        expected_revision: object = None,
    ) -> AliasRecord:
        """Point ``alias`` back at the targets of revision ``to_revision`` (None: the one
        before the current), as a compare-and-set on the current revision.

        Raises AliasNotFoundError (no such alias, nor history), InvalidArgumentError (no
        such earlier revision, or it recorded a delete), VersionDeletedError (a target
        soft-deleted since: restore it first), ArtifactNotFoundError (a target purged),
        RevisionMismatchError (the alias changed while rolling back, or is not at
        ``expected_revision`` when that is given).
        """
        name = args.check_name(name)
        alias = args.check_alias(alias)
        wanted = None if to_revision is None else args.check_revision(to_revision, "to_revision")
        note_reason = args.check_reason(reason)
        caller_expected = args.check_expected_revision(expected_revision)
        current = self.backend.get_alias(name, alias)
        newest = self.backend.alias_history(name, alias, 1, None)
        if current is not None:
            now_at = current.revision
        elif newest:
            # deleted: its delete is the newest entry, or (deleted outside versioned, the
            # newest entry still sets it) the next change records that delete first
            now_at = newest[0].revision + (0 if newest[0].after is None else 1)
        else:
            raise _missing(name, alias)
        # the caller's compare-and-set, before anything else is read or written
        check_expected_revision(name, alias, caller_expected, current, now_at)
        target = wanted if wanted is not None else now_at - 1
        if not 1 <= target < now_at:
            raise InvalidArgumentError(
                f"alias {alias!r} of artifact {name!r} is at revision {now_at}: roll back to "
                f"an earlier revision (1 to {now_at - 1})"
                if now_at > 1
                else f"alias {alias!r} of artifact {name!r} has no earlier revision"
            )
        entry = self._entry(name, alias, target)
        if entry.after is None:
            raise InvalidArgumentError(
                f"revision {target} of alias {alias!r} of artifact {name!r} deleted it: "
                "choose a revision that set it"
            )
        after = entry.after
        for version in _targets_of(after):
            self._require_live(name, alias, target, version)
        expected = current.revision if current is not None else 0
        note = ChangeNote("rollback", self.backend.identity(), note_reason, expected)
        try:
            return self._write(name, alias, after, note)
        except ArtifactNotFoundError:
            for version in _targets_of(after):  # deleted meanwhile: say how to restore
                self._require_live(name, alias, target, version)
            raise

    def _entry(self, name: str, alias: str, revision: int) -> AliasChange:
        found = self.backend.alias_history(name, alias, 1, revision + 1)
        if not found or found[0].revision != revision:
            if not self.backend.alias_history(name, alias, 1, None):
                raise _missing(name, alias, " (purged meanwhile)")
            raise InvalidArgumentError(
                f"the history of alias {alias!r} of artifact {name!r} has no revision "
                f"{revision} (verify_alias_history tells what is wrong)"
            )
        return found[0]

    def _require_live(self, name: str, alias: str, revision: int, version: int | None) -> None:
        record = self.backend.get_version(name, version)
        if record is None:
            raise not_found(name, version)
        if record.is_deleted:
            shown = args.version_to_str(version)
            call = "restore_artifact_version(" + repr(name)
            call += ")" if version is None else f", {version})"
            raise VersionDeletedError(
                f"artifact {name!r} version {shown}, which revision {revision} of alias "
                f"{alias!r} pointed at, is soft-deleted: restore it with {call}, then "
                "roll back again",
                name=name,
                version=shown,
            )

    # --- reads -----------------------------------------------------------------------------
    def get_alias(self, name: str, alias: str, as_of: object = None) -> AliasRecord:
        """The alias record now, or (``as_of``, an aware datetime) what its history says it
        was then. Raises AliasNotFoundError (also when it did not exist at ``as_of``)."""
        name = args.check_name(name)
        alias = args.check_alias(alias)
        if as_of is not None:
            return self._as_of(name, alias, args.check_moment(as_of, "as_of"))
        record = self.backend.get_alias(name, alias)
        if record is None:
            raise _missing(name, alias)
        return record

    def _as_of(self, name: str, alias: str, moment: datetime, looks: int = 3) -> AliasRecord:
        entries = self._walk(name, alias)
        newest = next(entries, None)
        current = self.backend.get_alias(name, alias)
        recorded = newest.revision if newest is not None else 0
        # changed outside versioned since its newest entry (the next change records
        # that): the stored alias, dated by its writer, is the latest answer
        outside = current is not None and current.revision > recorded
        if outside and current is not None and current.update_at <= moment:
            return current
        # gone, though its newest entry says it is there: either a change landed between
        # our two reads (look again), or it was deleted outside versioned, unrecorded yet
        unrecorded_delete = current is None and newest is not None and newest.after is not None
        if (
            unrecorded_delete
            and newest is not None
            and newest.update_at < moment
            and looks > 1
            and self._newest_revision(name, alias) != newest.revision
        ):
            return self._as_of(name, alias, moment, looks - 1)
        # a delete outside versioned leaves no time (its entry is dated when it was
        # noticed): between the entry before it and that, the alias may or may not exist
        undated_delete_next = unrecorded_delete
        for entry in itertools.chain([newest] if newest is not None else [], entries):
            if entry.update_at > moment:
                undated_delete_next = entry.action == OUTSIDE and entry.after is None
                continue
            if entry.after is None:
                break
            if undated_delete_next and entry.update_at < moment:
                raise _missing(
                    name,
                    alias,
                    f" at {to_storage(moment)}: it was deleted outside versioned at a time"
                    f" nobody recorded, after revision {entry.revision}"
                    f" ({to_storage(entry.update_at)}, to version {entry.after.version})",
                )
            after = entry.after
            return AliasRecord(
                name,
                alias,
                after.version,
                after.secondary_version,
                after.secondary_version_weight,
                entry.update_at,
                revision=entry.revision,
            )
        raise _missing(name, alias, f" at {to_storage(moment)} (by its history)")

    def _newest_revision(self, name: str, alias: str) -> int:
        page = self.backend.alias_history(name, alias, 1, None)
        return page[0].revision if page else 0

    def _walk(self, name: str, alias: str) -> Iterator[AliasChange]:
        """Every entry, newest first, a page per backend request."""
        before: int | None = None
        while True:
            page = self.backend.alias_history(name, alias, _PAGE, before)
            yield from page
            # a short page is not the end: a store may return fewer than asked (DynamoDB
            # stops a query at 1 MB); revision 1, or nothing more, is
            if not page or page[-1].revision <= 1:
                return
            before = page[-1].revision

    def list_aliases(self, name: str) -> list[AliasRecord]:
        """Every alias of ``name``, sorted by alias."""
        return self.backend.list_aliases(args.check_name(name))

    def alias_history(
        self, name: str, alias: str, limit: object = 50, before_revision: object = None
    ) -> list[AliasChange]:
        """Up to ``limit`` entries, newest first, below ``before_revision`` (None: from the
        newest). An alias that never existed has none."""
        name = args.check_name(name)
        alias = args.check_alias(alias)
        count = min(args.check_limit(limit), _MOST_ENTRIES)
        before = (
            None
            if before_revision is None
            else min(args.check_revision(before_revision, "before_revision"), _PAST_ALL)
        )
        return self.backend.alias_history(name, alias, count, before)

    def verify_alias_history(self, name: str, alias: str) -> tuple[list[str], int]:
        """The problems of the whole history (see ``history.chain_problems``) and the
        number of entries checked."""
        name = args.check_name(name)
        alias = args.check_alias(alias)
        entries = list(self._walk(name, alias))
        entries.reverse()
        return chain_problems(entries, self.backend.get_alias(name, alias)), len(entries)

    def rollback_targets(self, name: str, keep: int) -> set[int | None]:
        """Every version an alias of ``name`` points at now or pointed at in its ``keep``
        revisions before the current one (what retention must keep). A deleted alias can
        be rolled back too: its current revision is the delete."""
        kept: set[int | None] = set()
        existing = self.backend.list_aliases(name)
        for record in existing:
            kept.update(record.targets())
        if keep == 0:
            return kept
        count = min(keep, _MOST_ENTRIES)
        for record in existing:
            entries = self.backend.alias_history(name, record.alias, count, record.revision)
            kept.update(t for entry in entries for t in _targets_of(entry.after))
        live = {record.alias for record in existing}
        for alias in self.backend.aliases_with_history(name):
            if alias not in live:
                # the newest entry is the delete (or, for a delete made outside versioned,
                # the last state recorded): it and the ``keep`` before it
                entries = self.backend.alias_history(name, alias, count + 1, None)
                kept.update(t for entry in entries for t in _targets_of(entry.after))
        return kept


def _targets_of(targets: Targets | None) -> list[int | None]:
    if targets is None:
        return []
    if targets.secondary_version_weight is None:
        return [targets.version]
    return [targets.version, targets.secondary_version]


def _check_targets(version: object, secondary_version: object, weight: object) -> Targets:
    """The checked targets of a put: the secondary and its weight come together."""
    primary = args.check_version(version)
    if secondary_version is None:
        if weight is not None:
            args.check_weight(weight)
            raise InvalidArgumentError(
                "secondary_version_weight needs a secondary_version to send traffic to"
            )
        return Targets(primary)
    secondary = args.check_version(secondary_version)
    if weight is None:
        raise InvalidArgumentTypeError(
            "secondary_version_weight must be an int when secondary_version is given"
        )
    checked = args.check_weight(weight)
    if secondary == primary:
        shown = args.version_to_str(primary)
        raise InvalidArgumentError(
            f"version {shown!r} and secondary_version {shown!r} cannot be the same"
        )
    return Targets(primary, secondary, checked)
