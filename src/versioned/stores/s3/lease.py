"""The lease on LATEST: who may write LATEST's object, and until when.

A put, a purge and gc each hold LATEST's item while they touch LATEST's object: a
conditional update writes a random token and an expiry into the item and returns the old
item (what dedup, the object's precondition and a takeover need to know). The lease is
renewed while a long upload runs and released by a conditional update that also commits
what the holder did. A purge additionally leaves ``purging`` on the item: from then on no
put, publish or alias write can start on the artifact.

A lease only tells holders apart; it cannot stop a holder that froze past its expiry from
sending requests later. What stops its bytes is the S3 condition on every write of LATEST's
object (``latest.py``), and what stops a frozen multipart upload is the new holder
aborting it (its ``upload_id`` is recorded here before any part is sent).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ...arguments import LATEST
from ...exc import BackendError, ConcurrentWriteError
from ...timestamps import to_storage, utc_now
from ..base import LatestWrite
from .calls import Refused, call
from .items import CONDITION_FAILED, EMPTY, TRUE, item_key, seconds, text
from .place import S3Place
from .waker import WAKER

#: Who takes the lease: a put (creates a placeholder item if there is none), gc (the same)
#: or a purge (which also fences the artifact with ``purging``).
Holder = Literal["put", "gc", "purge"]
#: The heartbeat's whole update: it only pushes the expiry on. Its placeholder is its own,
#: so tests can tell a timed beat from a renewal that is a step of a write.
HEARTBEAT_UPDATE = "SET lease_until = :beat"


@dataclass
class S3LatestWrite(LatestWrite):
    """A lease on LATEST and what its holder learnt and did under it."""

    #: LATEST's item as it was before the lease was taken (None: there was none).
    old: dict[str, Any] | None = None
    #: The ETag LATEST's object must have for our write to land (None: no object may
    #: exist); ``expect_known`` False: unknown yet, look the object up first.
    expect_etag: str | None = None
    expect_known: bool = False
    #: The ETag our bytes got once they landed at LATEST's key.
    landed_etag: str | None = None
    #: Whether we recorded a multipart upload's id under the lease (``renew``).
    recorded_upload: bool = False


def _held(write: LatestWrite, attributes: tuple[str, ...]) -> list[str]:
    """Of ``upload_id`` and ``attributes``, those LATEST's item may hold under our lease:
    every one unless ``write`` knows the item as it was taken (an ``S3LatestWrite``)."""
    if not isinstance(write, S3LatestWrite):
        return ["upload_id", *attributes]
    old = write.old or {}
    held = ["upload_id"] if write.recorded_upload or "upload_id" in old else []
    return held + [attribute for attribute in attributes if attribute in old]


def interrupted_purge(name: str) -> ConcurrentWriteError:
    """The error for an artifact whose purge was cut short and is not running any more."""
    return ConcurrentWriteError(
        f"a purge of {name!r} was interrupted; run purge_artifact({name!r}) again to finish it"
    )


class LatestLease:
    """Takes, renews and releases leases on the LATEST items of one repository."""

    def __init__(self, place: S3Place) -> None:
        self.place = place

    def take(
        self,
        name: str,
        holder: Holder = "put",
        *,
        patient: bool = True,
        wait_seconds: float | None = None,
        known: bool = False,
    ) -> S3LatestWrite:
        """Wait for LATEST to be free, then hold it; return what it held before.

        Raises ConcurrentWriteError when another holder keeps it past the lease time plus
        10 s (at once when not ``patient``), or when a purge was interrupted (only another
        purge may take over then).

        ``known``: the caller saw LATEST's item exist, so a put first sends the short
        update that takes the lease on an existing item only (moto answered it about 2 ms
        sooner than the one that can also create the item); refused for want of an item,
        it sends the full one at once.
        """
        token = uuid.uuid4().hex
        short = known and holder == "put"
        wait = self.place.lease_seconds + 10 if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + wait
        delay = 0.02
        while True:
            now = time.time()
            try:
                answer = self.place.ddb(
                    "update_item",
                    expect=(CONDITION_FAILED,),
                    Key=item_key(name, LATEST),
                    **self._taking(token, now, holder, short),
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except Refused as refused:
                held = refused.response.get("Item") or {}
                if short and not held:
                    short = False  # no item (purged meanwhile): the update that makes one
                    continue
                until = seconds(held, "lease_until")
                if holder != "purge" and "purging" in held and (until is None or until < now):
                    raise interrupted_purge(name) from None
                if not patient or time.monotonic() > deadline:
                    raise ConcurrentWriteError(
                        f"LATEST of {name!r} was held by another writer for over "
                        f"{self.place.lease_seconds} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            old = answer.get("Attributes")
            write = S3LatestWrite(name=name, current=None, token=token, old=old)
            write.created_item = not old or not text(old, "sha256")
            upload_id = None if old is None else text(old, "upload_id")
            if upload_id and "lease_until" in (old or {}):
                # a holder that lost its lease may still be uploading: its Complete must fail
                self.place.abort_upload(self.place.key(name, None), upload_id)
            return write

    def _taking(
        self, token: str, now: float, holder: Holder, short: bool = False
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":t": {"S": token},
            ":u": {"N": repr(now + self.place.lease_seconds)},
            ":clock": {"N": repr(now)},
        }
        # our own token too: botocore may resend an update whose answer was lost
        free = "(attribute_not_exists(lease_until) OR lease_until < :clock OR lease_token = :t)"
        if holder == "purge":
            values[":true"] = TRUE  # hidden from every reader, 1.0.1's too, from now on
            # another purge's fence may be taken over: purges only ever remove, so two
            # finishing the same purge is safe, and one cut short is finished at once
            return {
                "UpdateExpression": (
                    "SET lease_token = :t, lease_until = :u, purging = :t, is_deleted = :true"
                ),
                "ConditionExpression": f"{free} OR attribute_exists(purging)",
                "ExpressionAttributeValues": values,
            }
        if short:
            # an item that exists has every attribute the full form fills in if missing
            # (ours and 1.0.1's alike); attribute_exists makes this never create one
            return {
                "UpdateExpression": "SET lease_token = :t, lease_until = :u",
                "ConditionExpression": (
                    f"{free} AND attribute_not_exists(purging) AND attribute_exists(sha256)"
                ),
                "ExpressionAttributeValues": values,
            }
        values.update({":true": TRUE, ":empty": EMPTY, ":now": {"S": to_storage(utc_now())}})
        return {
            "UpdateExpression": (
                "SET lease_token = :t, lease_until = :u, "
                "is_deleted = if_not_exists(is_deleted, :true), "
                "sha256 = if_not_exists(sha256, :empty), "
                "update_at = if_not_exists(update_at, :now)"
            ),
            "ConditionExpression": f"{free} AND attribute_not_exists(purging)",
            "ExpressionAttributeValues": values,
        }

    def renew(self, write: LatestWrite, **extra: str) -> bool:
        """Extend the lease (and SET ``extra`` string attributes); False if it is lost."""
        assignments = ["lease_until = :u", *(f"{k} = :{k}" for k in extra)]
        if "upload_id" in extra and isinstance(write, S3LatestWrite):
            write.recorded_upload = True  # from now on the item may hold it, whatever comes
        try:
            self.place.ddb(
                "update_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(write.name, LATEST),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="lease_token = :t",
                ExpressionAttributeValues={
                    ":t": {"S": str(write.token)},
                    ":u": {"N": repr(time.time() + self.place.lease_seconds)},
                    **{f":{k}": {"S": v} for k, v in extra.items()},
                },
            )
        except Refused:
            return False
        return True

    def release(
        self,
        write: LatestWrite,
        assignments: str = "",
        values: dict[str, Any] | None = None,
        removals: tuple[str, ...] = (),
        if_held: tuple[str, ...] = (),
    ) -> None:
        """End the lease, applying ``assignments`` (a ``SET …`` clause) in the same update.

        ``removals`` are removed whatever the item holds; ``if_held`` only when the item
        holds them. While the lease is ours only we write the item (anyone else's write
        is conditioned on the lease, or, 1.0.1's, replaces the whole item, which our
        condition then refuses), so it holds what it held when we took the lease plus what
        we set since: an attribute absent from both needs no REMOVE, and each one named
        cost moto about 0.2 ms.

        Raises ConcurrentWriteError when the lease was lost (another holder took over).
        """
        removed = ", ".join(("lease_token", "lease_until", *removals, *_held(write, if_held)))
        try:
            self.place.ddb(
                "update_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(write.name, LATEST),
                UpdateExpression=f"{assignments} REMOVE {removed}",
                ConditionExpression="lease_token = :t",
                ExpressionAttributeValues={":t": {"S": str(write.token)}, **(values or {})},
            )
        except Refused as refused:
            raise ConcurrentWriteError(
                f"the write of {write.name!r} outlived its lease; another writer took over"
            ) from refused
        write.token = None

    def drop(self, write: LatestWrite, *, unsure: bool = False) -> None:
        """Release without changing anything, or with ``unsure`` removing ``object_etag``
        (the object may hold other bytes than the item names: identical puts must look
        at it, see ``LatestWriter.touch_at_once``); never raises (the lease expires anyway).
        """
        if write.token is not None:
            with contextlib.suppress(Exception):
                self.release(write, removals=("object_etag",) if unsure else ())

    def delete_placeholder(self, write: LatestWrite) -> None:
        """Remove a LATEST item that names no bytes, if we still hold it (best effort)."""
        with contextlib.suppress(Exception):
            self.place.ddb(
                "delete_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(write.name, LATEST),
                ConditionExpression="lease_token = :t AND sha256 = :empty",
                ExpressionAttributeValues={":t": {"S": str(write.token)}, ":empty": EMPTY},
            )
            write.token = None

    @contextlib.contextmanager
    def heartbeat(self, write: LatestWrite) -> Iterator[Callable[[], bool]]:
        """Renew the lease every third of ``lease_seconds`` while the block runs.

        Yields a function telling whether the lease is still ours. A short upload ends
        before the first beat and costs no request, and no thread: the beating thread is
        started (by ``waker.WAKER``) only once the first beat falls due.
        """
        dynamodb = self.place.clients.dynamodb  # the thread does not inherit the session
        stop = threading.Event()
        lost = threading.Event()
        period = self.place.lease_seconds / 3
        started: list[threading.Thread] = []
        guard = threading.Lock()

        def send_beat() -> bool:
            """One beat; False once the lease is lost."""
            try:
                call(
                    dynamodb,
                    "update_item",
                    expect=(CONDITION_FAILED,),
                    TableName=self.place.table,
                    Key=item_key(write.name, LATEST),
                    UpdateExpression=HEARTBEAT_UPDATE,
                    ConditionExpression="lease_token = :t",
                    ExpressionAttributeValues={
                        ":t": {"S": str(write.token)},
                        ":beat": {"N": repr(time.time() + self.place.lease_seconds)},
                    },
                )
            except Refused:
                lost.set()  # another writer took over: stop sending parts
                return False
            except BackendError:
                pass  # a missed beat; two thirds of the lease are left
            return True

        def beat() -> None:
            if send_beat():  # the first beat is due as the thread starts
                while not stop.wait(period) and send_beat():
                    pass

        def start() -> None:
            with guard:
                if not stop.is_set():
                    thread = threading.Thread(target=beat, name="versioned-lease", daemon=True)
                    thread.start()
                    started.append(thread)

        due = WAKER.schedule(period, start)
        try:
            yield lambda: not lost.is_set()
        finally:
            WAKER.cancel(due)
            with guard:
                stop.set()
            for thread in started:
                thread.join()
