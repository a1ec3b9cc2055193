"""Aliases on S3 + DynamoDB: revisions, compare-and-set and history in one transaction.

A change (set, rollback, delete) is one ``TransactWriteItems`` holding the alias item's
write, the head item's write and the new history entries (see ``alias_items``), an update
of each target version conditioned on it being live (bumping its ``alias_guard``, so a
racing soft delete sees it), and the check that no purge fenced the artifact. Every one of
them is conditioned on the state the change was planned from, so it lands whole or not
at all, and never on a state other than the one its entries describe.

What the change is planned from comes, cheapest first, from what this repository object
last saw (its own writes and reads: a cache of alias states and of published versions'
hashes), from a guess ("no such alias yet") or from one ``BatchGetItem`` of the alias,
its head and its targets. Nothing cached is trusted: the conditions re-check every fact,
and a cancelled transaction's ``ALL_OLD`` answers tell the state that actually holds, so
a stale cache costs one more request, never a wrong write. Without a cache a change is
two requests; with one, one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ...arguments import version_to_key
from ...chain import head_problem, plan_change, untrusted_head
from ...exc import BackendError, ConcurrentWriteError
from ...rules import being_purged, check_expected_revision, not_found
from ...timestamps import utc_now
from ..base import AliasChange, AliasRecord, ChainMarks, ChangeNote, VersionRecord
from .alias_items import (
    MAX_REVISION,
    STAND_IN_WHO,
    AliasState,
    decode_entry,
    entry_sort_key,
    head_key,
    stand_in_head,
    transaction,
)
from .calls import Refused, boto3_session_of, call, current_session
from .items import (
    alias_partition,
    encode_alias,
    history_partition,
    integer,
    item_key,
    names_bytes,
    text,
)
from .place import S3Place

K = TypeVar("K")
V = TypeVar("V")

#: Transactions one change sends before giving up with ConcurrentWriteError (the engine
#: then retries the whole change a few times).
_ATTEMPTS = 4
#: The most keys one BatchGetItem may ask for.
_BATCH_GET_KEYS = 100
#: ``who`` when STS will not say who we are.
UNKNOWN_WHO = "unknown"
#: STS refusals that asking again will not change (anything else may pass).
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


class _Bounded(Generic[K, V]):
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, keep: Any) -> None:
        """Forget every key for which ``keep(key)`` is false."""
        with self._lock:
            for key in [k for k in self._items if not keep(k)]:
                del self._items[key]


class S3Aliases:
    """The alias operations of one repository, with what it last saw of each alias."""

    def __init__(self, place: S3Place, cache_size: int = 4096) -> None:
        self.place = place
        self._states: _Bounded[tuple[str, str], AliasState] = _Bounded(cache_size)
        #: sha256 of published versions (immutable while they exist: a condition checks)
        self._hashes: _Bounded[tuple[str, int], str] = _Bounded(cache_size * 4)
        self._who: dict[int, tuple[object | None, str]] = {}
        self._who_lock = threading.Lock()

    # --- what this object saw -----------------------------------------------------------
    def remember(self, record: VersionRecord | None) -> None:
        """Note a published version's sha256 (``put_alias`` can then skip reading it)."""
        if record is not None and record.version is not None and not record.is_deleted:
            self._hashes.put((record.name, record.version), record.sha256)

    def forget(self, name: str) -> None:
        """Drop everything remembered of ``name`` (after a purge)."""
        self._states.drop(lambda key: key[0] != name)
        self._hashes.drop(lambda key: key[0] != name)

    def _keep(self, state: AliasState) -> AliasState:
        self._states.put((state.name, state.alias), state)
        current = state.current
        if current is not None:
            for version, sha256 in (
                (current.version, current.version_sha256),
                (current.secondary_version, current.secondary_version_sha256),
            ):
                if version is not None and sha256:
                    self._hashes.put((state.name, version), sha256)
        return state

    # --- who --------------------------------------------------------------------------------
    def identity(self) -> str:
        """The caller's ARN from STS ``GetCallerIdentity``, asked once per session."""
        session = current_session.get()
        found = self._who.get(id(session))
        if found is not None and found[0] is session:
            return found[1]
        clients = self.place.clients
        try:
            sts = boto3_session_of(session, clients.region).client("sts", config=clients.config)
            who = str(sts.get_caller_identity()["Arn"])
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code not in _DENIED:
                return UNKNOWN_WHO  # throttled, expired credentials...: ask again next time
            who = UNKNOWN_WHO  # no permission: it will keep refusing
        except BotoCoreError:
            return UNKNOWN_WHO  # unreachable for now: ask again next time
        with self._who_lock:
            self._who[id(session)] = (session, who)
        return who

    # --- reads ------------------------------------------------------------------------------
    def get(self, name: str, alias: str) -> AliasRecord | None:
        """The alias (one GetItem; two for an alias written without history)."""
        item = self.place.get_item(alias_partition(name), alias)
        head = None if item is None else stand_in_head(name, item)
        if item is not None and head is None:
            head = self._head(name, alias)
        return self._keep(AliasState(name, alias, item, head)).shown()

    def _head(self, name: str, alias: str) -> AliasChange | None:
        found = self.place.ddb("get_item", Key=head_key(name, alias), ConsistentRead=True)
        item = found.get("Item")
        return None if item is None else decode_entry(name, item)

    def list_all(self, name: str) -> list[AliasRecord]:
        """Every alias of ``name`` sorted (one Query a page, plus one BatchGetItem of the
        heads of aliases written without history, if any)."""
        items = list(self.place.query_all(alias_partition(name)))
        outside = [i["sk"]["S"] for i in items if stand_in_head(name, i) is None]
        heads = self._batch_get([head_key(name, a) for a in outside]) if outside else {}
        records: list[AliasRecord] = []
        for item in items:
            alias = item["sk"]["S"]
            found = heads.get((history_partition(name), alias))
            head = stand_in_head(name, item) or (
                None if found is None else decode_entry(name, found)
            )
            shown = self._keep(AliasState(name, alias, item, head)).shown()
            assert shown is not None
            records.append(shown)
        return sorted(records, key=lambda r: r.alias)

    def history(
        self, name: str, alias: str, limit: int, before_revision: int | None
    ) -> list[AliasChange]:
        """Up to ``limit`` entries below ``before_revision``, newest first: one Query."""
        highest = MAX_REVISION if before_revision is None else before_revision - 1
        if highest < 1:
            return []
        page = self.place.ddb(
            "query",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": history_partition(name)},
                ":low": {"S": entry_sort_key(alias, 1)},
                ":high": {"S": entry_sort_key(alias, min(highest, MAX_REVISION))},
            },
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        return [decode_entry(name, item) for item in page.get("Items", [])]

    def chain_marks(self, name: str, alias: str) -> ChainMarks:
        """The head item's revision and hash, and the alias item's (one BatchGetItem)."""
        found = self._batch_get([item_key(alias_partition(name), alias), head_key(name, alias)])
        item = found.get((alias_partition(name), alias))
        head = found.get((history_partition(name), alias))
        return ChainMarks(
            head_revision=None if head is None else integer(head, "revision"),
            head_sha256=None if head is None else text(head, "sha256"),
            alias_revision=None if item is None else integer(item, "revision") or 0,
            alias_head_sha256=None if item is None else text(item, "history_head"),
        )

    def with_history(self, name: str) -> list[str]:
        """Every alias of ``name`` with a head item in the history partition (deleted
        aliases included), sorted: one Query a page of keys."""
        items = self.place.query_all(history_partition(name), ProjectionExpression="sk")
        # entries are ALIAS#REVISION; the head item's key is the bare alias
        return sorted(item["sk"]["S"] for item in items if "#" not in item["sk"]["S"])

    def _batch_get(self, keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The items of ``keys`` that exist, by (pk, sk): one request per 100 keys (what
        BatchGetItem takes) unless throttled."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        unique = list({(k["pk"]["S"], k["sk"]["S"]): k for k in keys}.values())
        for start in range(0, len(unique), _BATCH_GET_KEYS):
            chunk = unique[start : start + _BATCH_GET_KEYS]
            request: dict[str, Any] = {self.place.table: {"Keys": chunk, "ConsistentRead": True}}
            while request:
                answer = call(self.place.clients.dynamodb, "batch_get_item", RequestItems=request)
                for item in answer.get("Responses", {}).get(self.place.table, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = item
                request = answer.get("UnprocessedKeys") or {}
        return found

    def _read(
        self, name: str, alias: str, versions: Iterable[int]
    ) -> tuple[AliasState, dict[int, dict[str, Any] | None]]:
        """The alias, its head and the items of ``versions``, in one BatchGetItem."""
        numbers = list(versions)
        keys = [item_key(alias_partition(name), alias), head_key(name, alias)]
        keys += [item_key(name, version_to_key(v)) for v in numbers]
        found = self._batch_get(keys)
        item = found.get((alias_partition(name), alias))
        head_item = found.get((history_partition(name), alias))
        head = None if head_item is None else decode_entry(name, head_item)
        state = self._keep(AliasState(name, alias, item, head))
        return state, {v: found.get((name, version_to_key(v))) for v in numbers}

    # --- changes ----------------------------------------------------------------------------
    def put(self, record: AliasRecord, note: ChangeNote) -> AliasRecord:
        """Write the alias and its entries. Raises ArtifactNotFoundError (the first target
        not live), RevisionMismatchError, ConcurrentWriteError."""
        name, alias = record.name, record.alias
        numbered = [t for t in record.targets() if t is not None]
        hashes = {t: self._hashes.get((name, t)) for t in numbered}
        unknown = [t for t, sha256 in hashes.items() if sha256 is None]
        state = self._states.get((name, alias))
        if unknown or _must_confirm(state, note.expected_revision):
            state, items = self._read(name, alias, unknown)
            for target in record.targets():
                if target in items:
                    found = items[target]
                    if found is None or not _live(found):
                        raise not_found(name, target)
                    hashes[target] = text(found, "sha256")
        elif state is None:
            state = AliasState(name, alias, None, None)  # a guess the transaction checks
        written = self._change(state, record, note, {t: h or "" for t, h in hashes.items()})
        assert written is not None
        return written

    def delete(self, name: str, alias: str, note: ChangeNote) -> AliasRecord | None:
        """Remove the alias and record it; None when there was none (nothing written).
        Raises RevisionMismatchError, ConcurrentWriteError."""
        state = self._states.get((name, alias))
        if state is None or state.item is None or _must_confirm(state, note.expected_revision):
            state, _ = self._read(name, alias, [])  # "absent" must be seen, not remembered
        return self._change(state, None, note, {})

    def _change(
        self,
        state: AliasState,
        record: AliasRecord | None,
        note: ChangeNote,
        hashes: dict[int, str],
    ) -> AliasRecord | None:
        """Plan from ``state``, write in one transaction, and re-plan from what a refusal
        says holds. ``record`` None: a delete. Returns the record written (a put) or
        removed (a delete)."""
        name, alias = state.name, state.alias
        for attempt in range(_ATTEMPTS):
            check_expected_revision(
                name, alias, note.expected_revision, state.shown(), state.revision
            )
            if record is None and state.item is None:
                return None
            problem = _head_problem(state)
            if problem is not None:
                raise untrusted_head(name, alias, problem)
            # A first plan is dated when the engine made the change, so that sending the
            # same change again (after an answer lost past botocore's retries) plans the
            # same entry and recognises it as its own if it landed; a plan made again
            # after a refusal is dated now. Either way plan_change dates it after the
            # entry it follows, so times grow with the revision.
            when = record.update_at if record is not None and attempt == 0 else utc_now()
            after = None if record is None else record.state
            entries = plan_change(name, alias, state.current, state.head, after, note, when)
            newest = entries[-1]
            written = None
            if record is not None:
                written = AliasRecord(
                    **{
                        **record.__dict__,
                        "update_at": newest.update_at,
                        "revision": newest.revision,
                        "version_sha256": _hash_of(record.version, hashes),
                        "secondary_version_sha256": (
                            _hash_of(record.secondary_version, hashes)
                            if record.has_secondary
                            else None
                        ),
                    }
                )
            actions, kinds = transaction(self.place.table, state, entries, written, hashes)
            try:
                self.place.transact(actions)
            except Refused as refused:
                learned = self._learn(refused, kinds, state, newest, hashes)
                if learned is not None:
                    state = learned
                    continue
                # else: our own transaction landed, its answer was lost (see _learn)
            item = None if written is None else encode_alias(written, newest.sha256)
            self._keep(AliasState(name, alias, item, newest))
            return written if record is not None else state.shown()
        raise ConcurrentWriteError(
            f"alias {alias!r} of {name!r} kept changing during the write; try again"
        )

    def _learn(
        self,
        refused: Refused,
        kinds: list[tuple[str, int | None]],
        state: AliasState,
        newest: AliasChange,
        hashes: dict[int, str],
    ) -> AliasState | None:
        """What a cancelled transaction tells: the state to plan from next, or None when
        the transaction was our own, already applied (its answer was lost and botocore
        sent it again: our newest entry is there, and entries are written only with
        their change). Raises ArtifactNotFoundError for a target not live,
        ConcurrentWriteError for a conflict with another transaction in flight."""
        reasons: list[dict[str, Any]] = refused.response.get("CancellationReasons", [])
        name = state.name
        codes = [str(r.get("Code", "None")) for r in reasons]
        if len(codes) != len(kinds) or set(codes) - {"None", "ConditionalCheckFailed"}:
            raise ConcurrentWriteError(
                f"alias {state.alias!r} of {name!r}: the transaction was cancelled "
                f"({', '.join(codes)})"
            ) from refused
        failed = {kinds[i]: reasons[i].get("Item") for i, c in enumerate(codes) if c != "None"}
        own = failed.get(("entry", newest.revision))
        if own is not None and text(own, "sha256") == newest.sha256:
            return None
        for (kind, target), found in failed.items():
            if kind == "fence":  # a purge is under way
                if newest.after is None:  # a delete: the purge removes the alias itself
                    raise being_purged(name) from refused
                raise not_found(name, None) from refused
            if kind != "target":
                continue
            if found is None or not _live(found):
                raise not_found(name, target) from refused
            assert target is not None
            hashes[target] = text(found, "sha256") or ""
            self._hashes.put((name, target), hashes[target])
        item, head = state.item, state.head
        if ("alias", None) in failed:
            item = failed[("alias", None)]
        if ("head", None) in failed:
            found = failed[("head", None)]
            head = None if found is None else decode_entry(name, found)
        if not any(k[0] in ("alias", "head", "target") for k in failed):
            raise BackendError(
                f"the history of alias {state.alias!r} of {name!r} has entries past its "
                "head item (changed out of band?): verify_alias_history tells more"
            ) from refused
        return self._keep(AliasState(name, state.alias, item, head))


def _head_problem(state: AliasState) -> str | None:
    """Why ``state``'s head must not be built upon (see ``chain.head_problem``), or
    None. A head taken from the alias item itself (a stand-in) has nothing to compare
    with here: the transaction's condition on the head item checks it, and a refusal
    brings the real head back to be checked."""
    head = state.head
    if head is None or head.who == STAND_IN_WHO:
        return None
    item = state.item
    marks = ChainMarks(
        head_revision=head.revision,
        head_sha256=head.sha256,
        alias_revision=None if item is None else integer(item, "revision") or 0,
        alias_head_sha256=None if item is None else text(item, "history_head"),
    )
    return head_problem(head, marks)


def _must_confirm(state: AliasState | None, expected: int | None) -> bool:
    """True when a compare-and-set would be refused on a remembered state alone (only a
    state just read may refuse it), or when nothing is remembered to compare with."""
    if expected is None:
        return False
    if state is None:
        return expected != 0
    return state.revision != expected


def _live(item: dict[str, Any]) -> bool:
    return names_bytes(item) and not item.get("is_deleted", {}).get("BOOL", False)


def _hash_of(version: int | None, hashes: dict[int, str]) -> str | None:
    return None if version is None else hashes.get(version) or None
