"""The S3 + DynamoDB backend, in the storage format of versioned 1.0.1.

How each step is made safe without a transaction spanning both services:

- A put of LATEST takes a lease on the LATEST item (a conditional update that also
  returns the old item, which is what dedup compares against), uploads the object with
  its SHA-256 checked by S3, and commits the new hash only while still holding the
  lease. Writers of LATEST are thereby serialised; a crashed writer's lease expires and
  the next put rewrites bytes and metadata together.
- A publish takes its number from a counter on the LATEST item (an atomic increment;
  numbers are never handed out twice), copies the object asking S3 for the copy's
  SHA-256 (which proves exactly which bytes were frozen, even if LATEST changed
  meanwhile), then writes the version item with ``attribute_not_exists``. A crash in
  between leaves a gap in the numbers and, at most, an object ``gc`` removes.
- ``put_alias`` and a soft delete both write the target version item: the alias
  transaction bumps its ``alias_guard`` under the condition that it is live, and the
  delete is conditioned on the guard it read before looking at the aliases.

- Large content streams (``s3_transfer``): parallel verified parts up, parallel
  ranges down, and a multipart copy for publishes over ``copy_threshold``. A put renews
  its lease while it uploads, so a long upload never loses LATEST to another put.

Attributes added to 1.0.1's items (``last_version``, ``last_claim``, ``lease_token``,
``lease_until``, ``alias_guard``, ``object_size``) are ignored by 1.0.1; no new items are
ever added to a partition.
"""

from __future__ import annotations

import base64
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, BinaryIO, cast
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError

from ..arguments import LATEST, version_to_key
from ..exc import BackendError, ConcurrentWriteError, IntegrityError
from ..rules import aliases_pointing_at, corrupt, in_use, next_version_number, not_found
from ..timestamps import from_storage, to_storage, utc_now
from .aws_calls import AwsClients, Refused, call
from .base import BLOCK_SIZE, AliasRecord, Backend, BlobStream, LatestWrite, Payload, VersionRecord
from .s3_transfer import (
    MAX_SINGLE_COPY,
    WORKERS,
    RangedReader,
    b64,
    multipart_copy,
    upload_parts,
)

_CONDITION_FAILED = "ConditionalCheckFailedException"
_TRUE = {"BOOL": True}
_FALSE = {"BOOL": False}
_EMPTY = {"S": ""}


def now_stored(moment: datetime) -> datetime:
    """``moment`` as it reads back after a round trip through the stored text form."""
    return from_storage(to_storage(moment))


def alias_partition(name: str) -> str:
    """The partition key holding an artifact's aliases (1.0.1's layout)."""
    return f"__{name}-alias"


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _page_start(key: str, value: Any) -> dict[str, Any]:
    """The parameter that asks for the next page, if there is one."""
    return {key: value} if value else {}


def _size_of(item: dict[str, Any]) -> int | None:
    """The object size a put recorded on LATEST (absent in items 1.0.1 wrote)."""
    size = item.get("object_size", {}).get("N")
    return None if size is None else int(size)


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _version_of(sk: str) -> tuple[bool, int | None]:
    """(is this a version sort key, the version or None for LATEST)."""
    if sk == LATEST:
        return True, None
    number = _number(sk)
    return number is not None and number > 0, number


def decode_version(item: dict[str, Any]) -> VersionRecord | None:
    """A version item as a record; None for a put's placeholder or a foreign item."""
    sha256 = item.get("sha256", {}).get("S", "")
    ok, version = _version_of(item["sk"]["S"])
    if not sha256 or not ok or "update_at" not in item:
        return None
    return VersionRecord(
        name=item["pk"]["S"],
        version=version,
        sha256=sha256,
        update_at=from_storage(item["update_at"]["S"]),
        is_deleted=bool(item.get("is_deleted", {}).get("BOOL", False)),
    )


def decode_alias(name: str, item: dict[str, Any]) -> AliasRecord:
    """An alias item as a record."""
    secondary = item.get("secondary_version", {}).get("S")
    weight = item.get("secondary_version_weight", {}).get("N")
    return AliasRecord(
        name=name,
        alias=item["sk"]["S"],
        version=_version_of(item["version"]["S"])[1],
        secondary_version=None if secondary is None else _version_of(secondary)[1],
        secondary_version_weight=None if weight is None or secondary is None else int(weight),
        update_at=from_storage(item["update_at"]["S"]),
    )


