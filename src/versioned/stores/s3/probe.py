"""What an S3-compatible store enforces, found out once per repository and kept in its table.

The fencing rule (docs/design.md) holds only if the store refuses a write whose condition
fails. AWS does; some S3-compatible servers answer 200 to every conditional request,
and on them two writers silently overwrite each other. So before the first byte write,
the store is *probed* with writes of its own under ``{prefix}/__versioned-probe/``
(no artifact name starts with ``__``):

- ``PutObject`` with ``If-None-Match: *`` on a key that exists must be refused;
- ``PutObject`` with ``If-Match`` naming another ETag must be refused;
- ``CopyObject`` with ``If-None-Match: *`` onto a key that exists: refused, or the store
  does not take the header (then a publish's copy goes without it, as before);
- whether a folder whose last object was deleted still shows in a listing (SeaweedFS
  keeps such "directories"; AWS does not), which ``list_names`` must then look past.

The answer is one item of the table (partition :data:`STORE_PK`), written by
``bootstrap`` and by the first write of a process that finds none; a store missing the
first two conditions is refused for writes with :class:`~versioned.exc.UnsafeStoreError`
unless the repository was opened for a single writer.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...exc import UnsafeStoreError
from ...timestamps import to_storage, utc_now
from .calls import Refused
from .items import item_key
from .place import PRECONDITION_FAILED, S3Place

#: The partition of the store's probed capabilities (``#`` is in no artifact name).
STORE_PK = "__versioned#store"
STORE_SK = "s3"
#: Where the probe writes, under the repository's prefix.
PROBE_FOLDER = "__versioned-probe"
#: An ETag no object has.
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'
#: Answers meaning "this store does not take that header" (rather than "condition failed").
_NOT_TAKEN = ("NotImplemented", "InvalidArgument", "InvalidRequest", "501", "400")


@dataclass(frozen=True)
class Capabilities:
    """What the probe found (True: the store enforces it)."""

    put_if_none_match: bool
    put_if_match: bool
    copy_if_none_match: bool
    keeps_empty_prefixes: bool

    def missing(self) -> list[str]:
        """The conditions the fencing needs that the store ignores."""
        needed = {
            "PutObject If-None-Match": self.put_if_none_match,
            "PutObject If-Match": self.put_if_match,
        }
        return [name for name, enforced in needed.items() if not enforced]


def _refused(place: S3Place, operation: str, **params: Any) -> bool | None:
    """True when the store refused the request as a failed condition, False when it
    carried it out, None when it does not take the request's condition at all."""
    try:
        place.s3(operation, expect=(*PRECONDITION_FAILED, *_NOT_TAKEN), **params)
    except Refused as refused:
        return True if refused.code in PRECONDITION_FAILED else None
    return False


