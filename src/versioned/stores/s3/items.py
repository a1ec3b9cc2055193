"""DynamoDB items in the layout of versioned 1.0.1, as pure functions (no requests).

1.0.1 reads an artifact's partition (``pk = name``) as its versions and the partition
``__{name}-alias`` as its aliases, so this package only ever adds *attributes* to those
items, never items of a kind 1.0.1 would misread. The attributes it adds:

on LATEST
    ``last_version``/``last_claim`` (the publish counter and the token of its last claim),
    ``lease_token``/``lease_until``/``upload_id`` (a put in progress), ``purging`` (a
    purge has fenced the artifact), ``object_etag`` (the ETag of the object the item
    names), ``object_size``, ``content_type``, ``user_metadata``;
on a version
    ``pending``/``claim_until`` (a publish's claim on the number, made before any byte is
    copied; such an item is marked deleted and names no bytes, so every reader, 1.0.1's
    included, skips it), ``purging``, ``alias_guard`` (bumped by every ``put_alias`` that
    targets the version), and the same size, type and metadata as LATEST had;
on an alias
    ``revision`` (grows by one on every change), ``history_head`` (the sha256 of its
    newest history entry) and ``version_sha256``/``secondary_version_sha256`` (the hashes
    of its published targets, so a read through the alias needs no version lookup).

An alias's history lives in a partition of its own (see ``alias_items``).
"""

from __future__ import annotations

from typing import Any

from ...arguments import LATEST, version_to_key
from ...timestamps import from_storage, to_storage
from ..base import AliasRecord, VersionRecord

TRUE = {"BOOL": True}
FALSE = {"BOOL": False}
EMPTY = {"S": ""}
CONDITION_FAILED = "ConditionalCheckFailedException"


def item_key(pk: str, sk: str) -> dict[str, Any]:
    """The primary key of an item."""
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def alias_partition(name: str) -> str:
    """The partition key holding an artifact's aliases (1.0.1's layout)."""
    return f"__{name}-alias"


def history_partition(name: str) -> str:
    """The partition key holding the history of an artifact's aliases.

    ``#`` never occurs in an artifact name, so no artifact's partition can be this one,
    and 1.0.1 (which reads ``__{name}-alias``) never sees it.
    """
    return f"{alias_partition(name)}#history"


def rollout_partition(name: str) -> str:
    """The partition key holding the rollouts of an artifact's aliases (1.0.1 never
    reads it, for the reason it never reads :func:`history_partition`)."""
    return f"{alias_partition(name)}#rollout"


def artifact_of_partition(pk: str) -> str:
    """The artifact a partition key belongs to (its versions, aliases, alias history or
    rollouts)."""
    for ending in ("-alias#history", "-alias#rollout", "-alias"):
        if pk.startswith("__") and pk.endswith(ending):
            return pk[2 : -len(ending)]
    return pk


def number_of(sort_key: str) -> int | None:
    """The version number a sort key spells, or None (LATEST, or not a number)."""
    return int(sort_key) if sort_key.isdigit() and int(sort_key) > 0 else None


def is_version_key(sort_key: str) -> bool:
    """True for ``LATEST`` and zero-padded positive numbers."""
    return sort_key == LATEST or number_of(sort_key) is not None


def text(item: dict[str, Any], attribute: str) -> str | None:
    """A string attribute, or None when absent."""
    value = item.get(attribute, {}).get("S")
    return None if value is None else str(value)


def integer(item: dict[str, Any], attribute: str) -> int | None:
    """A number attribute as an int, or None when absent."""
    value = item.get(attribute, {}).get("N")
    return None if value is None else int(value)


def seconds(item: dict[str, Any], attribute: str) -> float | None:
    """A number attribute holding a Unix time, or None when absent."""
    value = item.get(attribute, {}).get("N")
    return None if value is None else float(value)


def names_bytes(item: dict[str, Any]) -> bool:
    """True when the item is a committed version: it names bytes that exist.

    A put's placeholder (empty sha256), a publish's claim (``pending``) and an item a purge
    has fenced (``purging``, whose bytes may already be gone) name none.
    """
    return bool(text(item, "sha256")) and "pending" not in item and "purging" not in item


