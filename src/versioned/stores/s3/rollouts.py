"""Rollout records on DynamoDB: partition ``__NAME-alias#rollout``, one item per rollout,
``sk = "{alias}#{number:010d}"``, holding ``seq`` (N) and ``body`` (S, the rollout's JSON).

A write is one PutItem conditioned on the ``seq`` it was planned from (absent for a new
rollout). A resend after a lost answer that finds its own body already stored knows it
landed.
"""

from __future__ import annotations

from typing import Any

from ...exc import StaleRolloutError
from ..base import StoredRollout
from .calls import Refused
from .items import CONDITION_FAILED, item_key, rollout_partition
from .place import S3Place

#: The highest rollout number a sort key can spell.
_MAX_NUMBER = 10**10 - 1


def _sort_key(alias: str, number: int) -> str:
    return f"{alias}#{number:010d}"


def _decode(name: str, alias: str, item: dict[str, Any]) -> StoredRollout:
    number = int(item["sk"]["S"].rsplit("#", 1)[1])
    return StoredRollout(name, alias, number, int(item["seq"]["N"]), item["body"]["S"])


def newest_first(place: S3Place, name: str, alias: str, limit: int) -> list[StoredRollout]:
    """Up to ``limit`` rollouts of the alias, highest number first: one Query."""
    page = place.ddb(
        "query",
        KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
        ExpressionAttributeValues={
            ":pk": {"S": rollout_partition(name)},
            ":low": {"S": _sort_key(alias, 1)},
            ":high": {"S": _sort_key(alias, _MAX_NUMBER)},
        },
        ScanIndexForward=False,
        Limit=limit,
        ConsistentRead=True,
    )
    return [_decode(name, alias, item) for item in page.get("Items", [])]


def get(place: S3Place, name: str, alias: str, number: int | None) -> StoredRollout | None:
    """Rollout ``number`` (None: the newest), strongly consistent: one request."""
    if number is None:
        found = newest_first(place, name, alias, 1)
        return found[0] if found else None
    answer = place.ddb(
        "get_item",
        Key=item_key(rollout_partition(name), _sort_key(alias, number)),
        ConsistentRead=True,
    )
    item = answer.get("Item")
    return None if item is None else _decode(name, alias, item)


def write(place: S3Place, record: StoredRollout, expected_seq: int) -> None:
    """Store ``record`` if the item is at ``expected_seq`` (0: absent). Raises
    StaleRolloutError."""
    key = item_key(rollout_partition(record.name), _sort_key(record.alias, record.number))
    condition: dict[str, Any] = (
        {"ConditionExpression": "attribute_not_exists(pk)"}
        if expected_seq == 0
        else {
            "ConditionExpression": "seq = :expected",
            "ExpressionAttributeValues": {":expected": {"N": str(expected_seq)}},
        }
    )
    try:
        place.ddb(
            "put_item",
            expect=(CONDITION_FAILED,),
            Item={**key, "seq": {"N": str(record.seq)}, "body": {"S": record.body}},
            **condition,
        )
    except Refused as refused:
        stored = get(place, record.name, record.alias, record.number)
        if stored is not None and stored.seq == record.seq and stored.body == record.body:
            return  # our own write, answered after a lost first answer
        raise StaleRolloutError(
            f"rollout {record.number} of alias {record.alias!r} of artifact "
            f"{record.name!r} changed since it was read: read it again"
        ) from refused