def _takes(client: Any, operation: str, member: str) -> bool:
    """Whether this botocore knows ``member`` of ``operation`` (older ones lack new headers)."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    return member in shape.members


def probe(place: S3Place) -> Capabilities:
    """Find out what the store enforces, with writes of its own that it removes after."""
    folder = f"{place.prefix}/{PROBE_FOLDER}/{uuid.uuid4().hex}"
    key, copy = f"{folder}/object", f"{folder}/copy"
    try:
        place.s3("put_object", Key=key, Body=b"probe", IfNoneMatch="*")
        put_if_none_match = _refused(place, "put_object", Key=key, Body=b"2", IfNoneMatch="*")
        put_if_match = _refused(place, "put_object", Key=key, Body=b"3", IfMatch=_NO_SUCH_ETAG)
        copy_if_none_match: bool | None = None
        if _takes(place.clients.s3, "CopyObject", "IfNoneMatch"):
            place.s3("put_object", Key=copy, Body=b"copy")
            copy_if_none_match = _refused(
                place,
                "copy_object",
                Key=copy,
                CopySource={"Bucket": place.bucket, "Key": key},
                IfNoneMatch="*",
            )
    finally:
        for leftover in (key, copy):
            with contextlib.suppress(Exception):
                place.s3("delete_object", Key=leftover)
    listed = place.s3("list_objects_v2", Prefix=f"{place.prefix}/{PROBE_FOLDER}/", Delimiter="/")
    mine = f"{folder}/"
    keeps_empty_prefixes = any(p.get("Prefix") == mine for p in listed.get("CommonPrefixes", []))
    if keeps_empty_prefixes:  # such stores remove an empty folder when its own key is deleted
        for empty in (mine, f"{place.prefix}/{PROBE_FOLDER}/"):
            with contextlib.suppress(Exception):
                place.s3("delete_object", Key=empty)
    return Capabilities(
        put_if_none_match=bool(put_if_none_match),
        put_if_match=bool(put_if_match),
        copy_if_none_match=bool(copy_if_none_match),
        keeps_empty_prefixes=keeps_empty_prefixes,
    )


def record(place: S3Place, found: Capabilities) -> None:
    """Keep what the probe found in the table (the newest probe wins)."""
    place.ddb(
        "put_item",
        Item={
            **item_key(STORE_PK, STORE_SK),
            "checked_at": {"S": to_storage(utc_now())},
            "put_if_none_match": {"BOOL": found.put_if_none_match},
            "put_if_match": {"BOOL": found.put_if_match},
            "copy_if_none_match": {"BOOL": found.copy_if_none_match},
            "keeps_empty_prefixes": {"BOOL": found.keeps_empty_prefixes},
        },
    )


def recorded(place: S3Place) -> Capabilities | None:
    """What the table says the store enforces, or None if it was never probed."""
    item = place.get_item(STORE_PK, STORE_SK)
    if item is None:
        return None

    def flag(name: str) -> bool:
        return bool(item.get(name, {}).get("BOOL"))

    return Capabilities(
        put_if_none_match=flag("put_if_none_match"),
        put_if_match=flag("put_if_match"),
        copy_if_none_match=flag("copy_if_none_match"),
        keeps_empty_prefixes=flag("keeps_empty_prefixes"),
    )


def refuse_unless_fenced(place: S3Place, found: Capabilities, single_writer: bool) -> None:
    """Raise UnsafeStoreError (one line) if the store ignores a condition the fencing needs."""
    missing = found.missing()
    if missing and not single_writer:
        raise UnsafeStoreError(
            f"the S3 store of s3://{place.bucket} ignores {' and '.join(missing)}, so "
            "concurrent writers could overwrite each other: use a store that enforces "
            "conditional writes, or open the repository with single_writer=True "
            "(VERSIONED_SINGLE_WRITER=1) if only one process ever writes to it"
        )


class StoreCheck:
    """What one repository object knows of its store, and the refusal of a store that
    cannot fence (read from the table once, probed when the table has no answer)."""

    def __init__(
        self, place: S3Place, single_writer: bool, learned: Callable[[Capabilities], None]
    ) -> None:
        self.place = place
        #: Write to a store that ignores conditional writes anyway (one writer, no race).
        self.single_writer = single_writer
        #: What the store enforces, once read or probed.
        self.capabilities: Capabilities | None = None
        self._learned = learned

    def _keep(self, found: Capabilities) -> Capabilities:
        self.capabilities = found
        self._learned(found)
        return found

    def bootstrap(self) -> None:
        """Probe the store, record the answer (only if it changed), refuse an unsafe one."""
        found = probe(self.place)
        if recorded(self.place) != found:  # unchanged: bootstrap leaves the table as it is
            record(self.place, found)
        refuse_unless_fenced(self.place, self._keep(found), self.single_writer)

    def known(self) -> Capabilities | None:
        """What the store enforces: this object's answer, else the table's (one GetItem
        the first time), else None (never probed)."""
        if self.capabilities is None:
            found = recorded(self.place)
            if found is not None:
                self._keep(found)
        return self.capabilities

    def before_write(self) -> None:
        """Before a byte write: know what the store enforces (probing a store never
        probed, and recording it) and refuse one that ignores what the fencing needs."""
        found = self.known()
        if found is None:
            found = probe(self.place)
            record(self.place, found)
            self._keep(found)
        refuse_unless_fenced(self.place, found, self.single_writer)