def encode_alias(record: AliasRecord) -> dict[str, Any]:
    """An alias record as 1.0.1 stores it."""
    item = {
        **_key(alias_partition(record.name), record.alias),
        "update_at": {"S": to_storage(record.update_at)},
        "version": {"S": version_to_key(record.version)},
    }
    if record.has_secondary:
        item["secondary_version"] = {"S": version_to_key(record.secondary_version)}
        item["secondary_version_weight"] = {"N": str(record.secondary_version_weight)}
    return item


class S3DynamoBackend(Backend):
    """Bytes in ``s3://bucket/prefix/``, metadata in one DynamoDB table."""

    def __init__(
        self,
        clients: AwsClients,
        bucket: str,
        prefix: str,
        table: str,
        suffix: str,
        lease_seconds: float,
        copy_threshold: int = MAX_SINGLE_COPY,
        download_workers: int = WORKERS,
    ) -> None:
        self.clients = clients
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.table = table
        self.suffix = suffix
        self.lease_seconds = lease_seconds
        #: Objects larger than this publish through a multipart copy (S3 allows 5 GiB).
        self.copy_threshold = copy_threshold
        #: Parallel ranged GETs per download (1: one streamed GET).
        self.download_workers = download_workers

    # --- naming --------------------------------------------------------------------------
    def key(self, name: str, version: int | None) -> str:
        """The object key of a version (``prefix/name/000005{suffix}``)."""
        return f"{self.prefix}/{name}/{version_to_key(version)}{self.suffix}"

    def version_uri(self, name: str, version: int | None, sha256: str | None) -> str:
        return f"s3://{self.bucket}/{self.key(name, version)}"

    def _ddb(self, operation: str, *, expect: tuple[str, ...] = (), **params: Any) -> Any:
        return call(self.clients.dynamodb, operation, expect=expect, TableName=self.table, **params)

    def _s3(self, operation: str, *, expect: tuple[str, ...] = (), **params: Any) -> Any:
        return call(self.clients.s3, operation, expect=expect, Bucket=self.bucket, **params)

    def _query_all(self, pk: str, **extra: Any) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            page = self._ddb(
                "query",
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ConsistentRead=True,
                **_page_start("ExclusiveStartKey", start),
                **extra,
            )
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def _get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._ddb(
            "get_item", Key=_key(pk, sk), ConsistentRead=True
        ).get("Item")
        return item

    # --- set-up ----------------------------------------------------------------------------------
    def bootstrap(self, write_capacity: int | None, read_capacity: int | None) -> None:
        bucket_options: dict[str, Any] = {}
        if self.clients.region != "us-east-1":
            bucket_options["CreateBucketConfiguration"] = {
                "LocationConstraint": self.clients.region
            }
        with contextlib.suppress(Refused):
            self._s3("create_bucket", expect=("BucketAlreadyOwnedByYou",), **bucket_options)
        billing: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
        if write_capacity is not None and read_capacity is not None:
            billing = {
                "BillingMode": "PROVISIONED",
                "ProvisionedThroughput": {
                    "ReadCapacityUnits": read_capacity,
                    "WriteCapacityUnits": write_capacity,
                },
            }
        # an existing table is fine, though it may still be being made by another bootstrap
        with contextlib.suppress(Refused):
            self._ddb(
                "create_table",
                expect=("ResourceInUseException",),
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                **billing,
            )
        waiter = self.clients.dynamodb.get_waiter("table_exists")
        try:
            waiter.wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        except (BotoCoreError, ClientError) as error:
            raise BackendError(f"table {self.table!r} did not become ready: {error}") from error

    # --- reads ---------------------------------------------------------------------------
    def get_version(self, name: str, version: int | None) -> VersionRecord | None:
        item = self._get_item(name, version_to_key(version))
        return None if item is None else decode_version(item)

    def list_versions(self, name: str) -> list[VersionRecord]:
        records = (decode_version(item) for item in self._query_all(name))
        return [r for r in records if r is not None]

    def list_names(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = self._s3(
                "list_objects_v2",
                Prefix=f"{self.prefix}/",
                Delimiter="/",
                **_page_start("ContinuationToken", token),
            )
            names += [
                p["Prefix"][len(self.prefix) + 1 : -1] for p in page.get("CommonPrefixes", [])
            ]
            token = page.get("NextContinuationToken")
            if not token:
                return sorted(names)

    def all_names(self) -> list[str]:
        names = set(self.list_names())
        start: dict[str, Any] | None = None
        while True:
            page = self._ddb(
                "scan",
                ProjectionExpression="pk",
                **_page_start("ExclusiveStartKey", start),
            )
            for item in page.get("Items", []):
                pk = item["pk"]["S"]
                is_alias = pk.startswith("__") and pk.endswith("-alias")
                names.add(pk[2 : -len("-alias")] if is_alias else pk)
            start = page.get("LastEvaluatedKey")
            if not start:
                return sorted(names)

    def get_alias(self, name: str, alias: str) -> AliasRecord | None:
        item = self._get_item(alias_partition(name), alias)
        return None if item is None else decode_alias(name, item)

    def list_aliases(self, name: str) -> list[AliasRecord]:
        records = [decode_alias(name, item) for item in self._query_all(alias_partition(name))]
        return sorted(records, key=lambda r: r.alias)

    def open_blob(self, name: str, version: int | None, sha256: str) -> BinaryIO:
        key = self.key(name, version)
        s3 = self.clients.s3
        try:
            first = call(s3, "get_object", expect=("NoSuchKey",), Bucket=self.bucket, Key=key)
        except Refused as refused:
            raise not_found(name, version) from refused
        where = f"s3://{self.bucket}/{key}"
        reader = RangedReader(s3, self.bucket, key, first, where, self.download_workers)
        stream = BlobStream(reader, buffer_size=1024 * 1024)
        stream.declared_sha256 = first.get("Metadata", {}).get("artifact_sha256")
        return cast(BinaryIO, stream)

    # --- LATEST --------------------------------------------------------------------------
    def begin_latest_write(self, name: str) -> LatestWrite:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.lease_seconds + 10
        delay = 0.02
        while True:
            now = time.time()
            try:
                answer = self._ddb(
                    "update_item",
                    expect=(_CONDITION_FAILED,),
                    Key=_key(name, LATEST),
                    UpdateExpression=(
                        "SET lease_token = :t, lease_until = :u, "
                        "is_deleted = if_not_exists(is_deleted, :true), "
                        "sha256 = if_not_exists(sha256, :empty), "
                        "update_at = if_not_exists(update_at, :now)"
                    ),
                    # our own token too: botocore may resend an update whose answer was lost
                    ConditionExpression=(
                        "attribute_not_exists(lease_until) OR lease_until < :clock "
                        "OR lease_token = :t"
                    ),
                    ExpressionAttributeValues={
                        ":t": {"S": token},
                        ":u": {"N": repr(now + self.lease_seconds)},
                        ":true": _TRUE,
                        ":empty": _EMPTY,
                        ":now": {"S": to_storage(utc_now())},
                        ":clock": {"N": repr(now)},
                    },
                    ReturnValues="ALL_OLD",
                )
            except Refused:
                if time.monotonic() > deadline:
                    raise ConcurrentWriteError(
                        f"another put of {name!r} held LATEST for over {self.lease_seconds} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            old = answer.get("Attributes")
            current = decode_version(old) if old else None
            # after an abandoned lease, the object may hold bytes the item does not name
            if old and "lease_until" in old:
                current = None
            return LatestWrite(
                name=name,
                current=current,
                token=token,
                created_item=not old or not old.get("sha256", {}).get("S"),
            )

    def _end_lease(self, write: LatestWrite, assignments: str, values: dict[str, Any]) -> None:
        try:
            self._ddb(
                "update_item",
                expect=(_CONDITION_FAILED,),
                Key=_key(write.name, LATEST),
                UpdateExpression=f"{assignments} REMOVE lease_token, lease_until",
                ConditionExpression="lease_token = :t",
                ExpressionAttributeValues={":t": {"S": str(write.token)}, **values},
            )
        except Refused as refused:
            raise ConcurrentWriteError(
                f"the put of {write.name!r} outlived its lease; another writer took over"
            ) from refused
        write.token = None

    def touch_latest(self, write: LatestWrite, sha256: str, now: datetime) -> VersionRecord | None:
        self._end_lease(
            write,
            "SET update_at = :now, is_deleted = :false",
            {":now": {"S": to_storage(now)}, ":false": _FALSE},
        )
        return VersionRecord(write.name, None, sha256, now, False)

    def upload_latest(self, write: LatestWrite, payload: Payload) -> None:
        # The object's metadata must name its SHA-256, and a multipart upload's metadata
        # is fixed when it is created, so the hash is computed before the upload starts
        # (engine.make_payload: one read pass, whole and per part). Every request then
        # carries the SHA-256 of its bytes, and S3 refuses any that arrive different.
        key = self.key(write.name, None)
        params: dict[str, Any] = {
            "Metadata": {
                **payload.metadata,
                "artifact_name": write.name,
                "artifact_sha256": payload.sha256,
            },
        }
        if payload.content_type:
            params["ContentType"] = payload.content_type
        if payload.tags:
            params["Tagging"] = urlencode(payload.tags)
        write.upload_started = True
        with self._lease_heartbeat(write) as still_ours:
            if payload.size <= BLOCK_SIZE:
                with payload.open() as body:
                    self._s3(
                        "put_object",
                        Key=key,
                        Body=body,
                        ChecksumSHA256=b64(bytes.fromhex(payload.sha256)),
                        ContentLength=payload.size,
                        **params,
                    )
            else:
                upload_parts(self.clients.s3, self.bucket, key, payload, params, still_ours)

    @contextlib.contextmanager
    def _lease_heartbeat(self, write: LatestWrite) -> Iterator[Callable[[], bool]]:
        """Renew the put's lease every third of ``lease_seconds`` while the block runs.

        Yields a function telling whether the lease is still ours. A short upload ends
        before the first beat and costs no request.
        """
        dynamodb = self.clients.dynamodb  # the thread does not inherit the session
        stop = threading.Event()
        lost = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_seconds / 3):
                try:
                    call(
                        dynamodb,
                        "update_item",
                        expect=(_CONDITION_FAILED,),
                        TableName=self.table,
                        Key=_key(write.name, LATEST),
                        UpdateExpression="SET lease_until = :u",
                        ConditionExpression="lease_token = :t",
                        ExpressionAttributeValues={
                            ":t": {"S": str(write.token)},
                            ":u": {"N": repr(time.time() + self.lease_seconds)},
                        },
                    )
                except Refused:
                    lost.set()  # another put took over: stop sending parts
                    return
                except BackendError:
                    continue  # a missed beat; two thirds of the lease are left

        thread = threading.Thread(target=beat, name="versioned-lease", daemon=True)
        thread.start()
        try:
            yield lambda: not lost.is_set()
        finally:
            stop.set()
            thread.join()

    def commit_latest(self, write: LatestWrite, payload: Payload, now: datetime) -> VersionRecord:
        # object_size lets a publish choose single or multipart copy without a HeadObject
        assignments = "SET sha256 = :s, update_at = :now, is_deleted = :false, object_size = :z"
        values: dict[str, Any] = {
            ":s": {"S": payload.sha256},
            ":z": {"N": str(payload.size)},
            ":now": {"S": to_storage(now)},
            ":false": _FALSE,
        }
        if write.created_item:
            # a brand-new artifact has no versions: its counter starts at 0
            assignments += ", last_version = if_not_exists(last_version, :zero)"
            values[":zero"] = {"N": "0"}
        self._end_lease(write, assignments, values)
        return VersionRecord(write.name, None, payload.sha256, now, False)

    def abort_latest(self, write: LatestWrite, payload: Payload | None) -> None:
        if write.token is None:
            return
        # Best effort throughout: whatever fails here, the lease still expires on its own.
        if payload is not None and write.upload_started:
            # The upload may have landed although we saw an error (a lost answer):
            # then the item must name the new bytes, not be left naming the old.
            with contextlib.suppress(Exception):
                head = self._s3(
                    "head_object", expect=("404", "NoSuchKey"), Key=self.key(write.name, None)
                )
                if head.get("Metadata", {}).get("artifact_sha256") == payload.sha256:
                    self.commit_latest(write, payload, utc_now())
                    return
        with contextlib.suppress(Exception):
            self._end_lease(write, "", {})

    # --- versions ------------------------------------------------------------------------
    def _claim_number(self, name: str) -> tuple[int, str, int | None]:
        """Take the next number; return it with LATEST's sha256 and object size (if known).

        Each claim writes its own token beside the counter and is refused if the token
        is already there: botocore resends an update whose answer was lost, and the
        resend must find the first one's number rather than take a second.
        """
        claim = {":c": {"S": uuid.uuid4().hex}}
        live = "is_deleted = :false AND sha256 <> :empty"
        values = {":false": _FALSE, ":empty": _EMPTY, **claim}
        not_mine = "(attribute_not_exists(last_claim) OR last_claim <> :c)"
        for _ in range(10):
            try:
                answer = self._ddb(
                    "update_item",
                    expect=(_CONDITION_FAILED,),
                    Key=_key(name, LATEST),
                    UpdateExpression="SET last_version = last_version + :one, last_claim = :c",
                    ConditionExpression=f"attribute_exists(last_version) AND {live} AND {not_mine}",
                    ExpressionAttributeValues={":one": {"N": "1"}, **values},
                    ReturnValues="ALL_NEW",
                    # a refusal then shows the item, which saves a GetItem
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                item = answer["Attributes"]
                return int(item["last_version"]["N"]), item["sha256"]["S"], _size_of(item)
            except Refused as refused:
                latest = cast("dict[str, Any] | None", refused.response.get("Item"))
            if latest is None:  # no item, or a store that does not return it
                latest = self._get_item(name, LATEST)
            if latest is not None and latest.get("last_claim") == claim[":c"]:
                return int(latest["last_version"]["N"]), latest["sha256"]["S"], _size_of(latest)
            record = None if latest is None else decode_version(latest)
            if latest is None or record is None or record.is_deleted:
                raise not_found(name, None)
            if "last_version" in latest:
                continue  # someone else initialised the counter meanwhile
            # Data written by 1.0.1 has no counter: start it after the highest number.
            number = next_version_number(self._numbers(name))
            try:
                answer = self._ddb(
                    "update_item",
                    expect=(_CONDITION_FAILED,),
                    Key=_key(name, LATEST),
                    UpdateExpression="SET last_version = :n, last_claim = :c",
                    ConditionExpression=f"attribute_not_exists(last_version) AND {live}",
                    ExpressionAttributeValues={":n": {"N": str(number)}, **values},
                    ReturnValues="ALL_NEW",
                )
                item = answer["Attributes"]
                return number, item["sha256"]["S"], _size_of(item)
            except Refused:
                continue
        raise ConcurrentWriteError(f"could not claim a version number for {name!r}")

    def _numbers(self, name: str) -> list[int]:
        items = self._query_all(name, ProjectionExpression="sk")
        return [n for n in (_number(i["sk"]["S"]) for i in items) if n]

    def publish(self, name: str, now: datetime) -> VersionRecord:
        number, latest_sha, size = self._claim_number(name)
        target = self.key(name, number)
        if size is not None and size > self.copy_threshold:
            sha256 = self._copy_in_parts(name, number)
        else:
            try:
                copied = self._s3(
                    "copy_object",
                    expect=("NoSuchKey", "InvalidRequest"),
                    Key=target,
                    CopySource={"Bucket": self.bucket, "Key": self.key(name, None)},
                    MetadataDirective="COPY",
                    ChecksumAlgorithm="SHA256",
                )
            except Refused as refused:
                if refused.code != "InvalidRequest":
                    raise not_found(name, None) from refused
                # over 5 GiB, put by a tool that did not record the size: copy in parts
                sha256 = self._copy_in_parts(name, number)
            else:
                sha256 = self._copied_sha256(name, number, copied, latest_sha)
        try:
            self._ddb(
                "put_item",
                expect=(_CONDITION_FAILED,),
                Item={
                    **_key(name, version_to_key(number)),
                    "update_at": {"S": to_storage(now)},
                    "is_deleted": _FALSE,
                    "sha256": {"S": sha256},
                },
                ConditionExpression="attribute_not_exists(sk)",
            )
        except Refused as refused:
            # botocore resends a put whose answer was lost; the resend then meets the item
            # the first one wrote, which is our success, not a conflict
            mine = self.get_version(name, number)
            if mine is None or mine.sha256 != sha256 or mine.update_at != now_stored(now):
                raise ConcurrentWriteError(
                    f"version {number} of {name!r} was written by another tool meanwhile"
                ) from refused
        return VersionRecord(name, number, sha256, now, False)

    def _copy_in_parts(self, name: str, number: int) -> str:
        """Copy LATEST to version ``number`` with UploadPartCopy; return the frozen sha256.

        No checksum of the whole copy exists for a multipart copy, so what is frozen is
        proven differently from a single copy: one HeadObject names the source's ETag
        and its ``artifact_sha256``; every part is copied only if the source still has
        that ETag (S3 enforces it; moto does not), and the copy must come out with every
        part, the same size and the same metadata. Trusting ``artifact_sha256`` here
        trusts the put that wrote it, which S3 verified part by part.
        """
        source, target = self.key(name, None), self.key(name, number)
        try:
            head = self._s3("head_object", expect=("404", "NoSuchKey"), Key=source)
        except Refused as refused:
            raise not_found(name, None) from refused
        declared = str(head.get("Metadata", {}).get("artifact_sha256", ""))
        if not declared:
            raise IntegrityError(
                f"artifact {name!r}: LATEST's object does not say its sha256",
                name=name,
                version=LATEST,
                expected="",
                actual="",
            )
        try:
            multipart_copy(self.clients.s3, self.bucket, source, target, head)
        except BackendError as error:
            if "PreconditionFailed" in str(error):
                raise ConcurrentWriteError(f"LATEST of {name!r} changed during the copy") from error
            raise
        copy = self._s3("head_object", Key=target)
        same_size = copy.get("ContentLength") == head.get("ContentLength")
        if not same_size or copy.get("Metadata", {}).get("artifact_sha256") != declared:
            raise IntegrityError(
                f"artifact {name!r}: the multipart copy to version {number} differs from LATEST",
                name=name,
                version=str(number),
                expected=declared,
                actual=str(copy.get("Metadata", {}).get("artifact_sha256")),
            )
        return declared

    def _copied_sha256(
        self, name: str, number: int, copied: dict[str, Any], latest_sha: str
    ) -> str:
        encoded = copied.get("CopyObjectResult", {}).get("ChecksumSHA256")
        declared: str | None = None
        if encoded:
            actual = base64.b64decode(encoded).hex()
            if actual == latest_sha:
                return actual
        else:
            actual = ""
        # LATEST changed during the publish, or the store gave no checksum: the copy's
        # own metadata says which bytes it holds; they must agree with its checksum.
        head = self._s3("head_object", Key=self.key(name, number))
        declared = head.get("Metadata", {}).get("artifact_sha256")
        if declared and (not actual or actual == declared):
            return declared
        if actual and not declared:
            return actual  # S3's own checksum of the copy says which bytes it holds
        if not actual:
            raise ConcurrentWriteError(f"could not tell which bytes of {name!r} were copied")
        raise corrupt(name, None, str(declared), actual)  # LATEST's object contradicts itself

    def soft_delete(self, name: str, version: int | None) -> bool:
        item = self._get_item(name, version_to_key(version))
        if item is None or decode_version(item) is None:
            raise not_found(name, version)
        if item.get("is_deleted", {}).get("BOOL"):
            return False
        guard = item.get("alias_guard", {}).get("N")
        users = aliases_pointing_at(self.list_aliases(name), version)
        if users:
            raise in_use(name, version, users)
        # the guard must be unchanged: a put_alias since we read it may target this version
        if guard is None:
            guard_condition, values = "attribute_not_exists(alias_guard)", {}
        else:
            guard_condition, values = "alias_guard = :g", {":g": {"N": guard}}
        try:
            self._ddb(
                "update_item",
                expect=(_CONDITION_FAILED,),
                Key=_key(name, version_to_key(version)),
                UpdateExpression="SET is_deleted = :true",
                ConditionExpression=f"is_deleted = :false AND {guard_condition}",
                ExpressionAttributeValues={":true": _TRUE, ":false": _FALSE, **values},
            )
        except Refused as refused:
            raise ConcurrentWriteError(f"{name!r} changed during the delete") from refused
        return True

    def restore(self, name: str, version: int | None) -> VersionRecord:
        try:
            answer = self._ddb(
                "update_item",
                expect=(_CONDITION_FAILED,),
                Key=_key(name, version_to_key(version)),
                UpdateExpression="SET is_deleted = :false",
                ConditionExpression="attribute_exists(sha256) AND sha256 <> :empty",
                ExpressionAttributeValues={":false": _FALSE, ":empty": _EMPTY},
                ReturnValues="ALL_NEW",
            )
        except Refused as refused:
            raise not_found(name, version) from refused
        record = decode_version(answer["Attributes"])
        if record is None:
            raise not_found(name, version)
        return record

    # --- aliases -------------------------------------------------------------------------
    def put_alias(self, record: AliasRecord) -> AliasRecord:
        targets = record.targets()
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": encode_alias(record)}}
        ]
        for target in targets:
            actions.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _key(record.name, version_to_key(target)),
                        "UpdateExpression": (
                            "SET alias_guard = if_not_exists(alias_guard, :zero) + :one"
                        ),
                        "ConditionExpression": (
                            "attribute_exists(sha256) AND sha256 <> :empty AND is_deleted = :false"
                        ),
                        "ExpressionAttributeValues": {
                            ":zero": {"N": "0"},
                            ":one": {"N": "1"},
                            ":empty": _EMPTY,
                            ":false": _FALSE,
                        },
                    }
                }
            )
        try:
            call(
                self.clients.dynamodb,
                "transact_write_items",
                expect=("TransactionCanceledException",),
                TransactItems=actions,
            )
        except Refused as refused:
            reasons = refused.response.get("CancellationReasons", [])
            for index, reason in enumerate(reasons):
                if reason.get("Code") == "ConditionalCheckFailed" and index > 0:
                    raise not_found(record.name, targets[index - 1]) from refused
            raise ConcurrentWriteError(
                f"alias {record.alias!r} of {record.name!r}: the transaction was cancelled "
                f"({', '.join(r.get('Code', '?') for r in reasons)})"
            ) from refused
        return record

    def delete_alias(self, name: str, alias: str) -> None:
        self._ddb("delete_item", Key=_key(alias_partition(name), alias))

    # --- hard deletes and cleanup --------------------------------------------------------
    def _delete_items(self, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), 25):
            pending = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            delay = 0.05
            while pending:
                answer = call(
                    self.clients.dynamodb,
                    "batch_write_item",
                    RequestItems={self.table: pending},
                )
                pending = answer.get("UnprocessedItems", {}).get(self.table, [])
                if pending:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self._s3(
                "list_objects_v2",
                Prefix=prefix,
                **_page_start("ContinuationToken", token),
            )
            yield from page.get("Contents", [])
            token = page.get("NextContinuationToken")
            if not token:
                return

    def _delete_objects(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            answer = self._s3("delete_objects", Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise BackendError(f"could not delete {first.get('Key')}: {first.get('Message')}")

    def purge_artifact(self, name: str) -> None:
        keys = [
            _key(item["pk"]["S"], item["sk"]["S"])
            for pk in (alias_partition(name), name)
            for item in self._query_all(pk, ProjectionExpression="pk, sk")
        ]
        # LATEST (which holds the version counter) goes last: a purge cut short must not
        # leave numbered items behind a counter that would start again from 1
        keys.sort(key=lambda k: k["sk"]["S"] == LATEST and k["pk"]["S"] == name)
        self._delete_items(keys)  # metadata first: nothing may name bytes that are gone
        self._delete_objects([o["Key"] for o in self._objects(f"{self.prefix}/{name}/")])

    def find_orphans(self, older_than: datetime) -> list[str]:
        orphans: list[str] = []
        known: dict[str, dict[str, dict[str, Any]]] = {}
        for obj in self._objects(f"{self.prefix}/"):
            if obj["LastModified"] >= older_than:
                continue
            name, _, leaf = obj["Key"][len(self.prefix) + 1 :].partition("/")
            sk = leaf[: len(leaf) - len(self.suffix)] if self.suffix else leaf
            if not name or "/" in leaf or not _version_of(sk)[0]:
                continue
            if name not in known:
                known[name] = {i["sk"]["S"]: i for i in self._query_all(name)}
            if self._is_orphan(known[name].get(sk)):
                orphans.append(f"s3://{self.bucket}/{obj['Key']}")
        return orphans

    @staticmethod
    def _is_orphan(item: dict[str, Any] | None) -> bool:
        if item is None:
            return True
        if decode_version(item) is not None:
            return False
        # a put's placeholder: orphaned once nobody holds (or can still hold) its lease
        return "lease_until" not in item or float(item["lease_until"]["N"]) < time.time()

    def remove_orphans(self, uris: Iterable[str], older_than: datetime) -> list[str]:
        wanted = set(uris)
        removed: list[str] = []
        for uri in self.find_orphans(older_than):
            if uri in wanted:
                key = uri[len(f"s3://{self.bucket}/") :]
                self._s3("delete_object", Key=key)
                removed.append(uri)
        return removed
