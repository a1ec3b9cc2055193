"""The alias-history invariant on raw S3 + DynamoDB storage, read with plain boto3.

For every alias of an artifact (storage-format.md, "Alias history"): its entries in
``__NAME-alias#history`` run 1..N without gaps, each hashes (``chain.entry_sha256``) to
its ``sha256`` and names the one before; the head item is a copy of entry N; an alias
item written by this package has revision N, ``history_head`` = entry N's sha256 and
entry N's targets; an alias item with no revision (written outside, by 1.0.1) is
allowed, and the next change records it; a missing alias item with a history ends in a
delete, unless 1.0.1 deleted it (``outside_ok``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tests.invariants import query_partition
from versioned.chain import entry_sha256
from versioned.stores.base import Targets


def _version(text: str) -> int | None:
    return None if text == "LATEST" else int(text)


def _targets(value: dict[str, Any] | None) -> Targets | None:
    if value is None:
        return None
    fields = value["M"]
    if "secondary_version" not in fields:
        return Targets(_version(fields["version"]["S"]))
    return Targets(
        _version(fields["version"]["S"]),
        _version(fields["secondary_version"]["S"]),
        int(fields["secondary_version_weight"]["N"]),
    )


def _item_targets(item: dict[str, Any]) -> Targets:
    if "secondary_version" not in item:
        return Targets(_version(item["version"]["S"]))
    return Targets(
        _version(item["version"]["S"]),
        _version(item["secondary_version"]["S"]),
        int(item["secondary_version_weight"]["N"]),
    )


def _recomputed(name: str, entry: dict[str, Any]) -> str:
    return entry_sha256(
        name=name,
        alias=entry["alias"]["S"],
        revision=int(entry["revision"]["N"]),
        update_at=entry["update_at"]["S"],
        action=entry["action"]["S"],
        who=entry["who"]["S"],
        reason=entry.get("reason", {}).get("S"),
        before=_targets(entry.get("before")),
        after=_targets(entry.get("after")),
        previous_sha256=entry["previous_sha256"]["S"],
    )


def history_problems(
    dynamodb: Any, table: str, name: str, *, outside_ok: bool = False
) -> list[str]:
    """Everything wrong with the history of ``name``'s aliases, one line each."""
    problems: list[str] = []
    aliases = {i["sk"]["S"]: i for i in query_partition(dynamodb, table, f"__{name}-alias")}
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    heads: dict[str, dict[str, Any]] = {}
    for item in query_partition(dynamodb, table, f"__{name}-alias#history"):
        alias, sep, _ = item["sk"]["S"].partition("#")
        if sep:
            entries[alias].append(item)
        else:
            heads[alias] = item
    for alias in sorted(set(aliases) | set(entries) | set(heads)):
        where = f"{name} alias {alias}"
        chain = entries.get(alias, [])
        previous = ""
        for number, entry in enumerate(chain, start=1):
            revision = int(entry["revision"]["N"])
            if revision != number or entry["sk"]["S"] != f"{alias}#{revision:010d}":
                problems.append(f"{where}: entry {entry['sk']['S']} where {number} belongs")
            if _recomputed(name, entry) != entry["sha256"]["S"]:
                problems.append(f"{where}: entry {revision} does not hash to its sha256")
            if entry["previous_sha256"]["S"] != previous:
                problems.append(f"{where}: entry {revision} does not follow the one before")
            previous = entry["sha256"]["S"]
        newest = chain[-1] if chain else None
        head = heads.get(alias)
        if (head is None) != (newest is None) or (
            head is not None
            and newest is not None
            and {k: v for k, v in head.items() if k != "sk"}
            != {k: v for k, v in newest.items() if k != "sk"}
        ):
            problems.append(f"{where}: the head item is not a copy of the newest entry")
        item = aliases.get(alias)
        if item is None:
            if newest is not None and "after" in newest and not outside_ok:
                problems.append(f"{where}: gone, but its newest entry is no delete")
            continue
        if "revision" not in item:
            if not outside_ok:
                problems.append(f"{where}: the alias item has no revision")
            continue
        if newest is None:
            problems.append(f"{where}: revision {item['revision']['N']} with no history")
            continue
        if (
            item["revision"] != newest["revision"]
            or item.get("history_head") != newest["sha256"]
            or _targets(newest.get("after")) != _item_targets(item)
        ):
            problems.append(
                f"{where}: item at revision {item['revision']['N']} disagrees with its "
                f"newest entry {newest['revision']['N']}"
            )
    return problems


def renamed(items: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    """The items of artifact ``old`` (versions, aliases, alias history) as those of
    ``new``: partition keys renamed and, since an entry's hash covers the artifact's name,
    every history chain sealed again for ``new`` (alias items' ``history_head`` too)."""
    partitions = {old: new, f"__{old}-alias": f"__{new}-alias"}
    partitions[f"__{old}-alias#history"] = f"__{new}-alias#history"
    moved = [{**i, "pk": {"S": partitions[i["pk"]["S"]]}} for i in items]
    history = f"__{new}-alias#history"
    entries = sorted(
        (i for i in moved if i["pk"]["S"] == history and "#" in i["sk"]["S"]),
        key=lambda i: i["sk"]["S"],
    )
    newest: dict[str, dict[str, Any]] = {}
    for entry in entries:
        alias = entry["alias"]["S"]
        before = newest.get(alias)
        entry["previous_sha256"] = {"S": before["sha256"]["S"] if before else ""}
        entry["sha256"] = {"S": _recomputed(new, entry)}
        newest[alias] = entry
    result: list[dict[str, Any]] = []
    for item in moved:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk == history and "#" not in sk:  # a head: a copy of its newest entry
            item = {**newest[sk], "sk": item["sk"]}
        elif pk == f"__{new}-alias" and "history_head" in item and sk in newest:
            item = {**item, "history_head": newest[sk]["sha256"]}
        result.append(item)
    return result
