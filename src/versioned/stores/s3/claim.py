"""Publishing: claim a number, claim its key, copy the bytes, commit.

1. The number comes from a counter on LATEST's item (an atomic increment that also
   returns LATEST's item: its hash, size and description). The claim carries a token, so
   a claim botocore resends after a lost answer finds its own number. It is refused while
   a purge fences the artifact.
2. The number's *key* is claimed by writing the version item hidden (``pending``, marked
   deleted, no hash) with ``attribute_not_exists``: a number another tool already wrote
   (versioned 1.0.1 numbers by the highest item, not by our counter) is never copied
   over, and purge and gc see the publish in flight.
3. The copy asks S3 for the SHA-256 of what it copied, which proves which bytes were
   frozen. They must be the bytes LATEST's item names; if LATEST changed meanwhile, its
   item must name the copied bytes now, or the publish undoes its copy and retries.
   Where the store enforces it, the copy is conditional on its destination
   (``If-None-Match: *``, or ``If-Match`` on our own earlier copy), so a publisher
   frozen past its claim cannot land over a number purged and published again.
4. The commit turns the claim into the version, on the condition that the claim is still
   ours and no purge began. A crash anywhere leaves a hidden claim (a gap in the numbers)
   whose object, if any, gc removes once the claim has expired.
"""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from datetime import datetime
from typing import Any, cast

from ...arguments import LATEST, version_to_key
from ...exc import ConcurrentWriteError
from ...rules import next_version_number, not_found
from ...timestamps import to_storage, utc_now
from ..base import VersionRecord
from .calls import Refused
from .items import (
    CONDITION_FAILED,
    EMPTY,
    FALSE,
    TRUE,
    copy_description,
    decode_version,
    integer,
    item_key,
    names_bytes,
    number_of,
    text,
)
from .part_copy import copy_in_parts
from .place import PRECONDITION_FAILED, S3Place

#: How long a publish's claim on a number protects its copy from gc (renewal is not
#: needed: a single copy takes seconds; a multipart copy of a huge object renews it).
CLAIM_SECONDS = 3600.0
#: Copies a publish makes before giving up on a LATEST that keeps changing.
_RECOPY_ATTEMPTS = 12


def quoted(etag: str) -> str:
    """An ETag as a condition names it, in double quotes (some stores answer it bare)."""
    return f'"{etag.strip(chr(34))}"'


