"""An alias's history on DynamoDB, as pure functions (no requests).

The history of the aliases of artifact ``NAME`` lives in the partition
``__NAME-alias#history`` (``items.history_partition``), where 1.0.1, which reads only
``NAME`` and ``__NAME-alias``, never looks:

- one entry per change, ``sk = "{alias}#{revision:010d}"``, written once (condition
  ``attribute_not_exists``) and never changed;
- a head item per alias, ``sk = "{alias}"``, a copy of the newest entry. It is the one
  fixed key that says where the history ends, so a writer that knows nothing can read
  the alias, its head and its targets in one ``BatchGetItem``; and it is what a change
  conditions on when the alias item cannot tell (deleted, or rewritten by 1.0.1).

Every change writes the alias item (or deletes it), the head and its entries in one
``TransactWriteItems`` (:func:`transaction` builds it); each of those carries a condition
on exactly the state the change was planned from (:func:`alias_condition`,
:func:`head_condition`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...arguments import LATEST, version_to_key
from ...timestamps import from_storage, to_storage
from ..base import AliasChange, AliasRecord, Targets
from .items import (
    EMPTY,
    FALSE,
    alias_partition,
    decode_alias,
    encode_alias,
    history_partition,
    integer,
    item_key,
    number_of,
    text,
)

#: The attributes 1.0.1 writes on an alias item besides its key.
LEGACY_ALIAS_ATTRIBUTES = ("update_at", "version", "secondary_version", "secondary_version_weight")

#: The highest revision a sort key can spell.
MAX_REVISION = 10**10 - 1


def entry_sort_key(alias: str, revision: int) -> str:
    """The sort key of one history entry (revisions sort as text: zero-padded)."""
    return f"{alias}#{revision:010d}"


def head_key(name: str, alias: str) -> dict[str, Any]:
    """The key of an alias's head item."""
    return item_key(history_partition(name), alias)


def encode_targets(targets: Targets) -> dict[str, Any]:
    """Targets as a map, versions spelled as on alias items (``LATEST``, ``000005``)."""
    fields: dict[str, Any] = {"version": {"S": version_to_key(targets.version)}}
    if targets.secondary_version_weight is not None:
        fields["secondary_version"] = {"S": version_to_key(targets.secondary_version)}
        fields["secondary_version_weight"] = {"N": str(targets.secondary_version_weight)}
    return {"M": fields}


def decode_targets(value: dict[str, Any] | None) -> Targets | None:
    """The targets a stored map spells (None when absent)."""
    if value is None:
        return None
    fields = value["M"]
    if "secondary_version" not in fields:
        return Targets(number_of(fields["version"]["S"]))
    return Targets(
        number_of(fields["version"]["S"]),
        number_of(fields["secondary_version"]["S"]),
        int(fields["secondary_version_weight"]["N"]),
    )


def encode_entry(entry: AliasChange, sort_key: str | None = None) -> dict[str, Any]:
    """An entry as an item (``sort_key``: the head's, or by default the entry's own)."""
    item: dict[str, Any] = {
        **item_key(
            history_partition(entry.name),
            sort_key or entry_sort_key(entry.alias, entry.revision),
        ),
        "alias": {"S": entry.alias},
        "revision": {"N": str(entry.revision)},
        "update_at": {"S": to_storage(entry.update_at)},
        "action": {"S": entry.action},
        "who": {"S": entry.who},
        "previous_sha256": {"S": entry.previous_sha256},
        "sha256": {"S": entry.sha256},
    }
    if entry.reason is not None:
        item["reason"] = {"S": entry.reason}
    if entry.before is not None:
        item["before"] = encode_targets(entry.before)
    if entry.after is not None:
        item["after"] = encode_targets(entry.after)
    return item


def decode_entry(name: str, item: dict[str, Any]) -> AliasChange:
    """An entry (or head) item as a history entry."""
    return AliasChange(
        name=name,
        alias=item["alias"]["S"],
        revision=int(item["revision"]["N"]),
        update_at=from_storage(item["update_at"]["S"]),
        action=item["action"]["S"],
        who=item["who"]["S"],
        reason=text(item, "reason"),
        before=decode_targets(item.get("before")),
        after=decode_targets(item.get("after")),
        previous_sha256=item["previous_sha256"]["S"],
        sha256=item["sha256"]["S"],
    )


@dataclass(frozen=True)
class AliasState:
    """What a change is planned from: the alias item as stored (None: absent) and the
    newest history entry (None: no history).

    The head may be a stand-in taken from an alias item that carries a revision: that
    item was written together with its newest entry, so the entry's revision, sha256
    and ``after`` are the item's; its other fields are not used.
    """

    name: str
    alias: str
    item: dict[str, Any] | None
    head: AliasChange | None

    @property
    def current(self) -> AliasRecord | None:
        """The alias as stored, revision 0 when written without history."""
        return None if self.item is None else decode_alias(self.name, self.item)

    @property
    def revision(self) -> int:
        """The revision a compare-and-set compares with (``chain.current_revision``)."""
        if self.item is None:
            return 0
        stored = integer(self.item, "revision")
        if stored:
            return stored
        return (self.head.revision if self.head is not None else 0) + 1

    def shown(self) -> AliasRecord | None:
        """The alias as readers see it: with the revision of :attr:`revision`."""
        current = self.current
        if current is None or current.revision:
            return current
        return AliasRecord(**{**current.__dict__, "revision": self.revision})


