"""Expiry on S3 + DynamoDB: the bytes of long soft-deleted versions removed for good.

A version's item is never deleted by expiry: it becomes a tombstone (``is_deleted``,
an empty ``sha256``, ``expired``), which this package never lists or restores and 1.0.1
never lists either (it skips deleted items), while both still see its number, so neither
gives it out again (1.0.1 numbers past the highest item it sees).

Following the fencing rule, the item lets go of the bytes before they are deleted:

1. one conditional update turns the item into a claim on its key (``pending``, with an
   empty ``sha256``), only if it is still soft-deleted at the time the caller read;
   a restore racing it either lands first (and the update is refused) or is refused
   itself (it needs a ``sha256``);
2. the object is deleted if it still has the ETag read just before (nothing can write
   under a taken number, but every byte delete is conditional all the same);
3. the claim is dropped, leaving the tombstone.

A crash between 1 and 3 leaves an expired claim: gc finishes it (removes the object,
keeps the tombstone because of ``expired``).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import datetime

from ...arguments import version_to_key
from ...timestamps import to_storage
from .calls import Refused
from .claim import CLAIM_SECONDS
from .items import CONDITION_FAILED, EMPTY, TRUE, integer, item_key
from .place import S3Place


def date_deletion(place: S3Place, name: str, version: int, now: datetime) -> bool:
    """Record ``now`` on a published version soft-deleted without a time (see
    ``Backend.date_deletion``)."""
    try:
        place.ddb(
            "update_item",
            expect=(CONDITION_FAILED,),
            Key=item_key(name, version_to_key(version)),
            UpdateExpression="SET deleted_at = :now",
            ConditionExpression=(
                "is_deleted = :true AND attribute_not_exists(deleted_at) AND sha256 <> :empty "
                "AND attribute_not_exists(pending) AND attribute_not_exists(purging)"
            ),
            ExpressionAttributeValues={
                ":now": {"S": to_storage(now)},
                ":true": TRUE,
                ":empty": EMPTY,
            },
        )
    except Refused:
        return False
    return True


def expire_version(place: S3Place, name: str, version: int, deleted_at: datetime) -> int | None:
    """Turn the version into a tombstone and delete its object (see the module's steps and
    ``Backend.expire_version``). Returns the bytes freed, or None if it changed."""
    key = item_key(name, version_to_key(version))
    object_key = place.key(name, version)
    found = place.head(object_key)
    token = {":g": {"S": uuid.uuid4().hex}}
    try:
        answer = place.ddb(
            "update_item",
            expect=(CONDITION_FAILED,),
            Key=key,
            UpdateExpression=(
                "SET pending = :g, claim_until = :u, expired = :true, sha256 = :empty "
                "REMOVE object_size, content_type, user_metadata"
            ),
            ConditionExpression=(
                "is_deleted = :true AND deleted_at = :d AND sha256 <> :empty "
                "AND attribute_not_exists(pending) AND attribute_not_exists(purging)"
            ),
            ExpressionAttributeValues={
                **token,
                ":u": {"N": repr(time.time() + CLAIM_SECONDS)},
                ":true": TRUE,
                ":empty": EMPTY,
                ":d": {"S": to_storage(deleted_at)},
            },
            ReturnValues="ALL_OLD",
        )
    except Refused:
        return None  # restored, purged or expired meanwhile
    freed = 0
    if found is not None:
        if place.delete_if_unchanged(object_key, str(found["ETag"])):
            size = integer(answer.get("Attributes", {}), "object_size")
            freed = int(found.get("ContentLength", size or 0))
        elif place.head(object_key) is not None:
            return 0  # other bytes under a taken number (it cannot be): left to gc
    release_claim(place, name, version_to_key(version), token[":g"]["S"])
    return freed


def release_claim(place: S3Place, name: str, sort_key: str, token: str) -> None:
    """Drop an expiry's claim, leaving the tombstone (refused if the claim is not ours)."""
    with contextlib.suppress(Refused):
        place.ddb(
            "update_item",
            expect=(CONDITION_FAILED,),
            Key=item_key(name, sort_key),
            UpdateExpression="REMOVE pending, claim_until",
            ConditionExpression="pending = :g",
            ExpressionAttributeValues={":g": {"S": token}},
        )
