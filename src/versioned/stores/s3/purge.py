"""Removing bytes: purging an artifact, and gc of bytes no item needs.

Both follow the fencing rule: the metadata is made to stop naming a key, by a holder of
that key, before the bytes under it are deleted, and every delete carries
``If-Match: <the ETag seen>``, so bytes someone wrote since are never removed.

A purge, in order:

1. takes LATEST's lease as a purge (waiting for a put in progress) and marks it
   ``purging``: from then on no put, publish or ``put_alias`` can start (each checks
   LATEST's item in its own condition);
2. waits, briefly, for publishes already in flight to commit or give up;
3. deletes the aliases (any alias written before step 1 is visible by then), then their
   history (every alias change checks the fence too, so none adds to it now);
4. hides every version item (``purging``, marked deleted), so nobody, 1.0.1 included,
   reads a version whose bytes are about to go, and claims in flight can't commit;
5. deletes the objects, each only if unchanged; then the version items, LATEST last
   (it holds the counter and the fence). A purge cut short leaves the fence up: puts
   refuse with a message saying to run the purge again, which finishes it.

gc takes each key the way a writer would before deleting under it: a number's key by
claiming its item (a stale claim only once it has expired), LATEST's by its lease.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from ...arguments import LATEST
from ...exc import BackendError, ConcurrentWriteError
from ...timestamps import to_storage, utc_now
from .calls import Refused, call
from .claim import CLAIM_SECONDS
from .expiry import release_claim
from .items import (
    CONDITION_FAILED,
    EMPTY,
    TRUE,
    alias_partition,
    history_partition,
    is_version_key,
    item_key,
    rollout_partition,
    seconds,
    text,
)
from .lease import LatestLease
from .place import S3Place

#: Requests in flight while deleting many objects or items.
_PARALLEL = 8


class Purger:
    """Purge and gc for one repository."""

    def __init__(self, place: S3Place, lease: LatestLease) -> None:
        self.place = place
        self.lease = lease

    # --- purge -----------------------------------------------------------------------------
    def purge_artifact(self, name: str) -> None:
        """Remove every alias, version and byte of ``name``. Raises ConcurrentWriteError."""
        fence = self.lease.take(name, "purge")
        with self.lease.heartbeat(fence):
            self._wait_for_publishes(name)
            # the aliases, their history and rollouts (no alias change passes the fence now)
            partitions = (alias_partition(name), history_partition(name), rollout_partition(name))
            for partition in partitions:
                self._delete_items(
                    [item_key(i["pk"]["S"], i["sk"]["S"]) for i in self._partition(partition)]
                )
            versions = [i for i in self._partition(name) if i["sk"]["S"] != LATEST]
            self._hide(name, versions, str(fence.token))
            self._delete_objects(f"{self.place.prefix}/{name}/")
            self._delete_items([item_key(name, i["sk"]["S"]) for i in versions])
        try:
            self.place.ddb(
                "delete_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(name, LATEST),
                ConditionExpression="lease_token = :t",
                ExpressionAttributeValues={":t": {"S": str(fence.token)}},
            )
        except Refused as refused:
            # a resend after a lost answer finds the item gone: that is our own delete
            if self.place.get_item(name, LATEST) is not None:
                raise ConcurrentWriteError(
                    f"the purge of {name!r} was taken over; run it again to finish"
                ) from refused

    def _partition(self, pk: str) -> list[dict[str, Any]]:
        return list(self.place.query_all(pk))

    def _wait_for_publishes(self, name: str) -> None:
        """Give publishes that claimed a number before the fence time to finish."""
        deadline = time.monotonic() + self.place.lease_seconds + 10
        delay = 0.02
        while time.monotonic() < deadline:
            now = time.time()
            in_flight = [
                i
                for i in self._partition(name)
                if "pending" in i and (seconds(i, "claim_until") or 0) > now and "purging" not in i
            ]
            if not in_flight:
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        # still there: a publisher that froze; hiding its claim keeps it from committing

    def _hide(self, name: str, items: list[dict[str, Any]], token: str) -> None:
        """Mark every version item ``purging`` (and deleted), 100 to a transaction."""
        for start in range(0, len(items), 100):
            actions = [
                {
                    "Update": {
                        "TableName": self.place.table,
                        "Key": item_key(name, item["sk"]["S"]),
                        "UpdateExpression": "SET purging = :p, is_deleted = :true",
                        "ConditionExpression": "attribute_exists(sk)",
                        "ExpressionAttributeValues": {":p": {"S": token}, ":true": TRUE},
                    }
                }
                for item in items[start : start + 100]
            ]
            try:
                self.place.transact(actions)
            except Refused:
                # an item vanished meanwhile (a claim given up): hide the rest one by one
                for action in actions:
                    update = dict(action["Update"])
                    update.pop("TableName")
                    with contextlib.suppress(Refused):
                        self.place.ddb("update_item", expect=(CONDITION_FAILED,), **update)

    def _delete_objects(self, prefix: str) -> None:
        """Delete every object under ``prefix``, each only if unchanged since listed."""
        for _ in range(5):
            listed = [(o["Key"], str(o["ETag"])) for o in self.place.objects(prefix)]
            if not listed:
                return
            client = self.place.clients.s3  # worker threads do not inherit the session
            with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
                for key, etag in listed:
                    pool.submit(self.place.delete_if_unchanged, key, etag, client)
        leftover = [o["Key"] for o in self.place.objects(prefix)]
        if leftover:
            raise ConcurrentWriteError(f"objects kept appearing under {prefix!r}: {leftover[:3]}")

    def _delete_items(self, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), 25):
            pending = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            delay = 0.05
            while pending:
                answer = call(
                    self.place.clients.dynamodb,
                    "batch_write_item",
                    RequestItems={self.place.table: pending},
                )
                pending = answer.get("UnprocessedItems", {}).get(self.place.table, [])
                if pending:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)

    # --- gc --------------------------------------------------------------------------------
    def find_orphans(self, older_than: datetime) -> list[tuple[str, str, str]]:
        """(artifact, sort key, ETag) of every object older than ``older_than`` that no
        item needs: no item, a claim that expired, or LATEST's placeholder nobody holds."""
        orphans: list[tuple[str, str, str]] = []
        partitions: dict[str, dict[str, dict[str, Any]]] = {}
        for obj in self.place.objects(f"{self.place.prefix}/"):
            if obj["LastModified"] >= older_than:
                continue
            name, _, leaf = obj["Key"][len(self.place.prefix) + 1 :].partition("/")
            if self.place.suffix and not leaf.endswith(self.place.suffix):
                continue
            sort_key = leaf[: len(leaf) - len(self.place.suffix)] if self.place.suffix else leaf
            if not name or "/" in leaf or not is_version_key(sort_key):
                continue
            if name not in partitions:
                partitions[name] = {i["sk"]["S"]: i for i in self.place.query_all(name)}
            items = partitions[name]
            if "purging" in items.get(LATEST, {}):
                continue  # a purge owns this artifact's bytes
            if _unneeded(items.get(sort_key), sort_key):
                orphans.append((name, sort_key, str(obj["ETag"])))
        return orphans

    def remove_orphans(self, wanted: Iterable[str], older_than: datetime) -> list[str]:
        """Remove those orphans whose URI is in ``wanted``; return the URIs removed."""
        chosen = set(wanted)
        removed: list[str] = []
        for name, sort_key, etag in self.find_orphans(older_than):
            number = None if sort_key == LATEST else int(sort_key)
            uri = self.place.uri(self.place.key(name, number))
            if uri not in chosen:
                continue
            remove = self._remove_latest if number is None else self._remove_numbered
            if remove(name, sort_key, etag):
                removed.append(uri)
        return removed

    def _remove_latest(self, name: str, sort_key: str, etag: str) -> bool:
        try:
            hold = self.lease.take(name, "gc", patient=False)
        except ConcurrentWriteError:
            return False  # a put holds LATEST right now: its bytes are not ours to judge
        try:
            if hold.old is not None and text(hold.old, "sha256"):
                return False  # a put committed since we looked
            return self.place.delete_if_unchanged(self.place.key(name, None), etag)
        finally:
            self.lease.delete_placeholder(hold)
            self.lease.drop(hold)

    def _remove_numbered(self, name: str, sort_key: str, etag: str) -> bool:
        token = {":g": {"S": uuid.uuid4().hex}}
        key = item_key(name, sort_key)
        claim = {
            "pending": {"S": token[":g"]["S"]},
            "claim_until": {"N": repr(time.time() + CLAIM_SECONDS)},
        }
        try:
            self.place.ddb(
                "update_item",
                expect=(CONDITION_FAILED,),
                Key=key,
                UpdateExpression=(
                    "SET pending = :g, claim_until = :u, is_deleted = :true, "
                    "sha256 = if_not_exists(sha256, :empty), "
                    "update_at = if_not_exists(update_at, :now)"
                ),
                # no item, or a claim that expired; never a version or a purge's item
                # (or our own claim: botocore resends an update whose answer was lost)
                ConditionExpression=(
                    "attribute_not_exists(sk) OR pending = :g OR (claim_until < :clock "
                    "AND attribute_exists(pending) AND attribute_not_exists(purging))"
                ),
                ExpressionAttributeValues={
                    **token,
                    ":u": claim["claim_until"],
                    ":true": TRUE,
                    ":empty": EMPTY,
                    ":now": {"S": to_storage(utc_now())},
                    ":clock": {"N": repr(time.time())},
                },
            )
        except Refused:
            return False
        try:
            return self.place.delete_if_unchanged(self.place.key(name, int(sort_key)), etag)
        finally:
            with contextlib.suppress(Refused, BackendError):
                # an expired version's claim (an expiry cut short) leaves its tombstone:
                # the number stays taken
                self.place.ddb(
                    "delete_item",
                    expect=(CONDITION_FAILED,),
                    Key=key,
                    ConditionExpression="pending = :g AND attribute_not_exists(expired)",
                    ExpressionAttributeValues=token,
                )
            with contextlib.suppress(BackendError):
                release_claim(self.place, name, sort_key, token[":g"]["S"])


def _unneeded(item: dict[str, Any] | None, sort_key: str) -> bool:
    """True when no item needs the object at ``sort_key`` (see :meth:`Purger.find_orphans`)."""
    if item is None:
        return True
    now = time.time()
    if "pending" in item:
        return (seconds(item, "claim_until") or 0) < now
    if text(item, "sha256") or "purging" in item:
        return False
    # LATEST's placeholder: orphaned once nobody holds (or can still hold) its lease
    until = seconds(item, "lease_until")
    return sort_key == LATEST and (until is None or until < now)
