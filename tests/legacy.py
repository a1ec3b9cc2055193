"""What versioned 1.0.1 does to and sees in an S3 + DynamoDB repository, with plain boto3.

This is a model of 1.0.1's behaviour for tests: a writer that alternates with this library
(:meth:`Legacy.put`, :meth:`Legacy.publish`) and 1.0.1's reader view
(:meth:`Legacy.list_versions`, :meth:`Legacy.get_version`, :meth:`Legacy.list_aliases`,
:meth:`Legacy.read`), plus :meth:`Legacy.violations`: what a 1.0.1 reader would find wrong.

Facts read in MacHu-GWU/versioned-project (``versioned/s3_and_dynamodb_backend.py`` and
``versioned/dynamodb.py``, the pynamodb models); the code here is ours:

- Items are pynamodb models: ``pk``, ``sk``, ``update_at`` (UTC), ``is_deleted`` (BOOL,
  default false) and ``sha256`` (S) for versions; ``version``, ``secondary_version``,
  ``secondary_version_weight`` for aliases. Attributes it does not model are ignored on
  read and *dropped* on its whole-item writes (``Model.save`` is a PutItem).
- put: hashes the content; if LATEST's object exists (HeadObject) and its
  ``artifact_sha256`` metadata equals the new hash, it returns without writing anything
  (dedup trusts the object's metadata, not the item). Otherwise PutObject of LATEST (with
  ``artifact_name`` / ``artifact_sha256`` metadata), HeadObject, then an unconditional
  PutItem of LATEST's item (``is_deleted`` false, ``sha256`` = the hash, ``update_at`` =
  the object's LastModified).
- publish: Query of the artifact partition, newest first (``ScanIndexForward=False``),
  ``Limit=2``, with no filter: none -> not found; one (LATEST) -> version 1; otherwise the
  second item's ``sk`` (the highest numbered key, soft-deleted or not) + 1. Then a
  server-side CopyObject LATEST -> the numbered key (metadata copied), HeadObject, and an
  unconditional PutItem of the numbered item with ``sha256`` = LATEST's *item* sha256 as
  read by that first Query (before the copy), ``update_at`` = the copy's LastModified.
- readers: get_artifact_version is a GetItem; an item with ``is_deleted`` true is
  reported as not found. list_artifact_versions is a Query, newest first, with the filter
  ``is_deleted = false``: every item in the partition with ``is_deleted`` false is listed
  as a version, whatever else it carries. No read checks a hash: content is read straight
  from the object key (``{prefix}/{name}/{sk}{suffix}``).
- aliases: GetItem / Query of the ``__{name}-alias`` partition; the version is the alias
  item's ``version`` (``LATEST`` or zero-padded), read without checking the version is live.
- soft delete: an UpdateItem ``SET is_deleted = true`` with no condition.
- put_alias: a GetItem of each target (refused if missing or soft-deleted), then an
  unconditional PutItem of the whole alias item (``update_at`` = now, ``version``,
  ``secondary_version`` and ``secondary_version_weight`` when split); attributes it does
  not model (our ``revision``, ``history_head``, target hashes) are dropped.
  delete_alias: an unconditional DeleteItem.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from tests.invariants import query_partition

LATEST = "LATEST"
#: 1.0.1 stores ``update_at`` in pynamodb's UTCDateTimeAttribute text form.
UPDATE_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+0000"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sk(version: int | str | None) -> str:
    if version is None or version == LATEST:
        return LATEST
    return str(int(version)).zfill(6)


@dataclass
class Legacy:
    """versioned 1.0.1 on one bucket and table, through raw boto3 clients."""

    s3: Any
    dynamodb: Any
    bucket: str
    table: str
    prefix: str = "versioned-artifacts"
    suffix: str = ""

    def key(self, name: str, version: int | str | None) -> str:
        return f"{self.prefix}/{name}/{_sk(version)}{self.suffix}"

    # --- 1.0.1's writes ----------------------------------------------------------------
    def put(self, name: str, content: bytes) -> None:
        """1.0.1's ``put_artifact``: dedup on the object's metadata, object, whole item."""
        sha256 = _sha256(content)
        key = self.key(name, None)
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            head = None
        if head is not None and head.get("Metadata", {}).get("artifact_sha256") == sha256:
            return
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=content,
            Metadata={"artifact_name": name, "artifact_sha256": sha256},
        )
        landed = self.s3.head_object(Bucket=self.bucket, Key=key)["LastModified"]
        self._save(name, LATEST, sha256, landed)

    def publish(self, name: str) -> int:
        """1.0.1's ``publish_artifact_version``; returns the number it wrote."""
        newest = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": name}},
            ScanIndexForward=False,
            Limit=2,
        )["Items"]
        if not newest:
            raise LookupError(f"1.0.1: artifact {name!r} not found")
        number = 1 if len(newest) == 1 else int(newest[1]["sk"]["S"]) + 1
        target = self.key(name, number)
        self.s3.copy_object(
            Bucket=self.bucket,
            Key=target,
            CopySource={"Bucket": self.bucket, "Key": self.key(name, None)},
        )
        landed = self.s3.head_object(Bucket=self.bucket, Key=target)["LastModified"]
        self._save(name, _sk(number), newest[0].get("sha256", {}).get("S"), landed)
        return number

    def delete(self, name: str, version: int | str | None) -> None:
        """1.0.1's ``delete_artifact_version``: an unconditional soft delete."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": name}, "sk": {"S": _sk(version)}},
            UpdateExpression="SET is_deleted = :true",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

    def put_alias(
        self,
        name: str,
        alias: str,
        version: int | str | None = None,
        secondary_version: int | str | None = None,
        secondary_version_weight: int | None = None,
    ) -> None:
        """1.0.1's ``put_alias``: targets looked up, then the whole item replaced."""
        targets = [version] + ([secondary_version] if secondary_version is not None else [])
        for target in targets:
            if self.get_version(name, target) is None:
                raise LookupError(f"1.0.1: {name!r} version {_sk(target)} not found")
        item: dict[str, Any] = {
            "pk": {"S": f"__{name}-alias"},
            "sk": {"S": alias},
            "update_at": {"S": datetime.now(timezone.utc).strftime(UPDATE_AT_FORMAT)},
            "version": {"S": _sk(version)},
        }
        if secondary_version is not None:
            item["secondary_version"] = {"S": _sk(secondary_version)}
            item["secondary_version_weight"] = {"N": str(secondary_version_weight)}
        self.dynamodb.put_item(TableName=self.table, Item=item)

    def delete_alias(self, name: str, alias: str) -> None:
        """1.0.1's ``delete_alias``: an unconditional DeleteItem."""
        self.dynamodb.delete_item(
            TableName=self.table, Key={"pk": {"S": f"__{name}-alias"}, "sk": {"S": alias}}
        )

    def _save(self, name: str, sk: str, sha256: str | None, moment: Any) -> None:
        item: dict[str, Any] = {
            "pk": {"S": name},
            "sk": {"S": sk},
            "update_at": {"S": moment.astimezone(timezone.utc).strftime(UPDATE_AT_FORMAT)},
            "is_deleted": {"BOOL": False},
        }
        if sha256 is not None:
            item["sha256"] = {"S": sha256}
        self.dynamodb.put_item(TableName=self.table, Item=item)

    # --- 1.0.1's reader view -----------------------------------------------------------
    def _partition(self, pk: str) -> list[dict[str, Any]]:
        return query_partition(self.dynamodb, self.table, pk, newest_first=True)

    def list_versions(self, name: str) -> list[dict[str, Any]]:
        """The items 1.0.1 lists as versions, newest first (LATEST first)."""
        return [
            item
            for item in self._partition(name)
            if not item.get("is_deleted", {}).get("BOOL", False)
        ]

    def get_version(self, name: str, version: int | str | None) -> dict[str, Any] | None:
        """The item 1.0.1 returns for a version, or None where it reports not found."""
        item: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": name}, "sk": {"S": _sk(version)}}
        ).get("Item")
        if item is None or item.get("is_deleted", {}).get("BOOL", False):
            return None
        return item

    def list_aliases(self, name: str) -> dict[str, list[str]]:
        """alias -> the version keys it routes to, as 1.0.1 reads them."""
        aliases: dict[str, list[str]] = {}
        for item in self._partition(f"__{name}-alias"):
            targets = [item["version"]["S"]]
            if "secondary_version" in item:
                targets.append(item["secondary_version"]["S"])
            aliases[item["sk"]["S"]] = targets
        return aliases

    def read(self, name: str, sk: str) -> bytes | None:
        """The bytes 1.0.1 serves for version key ``sk`` (None: no object)."""
        key = f"{self.prefix}/{name}/{sk}{self.suffix}"
        try:
            body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return body

    def violations(self, name: str, *, allow_expired_leases: bool = False) -> list[str]:
        """What a 1.0.1 reader of ``name`` would get wrong, one line each.

        Every version it lists must carry a sha256 and an object hashing to it (LATEST may
        disagree only under a put's lease: a put in progress, or with
        ``allow_expired_leases`` a crashed one); an item marked ``pending`` must never be
        listed; every alias must route to versions it lists.
        """
        problems: list[str] = []
        listed: set[str] = set()
        for item in self.list_versions(name):
            sk = item["sk"]["S"]
            listed.add(sk)
            sha256 = item.get("sha256", {}).get("S", "")
            if "pending" in item:
                problems.append(f"1.0.1 lists {name} {sk}: a pending item")
            if not sha256:
                problems.append(f"1.0.1 lists {name} {sk} with no sha256")
                continue
            data = self.read(name, sk)
            lease = item.get("lease_until", {}).get("N")
            in_doubt = sk == LATEST and (
                lease is not None and (allow_expired_leases or float(lease) > time.time())
            )
            if data is None:
                problems.append(f"1.0.1 lists {name} {sk} (sha256 {sha256[:12]}) with no object")
            elif _sha256(data) != sha256 and not in_doubt:
                problems.append(
                    f"1.0.1 serves {name} {sk}: bytes hash to {_sha256(data)[:12]}, "
                    f"its item says {sha256[:12]}"
                )
        for alias, targets in self.list_aliases(name).items():
            for target in targets:
                if target not in listed:
                    problems.append(f"1.0.1 alias {name}/{alias} routes to unlisted {target}")
        return problems