#: ``who`` of a stand-in head (no real entry has an empty ``who``).
STAND_IN_WHO = ""


def stand_in_head(name: str, item: dict[str, Any]) -> AliasChange | None:
    """The newest entry as far as an alias item with a revision tells it, else None."""
    revision = integer(item, "revision")
    if not revision:
        return None
    record = decode_alias(name, item)
    return AliasChange(
        name=name,
        alias=record.alias,
        revision=revision,
        update_at=record.update_at,
        action="set",
        who=STAND_IN_WHO,
        reason=None,
        before=None,
        after=record.state,
        previous_sha256="",
        sha256=text(item, "history_head") or "",
    )


def alias_condition(item: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """A condition (and its values) that holds only while the alias item is ``item``.

    An item with a revision is identified by it and its ``history_head`` (revisions
    restart after a purge; the head's hash does not repeat). One written without history
    is matched attribute by attribute, so the "outside" entry recorded for it is true.
    """
    if item is None:
        return "attribute_not_exists(pk)", {}
    if integer(item, "revision"):
        return "revision = :a_rev AND history_head = :a_head", {
            ":a_rev": item["revision"],
            ":a_head": item.get("history_head", {"S": ""}),
        }
    parts = ["attribute_exists(pk)", "attribute_not_exists(revision)"]
    values: dict[str, Any] = {}
    for index, attribute in enumerate(LEGACY_ALIAS_ATTRIBUTES):
        if attribute in item:
            parts.append(f"{attribute} = :a_{index}")
            values[f":a_{index}"] = item[attribute]
        else:
            parts.append(f"attribute_not_exists({attribute})")
    return " AND ".join(parts), values


def head_condition(head: AliasChange | None) -> tuple[str, dict[str, Any]]:
    """A condition (and its values) that holds only while the head item is ``head``."""
    if head is None:
        return "attribute_not_exists(pk)", {}
    return "revision = :h_rev AND sha256 = :h_sha", {
        ":h_rev": {"N": str(head.revision)},
        ":h_sha": {"S": head.sha256},
    }


#: A target version's item is fit to be pointed at.
_LIVE = (
    "attribute_exists(sha256) AND sha256 <> :empty AND is_deleted = :false "
    "AND attribute_not_exists(pending) AND attribute_not_exists(purging)"
)


def transaction(
    table: str,
    state: AliasState,
    entries: list[AliasChange],
    written: AliasRecord | None,
    hashes: dict[int, str],
) -> tuple[list[dict[str, Any]], list[tuple[str, int | None]]]:
    """The items of the transaction that makes one change planned from ``state``:
    ``entries`` (oldest first) and the alias as ``written`` (None: deleted), its
    published targets' ``hashes``; and what each item is ("alias", "head", "entry",
    "target" or "fence", with the revision or version it is about)."""
    name, alias = state.name, state.alias
    newest = entries[-1]
    actions: list[dict[str, Any]] = []
    kinds: list[tuple[str, int | None]] = []

    def add(kind: tuple[str, int | None], verb: str, body: dict[str, Any]) -> None:
        body["TableName"] = table
        body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        actions.append({verb: body})
        kinds.append(kind)

    condition, values = alias_condition(state.item)
    if written is None:
        body: dict[str, Any] = {"Key": item_key(alias_partition(name), alias)}
        add(("alias", None), "Delete", body | _when(condition, values))
    else:
        body = {"Item": encode_alias(written, newest.sha256)}
        add(("alias", None), "Put", body | _when(condition, values))
    condition, values = head_condition(state.head)
    add(("head", None), "Put", {"Item": encode_entry(newest, alias)} | _when(condition, values))
    for entry in entries:
        add(
            ("entry", entry.revision),
            "Put",
            {"Item": encode_entry(entry), "ConditionExpression": "attribute_not_exists(pk)"},
        )
    targets = [] if written is None else written.targets()
    for target in targets:
        condition = _LIVE
        values = {":empty": EMPTY, ":false": FALSE, ":zero": {"N": "0"}, ":one": {"N": "1"}}
        if target is not None:
            # the hash the alias item will carry (maybe remembered): still the version's
            condition += " AND sha256 = :sha"
            values[":sha"] = {"S": hashes[target]}
        add(
            ("target", target),
            "Update",
            {
                "Key": item_key(name, version_to_key(target)),
                "UpdateExpression": ("SET alias_guard = if_not_exists(alias_guard, :zero) + :one"),
            }
            | _when(condition, values),
        )
    if None not in targets:
        # a purge fences the artifact on LATEST's item (a LATEST target checks it itself)
        add(
            ("fence", None),
            "ConditionCheck",
            {
                "Key": item_key(name, LATEST),
                "ConditionExpression": "attribute_not_exists(purging)",
            },
        )
    return actions, kinds


def _when(condition: str, values: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"ConditionExpression": condition}
    if values:
        body["ExpressionAttributeValues"] = values
    return body