def decode_version(item: dict[str, Any]) -> VersionRecord | None:
    """A version item as a record; None for a placeholder, a claim or a foreign item.

    An item being purged reads as deleted, so it can be neither read nor restored.
    """
    sort_key = item["sk"]["S"]
    sha256 = text(item, "sha256")
    if not sha256 or "pending" in item or "update_at" not in item:
        return None
    if not is_version_key(sort_key):
        return None
    metadata = item.get("user_metadata", {}).get("M")
    return VersionRecord(
        name=item["pk"]["S"],
        version=number_of(sort_key),
        sha256=sha256,
        update_at=from_storage(item["update_at"]["S"]),
        is_deleted=bool(item.get("is_deleted", {}).get("BOOL", False)) or "purging" in item,
        size=integer(item, "object_size"),
        content_type=text(item, "content_type"),
        metadata=None if metadata is None else {k: v["S"] for k, v in metadata.items()},
        deleted_at=None if "deleted_at" not in item else from_storage(item["deleted_at"]["S"]),
        guard=item.get("alias_guard", {}).get("N"),
    )


def described(content_type: str | None, metadata: dict[str, str]) -> str:
    """The SET clause recording what a put stored beside its bytes (values: below)."""
    clause = "object_size = :size"
    if content_type:
        clause += ", content_type = :ctype"
    if metadata:
        clause += ", user_metadata = :meta"
    return clause


def described_values(
    size: int, content_type: str | None, metadata: dict[str, str]
) -> dict[str, Any]:
    """The values :func:`described` refers to."""
    values: dict[str, Any] = {":size": {"N": str(size)}}
    if content_type:
        values[":ctype"] = {"S": content_type}
    if metadata:
        values[":meta"] = {"M": {k: {"S": v} for k, v in metadata.items()}}
    return values


def undescribed(content_type: str | None, metadata: dict[str, str]) -> list[str]:
    """Attributes to REMOVE because this put stored no type or no metadata."""
    return [
        attribute
        for attribute, present in (("content_type", content_type), ("user_metadata", metadata))
        if not present
    ]


def copy_description(latest: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A SET clause and values giving a version what LATEST's item says of its bytes."""
    parts: list[str] = []
    values: dict[str, Any] = {}
    for attribute, placeholder in (
        ("object_size", ":size"),
        ("content_type", ":ctype"),
        ("user_metadata", ":meta"),
    ):
        if attribute in latest:
            parts.append(f"{attribute} = {placeholder}")
            values[placeholder] = latest[attribute]
    return ", ".join(parts), values


def decode_alias(name: str, item: dict[str, Any]) -> AliasRecord:
    """An alias item as a record; ``revision`` as stored (0: written without history)."""
    secondary = text(item, "secondary_version")
    weight = integer(item, "secondary_version_weight")
    return AliasRecord(
        name=name,
        alias=item["sk"]["S"],
        version=number_of(item["version"]["S"]),
        secondary_version=None if secondary is None else number_of(secondary),
        secondary_version_weight=None if secondary is None else weight,
        update_at=from_storage(item["update_at"]["S"]),
        version_sha256=text(item, "version_sha256"),
        secondary_version_sha256=None
        if secondary is None
        else text(item, "secondary_version_sha256"),
        revision=integer(item, "revision") or 0,
    )


def encode_alias(record: AliasRecord, history_head: str) -> dict[str, Any]:
    """An alias record as 1.0.1 stores it, plus its revision, the sha256 of its newest
    history entry and the hashes of its published targets."""
    item = {
        **item_key(alias_partition(record.name), record.alias),
        "update_at": {"S": to_storage(record.update_at)},
        "version": {"S": version_to_key(record.version)},
        "revision": {"N": str(record.revision)},
        "history_head": {"S": history_head},
    }
    if record.version is not None and record.version_sha256:
        item["version_sha256"] = {"S": record.version_sha256}
    if record.has_secondary:
        item["secondary_version"] = {"S": version_to_key(record.secondary_version)}
        item["secondary_version_weight"] = {"N": str(record.secondary_version_weight)}
        if record.secondary_version is not None and record.secondary_version_sha256:
            item["secondary_version_sha256"] = {"S": record.secondary_version_sha256}
    return item


def page_start(parameter: str, value: Any) -> dict[str, Any]:
    """The parameter that asks for the next page, if there is one."""
    return {parameter: value} if value else {}
