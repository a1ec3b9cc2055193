"""Writing LATEST: a put under the lease, with every byte write conditional on S3's side.

The order of a put: take the lease (``lease.py``), which returns the old item; if the
content is the same, verify that the object really holds it (the item alone could be
wrong after a crash or a writer that froze) and only touch the item; otherwise land the
bytes with ``If-Match: <the ETag the item recorded>`` (``If-None-Match: *`` when there is
no object yet), and commit hash, ETag, size, type and metadata while still holding the
lease. A writer that lost its lease finds the object changed under its condition and its
bytes refused; if its bytes landed anyway (its condition still held, because nobody wrote
since) and its commit is refused, it takes the lease again and commits what it landed,
so the item never stays naming other bytes than the object holds.

What conditions cannot cover: an ETag is computed from the content, so a writer frozen
before its request, whose expected ETag comes back because others put the very same
content again meanwhile, can still land. Reads then refuse those bytes (they are checked
against the item), a publish refuses to freeze them, and the next put replaces them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from ...arguments import LATEST
from ...exc import BackendError, ConcurrentWriteError
from ...timestamps import to_storage, utc_now
from ..base import BLOCK_SIZE, LatestWrite, Payload, VersionRecord
from .calls import Refused
from .items import (
    CONDITION_FAILED,
    FALSE,
    decode_version,
    described,
    described_values,
    item_key,
    text,
    undescribed,
)
from .lease import LatestLease, S3LatestWrite
from .place import MISSING_OBJECT, PRECONDITION_FAILED, S3Place
from .transfer import b64, upload_parts

#: How often a put looks again when the object changed under its condition.
_LANDING_ATTEMPTS = 4


def _as_s3(write: LatestWrite) -> S3LatestWrite:
    assert isinstance(write, S3LatestWrite), "a LatestWrite from another backend"
    return write


class LatestWriter:
    """The put of LATEST on S3 + DynamoDB (the Backend's LATEST methods)."""

    def __init__(self, place: S3Place, lease: LatestLease) -> None:
        self.place = place
        self.lease = lease
        #: Per artifact, the sha256 LATEST's item named when this object last saw it
        #: (its own put, or the item its lease returned): only an identical put of that
        #: content tries :meth:`touch_at_once`, so other puts never pay for a refusal.
        self._seen: dict[str, str] = {}

    def begin(self, name: str) -> S3LatestWrite:
        """Take the lease and work out what LATEST holds and what our write must expect."""
        write = self.lease.take(name, "put", known=name in self._seen)
        old = write.old
        if old is None:
            write.expect_etag, write.expect_known = None, True
        elif "lease_until" not in old and text(old, "object_etag"):
            write.expect_etag, write.expect_known = text(old, "object_etag"), True
        # else: an abandoned put (its bytes may have landed) or an item 1.0.1 wrote:
        # the object is looked up before the first write
        if old is not None and "lease_until" not in old and text(old, "sha256"):
            write.current = decode_version(old)
            self._seen[name] = str(text(old, "sha256"))
        return write

    def touch_at_once(self, name: str, sha256: str, now: datetime) -> VersionRecord | None:
        """An identical put in one conditional update of LATEST's item, or None.

        It only sets the time, and only while the item names ``sha256``, is live, holds
        no lease (no put, gc or purge is between its two writes), is not fenced by a
        purge, and records the ETag of its object (``object_etag``): a commit that saw
        those bytes land, or an identical put that looked at the object, wrote it, and
        whatever may have left the object holding other bytes without a lease on the
        item removes it (a put that failed after its upload started; a read that found
        other bytes there). It writes and deletes no byte, so the fencing rule is kept;
        design.md ("Identical put") has the argument. Tried only when this object last
        saw the item name ``sha256``.
        """
        if self._seen.get(name) != sha256:
            return None
        try:
            self.place.ddb(
                "update_item",
                expect=(CONDITION_FAILED,),
                Key=item_key(name, LATEST),
                UpdateExpression="SET update_at = :now",
                # no purging clause: a purge sets is_deleted and lease_until with its fence
                ConditionExpression=(
                    "sha256 = :s AND is_deleted = :false AND attribute_exists(object_etag) "
                    "AND attribute_not_exists(lease_until)"
                ),
                ExpressionAttributeValues={
                    ":now": {"S": to_storage(now)},
                    ":s": {"S": sha256},
                    ":false": FALSE,
                },
            )
        except Refused:
            self._seen.pop(name, None)
            return None  # not proven: the usual path looks at the object
        return VersionRecord(name, None, sha256, now, False)

    def touch(self, write: LatestWrite, sha256: str, now: datetime) -> VersionRecord | None:
        """Commit an identical put if the object really holds ``sha256``; else None."""
        s3_write = _as_s3(write)
        head = self.place.head(self.place.key(write.name, None))
        etag = None if head is None else str(head.get("ETag"))
        s3_write.expect_etag, s3_write.expect_known = etag, True
        recorded = text(s3_write.old or {}, "object_etag")
        declared = None if head is None else head.get("Metadata", {}).get("artifact_sha256")
        if head is None or declared != sha256 or (recorded is not None and recorded != etag):
            return None  # the item says one thing, the object another: upload again
        self.lease.release(
            write,
            "SET update_at = :now, is_deleted = :false, object_etag = :etag",
            {":now": {"S": to_storage(now)}, ":false": FALSE, ":etag": {"S": str(etag)}},
        )
        self._seen[write.name] = sha256
        return VersionRecord(write.name, None, sha256, now, False)

    def upload(self, write: LatestWrite, payload: Payload) -> None:
        """Land the payload's bytes at LATEST's key, conditional on what the lease saw."""
        s3_write = _as_s3(write)
        key = self.place.key(write.name, None)
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
        with self.lease.heartbeat(write) as still_ours:
            for _ in range(_LANDING_ATTEMPTS):
                if not s3_write.expect_known:
                    head = self.place.head(key)
                    s3_write.expect_etag = None if head is None else str(head.get("ETag"))
                    s3_write.expect_known = True
                condition = (
                    {"IfMatch": s3_write.expect_etag}
                    if s3_write.expect_etag
                    else {"IfNoneMatch": "*"}
                )
                try:
                    s3_write.landed_etag = self._land(
                        s3_write, key, payload, params, condition, still_ours
                    )
                    return
                except Refused:
                    # Someone's bytes landed since we looked: a writer that lost its lease.
                    # Replace them only while the lease is provably still ours.
                    if not self.lease.renew(write):
                        raise ConcurrentWriteError(
                            f"the put of {write.name!r} lost its lease before its bytes landed"
                        ) from None
                    s3_write.expect_known = False
        raise ConcurrentWriteError(f"LATEST of {write.name!r} kept changing under the put")

    def _land(
        self,
        write: S3LatestWrite,
        key: str,
        payload: Payload,
        params: dict[str, Any],
        condition: dict[str, str],
        still_ours: Callable[[], bool],
    ) -> str:
        """Send the bytes; return their ETag. Raises Refused when the condition fails."""
        refusals = (*PRECONDITION_FAILED, *MISSING_OBJECT)
        if payload.size <= BLOCK_SIZE:
            with payload.open() as body:
                answer = self.place.s3(
                    "put_object",
                    expect=refusals,
                    Key=key,
                    Body=body,
                    ChecksumSHA256=b64(bytes.fromhex(payload.sha256)),
                    ContentLength=payload.size,
                    **params,
                    **condition,
                )
            return str(answer["ETag"])

        def record(upload_id: str) -> None:
            # recorded under the lease, so whoever takes LATEST over can abort it
            if not self.lease.renew(write, upload_id=upload_id):
                raise ConcurrentWriteError(f"the put of {write.name!r} lost its lease")

        try:
            completed = upload_parts(
                self.place.clients.s3,
                self.place.bucket,
                key,
                payload,
                params,
                still_ours,
                on_created=record,
                complete_condition=condition,
                refusals=refusals,
            )
        except BackendError as error:
            # a writer that took LATEST over aborts our upload, and the Complete then
            # fails however the store words it: that is a lost lease, not a failed store
            if not self.lease.renew(write):
                raise ConcurrentWriteError(
                    f"the put of {write.name!r} lost its lease during the upload"
                ) from error
            raise
        return str(completed["ETag"])

    def commit(self, write: LatestWrite, payload: Payload, now: datetime) -> VersionRecord:
        """Point LATEST's item at the landed bytes and end the lease.

        If the lease was lost after our bytes landed, take it again and commit them
        anyway when the object still holds them: the item must name what the object holds.
        """
        s3_write = _as_s3(write)
        try:
            self._commit(s3_write, payload, now)
        except ConcurrentWriteError:
            if s3_write.landed_etag is None:
                raise
            self._adopt_landed(s3_write, payload)
        self._seen[write.name] = payload.sha256
        return payload.latest_record(write.name, now)

    def _commit(self, write: S3LatestWrite, payload: Payload, now: datetime) -> None:
        clause = "SET sha256 = :s, update_at = :now, is_deleted = :false, object_etag = :etag, "
        clause += described(payload.content_type, payload.metadata)
        values: dict[str, Any] = {
            ":s": {"S": payload.sha256},
            ":now": {"S": to_storage(now)},
            ":false": FALSE,
            ":etag": {"S": str(write.landed_etag)},
            **described_values(payload.size, payload.content_type, payload.metadata),
        }
        if write.created_item:
            # a brand-new artifact has no versions: its counter starts at 0
            clause += ", last_version = if_not_exists(last_version, :zero)"
            values[":zero"] = {"N": "0"}
        self.lease.release(
            write,
            clause,
            values,
            if_held=tuple(undescribed(payload.content_type, payload.metadata)),
        )

    def _adopt_landed(self, write: S3LatestWrite, payload: Payload) -> None:
        landed = write.landed_etag
        again = self.lease.take(write.name, "put")
        again.landed_etag = landed
        head = self.place.head(self.place.key(write.name, None))
        if head is None or str(head.get("ETag")) != landed:
            self.lease.drop(again, unsure=True)
            raise ConcurrentWriteError(
                f"the put of {write.name!r} lost its lease and its bytes were replaced"
            )
        again.created_item = write.created_item
        self._commit(again, payload, utc_now())

    def abort(self, write: LatestWrite, payload: Payload | None) -> None:
        """End a failed put, leaving the item naming what the object holds; never raises."""
        s3_write = _as_s3(write)
        if write.token is None:
            return
        if payload is not None and write.upload_started:
            # the bytes may have landed although we saw an error (a lost answer)
            head = None
            try:
                head = self.place.head(self.place.key(write.name, None))
            except Exception:
                head = None
            declared = None if head is None else head.get("Metadata", {}).get("artifact_sha256")
            if head is not None and declared == payload.sha256:
                s3_write.landed_etag = str(head.get("ETag"))
                try:
                    self._commit(s3_write, payload, utc_now())
                    return
                except Exception:
                    pass
        self._seen.pop(write.name, None)
        if write.created_item and not write.upload_started:
            self.lease.delete_placeholder(write)
        # once an upload started, the object may hold bytes the item does not name: the
        # item stops recording an ETag, so identical puts look at the object again
        self.lease.drop(write, unsure=write.upload_started)

    def adopt(self, name: str, sha256: str) -> bool:
        """Commit bytes a crashed put landed (see ``Backend.adopt_latest``)."""
        try:
            # a dead writer's lease runs out within lease_seconds; a live put's does not
            hold = self.lease.take(name, "put", wait_seconds=self.place.lease_seconds + 1)
        except ConcurrentWriteError:
            return False  # a live put holds LATEST: it will commit or give up
        old = hold.old or {}
        head = self.place.head(self.place.key(name, None))
        declared = None if head is None else head.get("Metadata", {}).get("artifact_sha256")
        if "lease_until" not in old or head is None or declared != sha256:
            # no crashed put to finish; but an object holding other bytes than the item
            # names (a writer frozen past its lease, a 1.0.1 writer cut short) must make
            # identical puts look at it again: the item stops recording an ETag
            other = head is None or declared != text(old, "sha256")
            self.lease.drop(hold, unsure=other)
            self._seen.pop(name, None)
            return False
        reserved = {"artifact_name", "artifact_sha256"}
        payload = Payload(
            sha256,
            int(head.get("ContentLength", 0)),
            opener=_no_content,
            content_type=head.get("ContentType"),
            metadata={k: v for k, v in head.get("Metadata", {}).items() if k not in reserved},
        )
        hold.landed_etag = str(head.get("ETag"))
        try:
            self._commit(hold, payload, utc_now())
        except ConcurrentWriteError:
            return False
        return True


def _no_content() -> Any:
    raise AssertionError("an adopted put has no content to read: its bytes are stored")
