"""The S3 + DynamoDB backend: reads, aliases, soft deletes, and the parts that write bytes.

Writes of bytes live in their own modules: a put of LATEST under its lease
(``latest.py``, ``lease.py``), a publish's claim and copy (``claim.py``), purge and gc
(``purge.py``). What stays here are the metadata-only steps:

- aliases, their revisions and history (``aliases.py``): each change is one transaction
  with its history entry, an update of each target version (bumping its ``alias_guard``)
  on the condition that it is live, and the condition that no purge has fenced the
  artifact. A soft delete is conditioned on the guard it read before looking at the
  aliases, so either side of that race sees the other.
- Retention soft-deletes many versions with several requests in flight, each conditioned
  on the guard read with the listing.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, BinaryIO, cast

from botocore.exceptions import BotoCoreError, ClientError

from ...arguments import LATEST, version_to_key
from ...exc import ArtifactNotFoundError, BackendError, ConcurrentWriteError, VersionInUseError
from ...rules import aliases_pointing_at, in_use, not_found
from ...timestamps import to_storage, utc_now
from ..base import (
    AliasChange,
    AliasRecord,
    Backend,
    BlobStream,
    ChainMarks,
    ChangeNote,
    LatestWrite,
    Payload,
    StoredRollout,
    VersionRecord,
)
from . import expiry, rollouts
from .aliases import S3Aliases
from .calls import AwsClients, Refused, call
from .claim import Publisher
from .items import (
    CONDITION_FAILED,
    EMPTY,
    FALSE,
    TRUE,
    artifact_of_partition,
    decode_version,
    item_key,
    page_start,
)
from .latest import LatestWriter
from .lease import LatestLease
from .place import MISSING_OBJECT, S3Place
from .probe import STORE_PK, Capabilities, StoreCheck
from .purge import Purger
from .transfer import MAX_SINGLE_COPY, WORKERS, RangedReader

#: Soft deletes in flight during retention.
_RETENTION_PARALLEL = 8


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
        single_writer: bool = False,
    ) -> None:
        self.place = S3Place(clients, bucket, prefix.strip("/"), table, suffix, lease_seconds)
        self.lease = LatestLease(self.place)
        self.writer = LatestWriter(self.place, self.lease)
        self.publisher = Publisher(self.place, copy_threshold)
        #: What the store enforces, and the refusal of one that cannot fence.
        self.store_check = StoreCheck(self.place, single_writer, self._learned)
        self.purger = Purger(self.place, self.lease)
        self.aliases = S3Aliases(self.place)
        #: Parallel ranged GETs per download (1: one streamed GET).
        self.download_workers = download_workers

    @property
    def clients(self) -> AwsClients:
        """The repository's boto3 clients."""
        return self.place.clients

    @property
    def copy_threshold(self) -> int:
        """Objects larger than this publish through a multipart copy."""
        return self.publisher.copy_threshold

    @copy_threshold.setter
    def copy_threshold(self, value: int) -> None:
        self.publisher.copy_threshold = value

    def key(self, name: str, version: int | None) -> str:
        """The object key of a version (``prefix/name/000005{suffix}``)."""
        return self.place.key(name, version)

    def version_uri(self, name: str, version: int | None, sha256: str | None) -> str:
        return self.place.uri(self.place.key(name, version))

    # --- set-up ----------------------------------------------------------------------------
    def bootstrap(self, write_capacity: int | None, read_capacity: int | None) -> None:
        place = self.place
        bucket_options: dict[str, Any] = {}
        if place.clients.region != "us-east-1":
            bucket_options["CreateBucketConfiguration"] = {
                "LocationConstraint": place.clients.region
            }
        with contextlib.suppress(Refused):
            place.s3("create_bucket", expect=("BucketAlreadyOwnedByYou",), **bucket_options)
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
            place.ddb(
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
        waiter = place.clients.dynamodb.get_waiter("table_exists")
        try:
            waiter.wait(TableName=place.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        except (BotoCoreError, ClientError) as error:
            raise BackendError(f"table {place.table!r} did not become ready: {error}") from error
        self.store_check.bootstrap()

    def _learned(self, found: Capabilities) -> None:
        self.publisher.copy_if_none_match = found.copy_if_none_match

    # --- reads -----------------------------------------------------------------------------
    def get_version(self, name: str, version: int | None) -> VersionRecord | None:
        item = self.place.get_item(name, version_to_key(version))
        record = None if item is None else decode_version(item)
        self.aliases.remember(record)
        return record

    def list_versions(self, name: str) -> list[VersionRecord]:
        records = [decode_version(item) for item in self.place.query_all(name)]
        for record in records:
            self.aliases.remember(record)
        return [r for r in records if r is not None]

    def list_names(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        prefix = self.place.prefix
        while True:
            page = self.place.s3(
                "list_objects_v2",
                Prefix=f"{prefix}/",
                Delimiter="/",
                **page_start("ContinuationToken", token),
            )
            names += [p["Prefix"][len(prefix) + 1 : -1] for p in page.get("CommonPrefixes", [])]
            token = page.get("NextContinuationToken")
            if not token:
                break
        # no artifact name starts with "__" (the probe's folder does)
        names = [n for n in names if not n.startswith("__")]
        found = self.store_check.known()
        if found is not None and found.keeps_empty_prefixes:
            names = self._holding_objects(names)
        return sorted(names)

    def _holding_objects(self, names: list[str]) -> list[str]:
        """The names whose folder still holds an object (a store that keeps a folder after
        its last object is deleted lists purged artifacts too): one small listing each."""

        def holds(name: str) -> bool:
            page = self.place.s3(
                "list_objects_v2", Prefix=f"{self.place.prefix}/{name}/", MaxKeys=1
            )
            return bool(page.get("KeyCount", len(page.get("Contents", []))))

        with ThreadPoolExecutor(max_workers=_RETENTION_PARALLEL) as pool:
            run = [pool.submit(contextvars.copy_context().run, holds, n) for n in names]
            return [n for n, future in zip(names, run, strict=True) if future.result()]

    def all_names(self) -> list[str]:
        names = set(self.list_names())
        start: dict[str, Any] | None = None
        while True:
            page = self.place.ddb(
                "scan", ProjectionExpression="pk", **page_start("ExclusiveStartKey", start)
            )
            names.update(
                artifact_of_partition(item["pk"]["S"])
                for item in page.get("Items", [])
                if item["pk"]["S"] != STORE_PK
            )
            start = page.get("LastEvaluatedKey")
            if not start:
                return sorted(names)

    def get_alias(self, name: str, alias: str) -> AliasRecord | None:
        return self.aliases.get(name, alias)

    def list_aliases(self, name: str) -> list[AliasRecord]:
        return self.aliases.list_all(name)

    def open_blob(self, name: str, version: int | None, sha256: str) -> BinaryIO:
        key = self.place.key(name, version)
        s3 = self.place.clients.s3
        try:
            first = call(s3, "get_object", expect=MISSING_OBJECT, Bucket=self.place.bucket, Key=key)
        except Refused as refused:
            raise not_found(name, version) from refused
        reader = RangedReader(
            s3, self.place.bucket, key, first, self.place.uri(key), self.download_workers
        )
        stream = BlobStream(reader, buffer_size=1024 * 1024)
        stream.declared_sha256 = first.get("Metadata", {}).get("artifact_sha256")
        return cast(BinaryIO, stream)

    # --- LATEST ----------------------------------------------------------------------------
    def begin_latest_write(self, name: str) -> LatestWrite:
        self.store_check.before_write()
        return self.writer.begin(name)

    def touch_latest_at_once(self, name: str, sha256: str, now: datetime) -> VersionRecord | None:
        return self.writer.touch_at_once(name, sha256, now)

    def touch_latest(self, write: LatestWrite, sha256: str, now: datetime) -> VersionRecord | None:
        return self.writer.touch(write, sha256, now)

    def upload_latest(self, write: LatestWrite, payload: Payload) -> None:
        self.writer.upload(write, payload)

    def commit_latest(self, write: LatestWrite, payload: Payload, now: datetime) -> VersionRecord:
        return self.writer.commit(write, payload, now)

    def abort_latest(self, write: LatestWrite, payload: Payload | None) -> None:
        self.writer.abort(write, payload)

    def adopt_latest(self, name: str, sha256: str) -> bool:
        return self.writer.adopt(name, sha256)

    # --- versions --------------------------------------------------------------------------
    def publish(self, name: str, now: datetime) -> VersionRecord:
        self.store_check.before_write()
        record = self.publisher.publish(name, now)
        self.aliases.remember(record)
        return record

    def soft_delete(self, name: str, version: int | None) -> bool:
        item = self.place.get_item(name, version_to_key(version))
        if item is None or decode_version(item) is None:
            raise not_found(name, version)
        if item.get("is_deleted", {}).get("BOOL"):
            return False
        users = aliases_pointing_at(self.list_aliases(name), version)
        if users:
            raise in_use(name, version, users)
        return self._mark_deleted(name, version, item.get("alias_guard", {}).get("N"))

    def _mark_deleted(self, name: str, version: int | None, guard: str | None) -> bool:
        """Soft-delete if no ``put_alias`` touched the version since its guard was read."""
        if guard is None:
            guard_condition, values = "attribute_not_exists(alias_guard)", {}
        else:
            guard_condition, values = "alias_guard = :g", {":g": {"N": guard}}
        try:
            self.place.ddb(
                "update_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(name, version_to_key(version)),
                UpdateExpression="SET is_deleted = :true, deleted_at = :now",
                ConditionExpression=f"is_deleted = :false AND {guard_condition}",
                ExpressionAttributeValues={
                    ":true": TRUE,
                    ":false": FALSE,
                    ":now": {"S": to_storage(utc_now())},
                    **values,
                },
            )
        except Refused as refused:
            raise ConcurrentWriteError(f"{name!r} changed during the delete") from refused
        return True

    def soft_delete_many(self, name: str, records: list[VersionRecord]) -> list[int | None]:
        """Retention: the deletes in parallel, each conditioned on the ``alias_guard`` the
        caller's listing read (no second listing: see ``Backend.soft_delete_many``).

        A delete refused because the version changed since the listing (a ``put_alias``
        bumped its guard, say) is retried the careful way, one request at a time.
        """
        listed = {r.version: r for r in records}
        versions = list(listed)

        def delete(version: int | None) -> bool:
            record = listed[version]
            if record.is_deleted:
                return False
            try:
                return self._mark_deleted(name, version, record.guard)
            except ConcurrentWriteError:
                pass
            for _ in range(5):
                try:
                    return self.soft_delete(name, version)
                except (VersionInUseError, ArtifactNotFoundError):
                    return False
                except ConcurrentWriteError:
                    continue
            return False

        with ThreadPoolExecutor(max_workers=_RETENTION_PARALLEL) as pool:
            # each task runs in a copy of our context: it holds the caller's session
            futures = [pool.submit(contextvars.copy_context().run, delete, v) for v in versions]
            done = [f.result() for f in futures]
        return [v for v, deleted in zip(versions, done, strict=True) if deleted]

    def restore(self, name: str, version: int | None) -> VersionRecord:
        try:
            answer = self.place.ddb(
                "update_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(name, version_to_key(version)),
                UpdateExpression="SET is_deleted = :false REMOVE deleted_at",
                ConditionExpression=(
                    "attribute_exists(sha256) AND sha256 <> :empty "
                    "AND attribute_not_exists(pending) AND attribute_not_exists(purging)"
                ),
                ExpressionAttributeValues={":false": FALSE, ":empty": EMPTY},
                ReturnValues="ALL_NEW",
            )
        except Refused as refused:
            raise not_found(name, version) from refused
        record = decode_version(answer["Attributes"])
        if record is None:
            raise not_found(name, version)
        self.aliases.remember(record)
        return record

    def date_deletion(self, name: str, version: int, now: datetime) -> bool:
        return expiry.date_deletion(self.place, name, version, now)

    def expire_version(self, name: str, version: int, deleted_at: datetime) -> int | None:
        return expiry.expire_version(self.place, name, version, deleted_at)

    # --- aliases ---------------------------------------------------------------------------
    def put_alias(self, record: AliasRecord, note: ChangeNote) -> AliasRecord:
        return self.aliases.put(record, note)

    def delete_alias(self, name: str, alias: str, note: ChangeNote) -> AliasRecord | None:
        return self.aliases.delete(name, alias, note)

    def alias_history(
        self, name: str, alias: str, limit: int, before_revision: int | None
    ) -> list[AliasChange]:
        return self.aliases.history(name, alias, limit, before_revision)

    def chain_marks(self, name: str, alias: str) -> ChainMarks:
        return self.aliases.chain_marks(name, alias)

    def aliases_with_history(self, name: str) -> list[str]:
        return self.aliases.with_history(name)

    def identity(self) -> str:
        return self.aliases.identity()

    # --- rollouts --------------------------------------------------------------------------
    def get_rollout(self, name: str, alias: str, number: int | None) -> StoredRollout | None:
        return rollouts.get(self.place, name, alias, number)

    def list_rollouts(self, name: str, alias: str, limit: int) -> list[StoredRollout]:
        return rollouts.newest_first(self.place, name, alias, limit)

    def write_rollout(self, record: StoredRollout, expected_seq: int) -> None:
        # metadata only, conditional on DynamoDB: no S3 condition to probe for
        rollouts.write(self.place, record, expected_seq)

    # --- hard deletes and cleanup ----------------------------------------------------------
    def purge_artifact(self, name: str) -> None:
        self.store_check.before_write()
        try:
            self.purger.purge_artifact(name)
        finally:
            self.aliases.forget(name)

    def find_orphans(self, older_than: datetime) -> list[str]:
        return sorted(
            self.place.uri(self.place.key(name, None if sk == LATEST else int(sk)))
            for name, sk, _ in self.purger.find_orphans(older_than)
        )

    def remove_orphans(self, uris: Iterable[str], older_than: datetime) -> list[str]:
        self.store_check.before_write()
        return sorted(self.purger.remove_orphans(uris, older_than))
