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
from .chain import OUTSIDE, OUTSIDE_WHO
from .exc import (
    AliasNotFoundError,
    ArtifactNotFoundError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    VersionDeletedError,
)
from .history import chain_problems
from .rollback_plan import effective_states, rollback_target, successive_targets
from .rollback_plan import versions_of as _targets_of
from .rules import check_expected_revision, describe_targets, not_found
from .stores.base import AliasChange, AliasRecord, Backend, ChangeNote, Targets
from .timestamps import to_storage, utc_now

T = TypeVar("T")

#: Entries fetched per request when the engine walks a whole history.
_PAGE = 500
#: Page sizes and revisions above these mean "all" and "below every revision": stores
#: need not spell larger ones (DynamoDB's Limit is 32-bit, SQLite's integers 64-bit).
_MOST_ENTRIES = 2**31 - 1
_PAST_ALL = 2**62
#: The most entries of one alias retention reads to find what rollbacks would restore
#: (a rollback target further back is not kept; rolling back to it then asks to restore).
_RULE_SCAN = 1000
#: Times verification reads a history that keeps changing before it reports what it saw.
_VERIFY_LOOKS = 5


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
        """Point ``alias`` back, as a compare-and-set, and record it as a rollback.

        Without ``to_revision`` the versions the current state introduced are taken out
        of traffic: the alias goes to the newest earlier state that served none of them,
        reading earlier rollbacks as the states they restored, so repeated rollbacks keep
        walking back, never forward (the rule is in ``rollback_plan``). With it, to
        exactly the targets that revision set. ``expected_revision``: only if the alias
        is at that revision now (a deleted alias: its delete's revision, or 0).

        Returns the record written: its new revision and the targets it went to. Raises
        AliasNotFoundError (no such alias, nor history), InvalidArgumentError (nothing
        earlier to go to, no such revision, or it recorded a delete),
        VersionDeletedError (a target soft-deleted since: restore it first),
        ArtifactNotFoundError (a target purged), RevisionMismatchError (not at
        ``expected_revision``, or changed while rolling back; nothing is written).
        """
        name = args.check_name(name)
        alias = args.check_alias(alias)
        wanted = None if to_revision is None else args.check_revision(to_revision, "to_revision")
        args.check_reason(reason)
        expected = args.check_expected_revision(expected_revision)
        current, newest, entries = self._alias_and_history(name, alias)
        if current is None and newest is None:
            raise _missing(name, alias)
        now_at = _rollback_start(current, newest)
        if expected is not None and not (expected == now_at or (current is None and expected == 0)):
            check_expected_revision(name, alias, expected, current, now_at)
        if wanted is None:
            entry = self._target_by_rule(name, alias, current, newest, entries, now_at)
        else:
            entry = self._exact_target(name, alias, wanted, now_at)
        after = entry.after
        assert after is not None
        for version in _targets_of(after):
            self._require_live(name, alias, entry.revision, version)
        note = self._note("rollback", reason, current.revision if current is not None else 0)
        try:
            return self._write(name, alias, after, note)
        except ArtifactNotFoundError:
            for version in _targets_of(after):  # deleted meanwhile: say how to restore
                self._require_live(name, alias, entry.revision, version)
            raise

    def _alias_and_history(
        self, name: str, alias: str
    ) -> tuple[AliasRecord | None, AliasChange | None, Iterator[AliasChange]]:
        """The alias, its newest entry and the older ones (lazily), read so that they
        agree: a change (the history is ahead of the alias) or a purge (behind it, by
        more than the one entry a change made outside versioned is short) landing
        between the two reads makes them read again."""
        for _ in range(_VERIFY_LOOKS):
            current = self.backend.get_alias(name, alias)
            entries = self._walk(name, alias)
            newest = next(entries, None)
            # (an alias read as absent is checked by the write's compare-and-set on 0)
            recorded = newest.revision if newest is not None else 0
            if current is None or current.revision - 1 <= recorded <= current.revision:
                break
        return current, newest, entries

    def _target_by_rule(
        self,
        name: str,
        alias: str,
        current: AliasRecord | None,
        newest: AliasChange | None,
        older: Iterator[AliasChange],
        now_at: int,
    ) -> AliasChange:
        """The entry ``rollback_plan.rollback_target`` picks, or InvalidArgumentError."""
        history = itertools.chain([newest] if newest is not None else [], older)
        unrecorded = _unrecorded_state(name, alias, current, newest, now_at)
        if unrecorded is not None:
            history = itertools.chain([unrecorded], history)
        found = rollback_target(effective_states(history))
        if found is None:
            state = "deleted" if current is None else describe_targets(current.state)
            raise InvalidArgumentError(
                f"alias {alias!r} of artifact {name!r} (revision {now_at}, {state}) has no "
                "earlier state to roll back to that serves none of its current versions: "
                "nothing to roll back (to_revision / --to N goes to a revision exactly)"
            )
        return found

    def _exact_target(self, name: str, alias: str, wanted: int, now_at: int) -> AliasChange:
        if not 1 <= wanted < now_at:
            raise InvalidArgumentError(
                f"alias {alias!r} of artifact {name!r} is at revision {now_at}: roll back to "
                f"an earlier revision (1 to {now_at - 1})"
                if now_at > 1
                else f"alias {alias!r} of artifact {name!r} has no earlier revision"
            )
        entry = self._entry(name, alias, wanted)
        if entry.after is None:
            raise InvalidArgumentError(
                f"revision {wanted} of alias {alias!r} of artifact {name!r} deleted it: "
                "choose a revision that set it"
            )
        return entry

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
        # a store may answer fewer than asked (DynamoDB stops a query at 1 MB): ask again
        # below the last entry until the page is full or revision 1 is in it
        found = self.backend.alias_history(name, alias, count, before)
        while found and len(found) < count and found[-1].revision > 1:
            more = self.backend.alias_history(name, alias, count - len(found), found[-1].revision)
            if not more:
                break
            found += more
        return found

    def verify_alias_history(self, name: str, alias: str) -> tuple[list[str], int]:
        """The problems of the whole history (see ``history.chain_problems``: every link,
        and that the newest entry is the one the store's head marker and the alias
        record name) and the number of entries checked.

        The head marker is read before and after the entries: a change landing in
        between (it moves the marker) makes it read everything again, so a concurrent
        change is never reported as tampering.
        """
        name = args.check_name(name)
        alias = args.check_alias(alias)
        for _ in range(_VERIFY_LOOKS):
            marks = self.backend.chain_marks(name, alias)
            current = self.backend.get_alias(name, alias)
            entries = list(self._walk(name, alias))
            if self.backend.chain_marks(name, alias) == marks:
                break
        entries.reverse()
        return chain_problems(entries, current, marks), len(entries)

    def rollback_targets(self, name: str, keep: int) -> set[int | None]:
        """Every version retention must keep for the aliases of ``name``: what each
        points at now, what it pointed at in its ``keep`` revisions before the current
        one, and what ``keep`` rollbacks in a row would restore (the rule of
        ``rollback_plan``, which may reach further back). A deleted alias counts too: it
        can be rolled back."""
        kept: set[int | None] = set()
        existing = {record.alias: record for record in self.backend.list_aliases(name)}
        for record in existing.values():
            kept.update(record.targets())
        if keep == 0:
            return kept
        count = min(keep, _MOST_ENTRIES)
        for alias in sorted(set(existing) | set(self.backend.aliases_with_history(name))):
            kept.update(self._kept_for(name, alias, existing.get(alias), count))
        return kept

    def _kept_for(
        self, name: str, alias: str, current: AliasRecord | None, count: int
    ) -> set[int | None]:
        """The versions of one alias's ``count`` previous revisions and ``count``
        successive rollbacks, reading its history once and only as far as needed."""
        read: list[AliasChange] = []

        def reading() -> Iterator[AliasChange]:
            # bounded: an alias set to the same targets over and over (a dev alias on
            # LATEST) must not make every retention run read its whole history
            for entry in itertools.islice(self._walk(name, alias), _RULE_SCAN):
                read.append(entry)
                yield entry

        history = reading()
        newest = next(history, None)
        if newest is None:
            return set()
        now_at = _rollback_start(current, newest)
        states = itertools.chain([newest], history)
        unrecorded = _unrecorded_state(name, alias, current, newest, now_at)
        if unrecorded is not None:
            states = itertools.chain([unrecorded], states)
        restored = successive_targets(effective_states(states), count)
        while len(read) <= count and next(history, None) is not None:
            pass  # the previous revisions may lie deeper than the rule read
        previous = [entry for entry in read if entry.revision < now_at][:count]
        return {t for entry in restored + previous for t in _targets_of(entry.after)}


def _rollback_start(current: AliasRecord | None, newest: AliasChange | None) -> int:
    """The revision a rollback starts from: the alias's; for a deleted alias its delete's
    (or, deleted outside versioned and not yet recorded, the one that will record it)."""
    if current is not None:
        return current.revision
    assert newest is not None
    return newest.revision + (0 if newest.after is None else 1)


def _unrecorded_state(
    name: str, alias: str, current: AliasRecord | None, newest: AliasChange | None, now_at: int
) -> AliasChange | None:
    """The state a change made outside versioned left and no entry records yet (the
    next change records it), as a stand-in entry at ``now_at``; None when recorded."""
    if now_at <= (newest.revision if newest is not None else 0):
        return None
    return AliasChange(
        name,
        alias,
        now_at,
        current.update_at if current is not None else utc_now(),
        OUTSIDE,
        OUTSIDE_WHO,
        None,
        newest.after if newest is not None else None,
        None if current is None else current.state,
        newest.sha256 if newest is not None else "",
        "",
    )


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