class Publisher:
    """Publishes LATEST of one repository's artifacts as numbered versions."""

    def __init__(self, place: S3Place, copy_threshold: int) -> None:
        self.place = place
        #: Objects larger than this publish through a multipart copy (S3 allows 5 GiB).
        self.copy_threshold = copy_threshold
        #: The store refuses a CopyObject whose destination condition fails (probed):
        #: a copy then lands only on an empty key, or over our own earlier copy.
        self.copy_if_none_match = False

    def publish(self, name: str, now: datetime) -> VersionRecord:
        """Freeze LATEST as the next number. Raises ArtifactNotFoundError, ConcurrentWriteError."""
        token = uuid.uuid4().hex
        number, latest = self._claim_number(name)
        for _ in range(10):
            if self._claim_key(name, number, token):
                break
            number, latest = self._skip_taken_numbers(name, number)
        else:
            raise ConcurrentWriteError(f"could not claim a free version number for {name!r}")
        copied_etag: str | None = None
        try:
            sha256, copied_etag = self._copy(name, number, token, latest, None)
            for attempt in range(_RECOPY_ATTEMPTS):
                if sha256 == text(latest, "sha256"):
                    break
                # LATEST changed since the claim, or a put has landed bytes it has not
                # committed yet: freeze only bytes LATEST's item names, copying again
                # (the key is ours) until the copy and the item agree
                latest = self._latest_now(name)
                if sha256 == text(latest, "sha256") and "lease_until" not in latest:
                    break
                time.sleep(min(0.02 * 2**attempt, 0.5))
                sha256, copied_etag = self._copy(name, number, token, latest, copied_etag)
            else:
                raise ConcurrentWriteError(
                    f"LATEST of {name!r} kept changing, or its object differs from its "
                    "record: nothing was published"
                )
            self._commit(name, number, token, sha256, now, latest)
        except BaseException:
            self._undo(name, number, token, copied_etag)
            raise
        described = decode_version({**latest, **item_key(name, version_to_key(number))})
        return VersionRecord(
            name,
            number,
            sha256,
            now,
            False,
            size=None if described is None else described.size,
            content_type=None if described is None else described.content_type,
            metadata=None if described is None else described.metadata,
        )

    # --- 1. the number ---------------------------------------------------------------------
    def _claim_number(self, name: str) -> tuple[int, dict[str, Any]]:
        claim = {":c": {"S": uuid.uuid4().hex}}
        live = "is_deleted = :false AND sha256 <> :empty AND attribute_not_exists(purging)"
        values = {":false": FALSE, ":empty": EMPTY, **claim}
        not_mine = "(attribute_not_exists(last_claim) OR last_claim <> :c)"
        for _ in range(10):
            try:
                answer = self.place.ddb(
                    "update_item",
                    expect=(CONDITION_FAILED,),
                    Key=item_key(name, LATEST),
                    UpdateExpression="SET last_version = last_version + :one, last_claim = :c",
                    ConditionExpression=f"attribute_exists(last_version) AND {live} AND {not_mine}",
                    ExpressionAttributeValues={":one": {"N": "1"}, **values},
                    ReturnValues="ALL_NEW",
                    # a refusal then shows the item, which saves a GetItem
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                item = answer["Attributes"]
                return int(item["last_version"]["N"]), item
            except Refused as refused:
                latest = cast("dict[str, Any] | None", refused.response.get("Item"))
            if latest is None:  # no item, or a store that does not return it
                latest = self.place.get_item(name, LATEST)
            if latest is not None and latest.get("last_claim") == claim[":c"]:
                return int(latest["last_version"]["N"]), latest
            if (
                latest is None
                or not names_bytes(latest)
                or latest.get("is_deleted", {}).get("BOOL")
            ):
                raise not_found(name, None)
            if "last_version" in latest:
                continue  # someone else initialised the counter meanwhile
            # Data written by 1.0.1 has no counter: start it after the highest number.
            number = next_version_number(self._numbers(name))
            try:
                answer = self.place.ddb(
                    "update_item",
                    expect=(CONDITION_FAILED,),
                    Key=item_key(name, LATEST),
                    UpdateExpression="SET last_version = :n, last_claim = :c",
                    ConditionExpression=f"attribute_not_exists(last_version) AND {live}",
                    ExpressionAttributeValues={":n": {"N": str(number)}, **values},
                    ReturnValues="ALL_NEW",
                )
                return number, answer["Attributes"]
            except Refused:
                continue
        raise ConcurrentWriteError(f"could not claim a version number for {name!r}")

    def _numbers(self, name: str) -> list[int]:
        items = self.place.query_all(name, ProjectionExpression="sk")
        return [n for n in (number_of(i["sk"]["S"]) for i in items) if n]

    def _skip_taken_numbers(self, name: str, taken: int) -> tuple[int, dict[str, Any]]:
        """Move the counter past numbers another tool used, then claim again."""
        highest = max([taken, *self._numbers(name)])
        with contextlib.suppress(Refused):
            self.place.ddb(
                "update_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(name, LATEST),
                UpdateExpression="SET last_version = :n",
                ConditionExpression="last_version < :n",
                ExpressionAttributeValues={":n": {"N": str(highest)}},
            )
        return self._claim_number(name)

    # --- 2. the key ------------------------------------------------------------------------
    def _claim_key(self, name: str, number: int, token: str) -> bool:
        """Write the hidden claim item; False when the number is someone else's."""
        try:
            self.place.ddb(
                "put_item",
                expect=(CONDITION_FAILED,),
                Item={
                    **item_key(name, version_to_key(number)),
                    "update_at": {"S": to_storage(utc_now())},
                    "is_deleted": TRUE,
                    "sha256": EMPTY,
                    "pending": {"S": token},
                    "claim_until": {"N": repr(time.time() + CLAIM_SECONDS)},
                },
                # our own token too: the resend of a put whose answer was lost
                ConditionExpression="attribute_not_exists(sk) OR pending = :t",
                ExpressionAttributeValues={":t": {"S": token}},
            )
        except Refused:
            return False
        return True

    # --- 3. the copy -----------------------------------------------------------------------
    def _copy(
        self, name: str, number: int, token: str, latest: dict[str, Any], ours: str | None
    ) -> tuple[str, str]:
        """Copy LATEST's object to the number's key; return (frozen sha256, copy's ETag).

        ``ours``: the ETag of our own earlier copy to this key, which this one replaces.
        Where the store enforces it, the copy is conditional: ``If-None-Match: *`` for a
        first copy, ``If-Match: ours`` for a later one. So a publisher frozen past its
        claim, while the number was purged and published again, cannot land over the
        new version: its copy is refused (ConcurrentWriteError).
        """
        size = integer(latest, "object_size")
        if size is not None and size > self.copy_threshold:
            return copy_in_parts(
                self.place, name, number, lambda: self._clear_stale(name, number, token)
            )
        key = self.place.key(name, number)
        for cleared in (False, True):
            try:
                copied = self._copy_once(name, key, ours)
                break
            except Refused as refused:
                if refused.code not in PRECONDITION_FAILED:
                    raise
                # A first copy found bytes at the key: ours to clear if our claim holds
                if ours is not None or cleared or not self._clear_stale(name, number, token):
                    raise ConcurrentWriteError(
                        f"version {number} of {name!r} was written by someone else "
                        "during the publish"
                    ) from refused
        else:  # pragma: no cover - the loop always breaks or raises
            raise AssertionError("unreachable")
        if copied is None:
            # over 5 GiB, put by a tool that did not record the size: copy in parts
            return copy_in_parts(
                self.place, name, number, lambda: self._clear_stale(name, number, token)
            )
        result = copied.get("CopyObjectResult", {})
        etag = str(result.get("ETag"))
        encoded = result.get("ChecksumSHA256")
        if encoded:
            return base64.b64decode(encoded).hex(), etag
        # A store that computes no checksum of a copy (SeaweedFS). A copy of a single-part
        # object keeps its ETag, the MD5 of its bytes: when that is the ETag LATEST's
        # committed item records, the copy holds the bytes the item names (no request).
        recorded = text(latest, "object_etag")
        if recorded and "lease_until" not in latest and quoted(etag) == quoted(recorded):
            return str(text(latest, "sha256")), etag
        # else trust the metadata the store verified on put
        head = self.place.head(self.place.key(name, number)) or {}
        declared = str(head.get("Metadata", {}).get("artifact_sha256", ""))
        if not declared:
            raise ConcurrentWriteError(f"could not tell which bytes of {name!r} were copied")
        return declared, etag

    def _clear_stale(self, name: str, number: int, token: str) -> bool:
        """Remove bytes found at the number's key before our first copy, if our claim still
        holds (False if not). They were left by a writer that lost this number (a purge
        ended its claim) or are our own copy whose answer was lost: ours to replace, and
        only as they stand now (``If-Match``), so a newer writer's bytes are kept."""
        key = self.place.key(name, number)
        stale = self.place.head(key)
        if stale is None:
            return True  # nothing to clear (the key is looked at first: usually empty)
        claim = self.place.get_item(name, version_to_key(number))
        if claim is None or text(claim, "pending") != token:
            return False
        self.place.delete_if_unchanged(key, str(stale.get("ETag")))
        return True

    def _copy_once(self, name: str, key: str, ours: str | None) -> dict[str, Any] | None:
        """One CopyObject of LATEST to ``key``, conditional as :meth:`_copy` says; None when
        the object is too large for one copy. Raises Refused for a failed condition."""
        condition: dict[str, str] = {}
        if self.copy_if_none_match:
            condition = {"IfMatch": quoted(ours)} if ours else {"IfNoneMatch": "*"}
        try:
            copied: dict[str, Any] = self.place.s3(
                "copy_object",
                expect=("NoSuchKey", "InvalidRequest", *PRECONDITION_FAILED),
                Key=key,
                CopySource={"Bucket": self.place.bucket, "Key": self.place.key(name, None)},
                MetadataDirective="COPY",
                ChecksumAlgorithm="SHA256",
                **condition,
            )
        except Refused as refused:
            if refused.code == "InvalidRequest":
                return None
            if refused.code == "NoSuchKey":
                raise not_found(name, None) from refused
            raise
        return copied

    def _latest_now(self, name: str) -> dict[str, Any]:
        """LATEST's item now. Raises ArtifactNotFoundError if it was deleted meanwhile."""
        latest = self.place.get_item(name, LATEST)
        if latest is None or not names_bytes(latest) or latest.get("is_deleted", {}).get("BOOL"):
            raise not_found(name, None)
        return latest

    # --- 4. the commit ---------------------------------------------------------------------
    def _commit(
        self,
        name: str,
        number: int,
        token: str,
        sha256: str,
        now: datetime,
        latest: dict[str, Any],
    ) -> None:
        description, values = copy_description(latest)
        clause = "SET sha256 = :s, update_at = :now, is_deleted = :false"
        if description:
            clause += ", " + description
        try:
            self.place.ddb(
                "update_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(name, version_to_key(number)),
                UpdateExpression=f"{clause} REMOVE pending, claim_until",
                ConditionExpression="pending = :t AND attribute_not_exists(purging)",
                ExpressionAttributeValues={
                    ":s": {"S": sha256},
                    ":now": {"S": to_storage(now)},
                    ":false": FALSE,
                    ":t": {"S": token},
                    **values,
                },
            )
        except Refused as refused:
            # botocore resends an update whose answer was lost; the resend then meets the
            # item the first one committed, which is our success, not a conflict
            mine = self.place.get_item(name, version_to_key(number))
            record = None if mine is None else decode_version(mine)
            if record is None or record.sha256 != sha256 or mine is None or "purging" in mine:
                raise ConcurrentWriteError(
                    f"the claim on version {number} of {name!r} was taken over (a purge or gc)"
                ) from refused

    def _undo(self, name: str, number: int, token: str, copied_etag: str | None) -> None:
        """Remove our copy and our claim, as far as they are still ours (best effort)."""
        with contextlib.suppress(Exception):
            mine = self.place.get_item(name, version_to_key(number))
            if mine is None or text(mine, "pending") != token:
                return  # committed after all, or taken over: not ours to undo
            if copied_etag:
                self.place.delete_if_unchanged(self.place.key(name, number), copied_etag)
            self.place.ddb(
                "delete_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(name, version_to_key(number)),
                ConditionExpression="pending = :t",
                ExpressionAttributeValues={":t": {"S": token}},
            )
