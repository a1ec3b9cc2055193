"""A publish's copy of LATEST too large for one CopyObject: parts, then proof of what landed."""

from __future__ import annotations

from collections.abc import Callable

from ...arguments import LATEST
from ...exc import BackendError, ConcurrentWriteError, IntegrityError
from ...rules import not_found
from .calls import Refused
from .place import PRECONDITION_FAILED, S3Place
from .transfer import multipart_copy


def copy_in_parts(
    place: S3Place, name: str, number: int, clear_stale: Callable[[], bool]
) -> tuple[str, str]:
    """Copy LATEST with UploadPartCopy; return the frozen sha256 and the copy's ETag.

    No checksum of a whole multipart copy exists, so what is frozen is proven
    differently: one HeadObject names the source's ETag and ``artifact_sha256``; every
    part is copied only if the source still has that ETag (S3 enforces it; moto does
    not), the Complete only if nothing is at the key (``If-None-Match: *``), and the
    copy must come out with every part, the same size and the same metadata.
    """
    source, target = place.key(name, None), place.key(name, number)
    head = place.head(source)
    if head is None:
        raise not_found(name, None)
    declared = str(head.get("Metadata", {}).get("artifact_sha256", ""))
    if not declared:
        raise IntegrityError(
            f"artifact {name!r}: LATEST's object does not say its sha256",
            name=name,
            version=LATEST,
            expected="",
            actual="",
        )
    if not clear_stale():
        raise ConcurrentWriteError(f"the claim on version {number} of {name!r} was taken over")
    try:
        completed = multipart_copy(
            place.clients.s3,
            place.bucket,
            source,
            target,
            head,
            complete_condition={"IfNoneMatch": "*"},
            refusals=PRECONDITION_FAILED,
        )
    except Refused as refused:
        raise ConcurrentWriteError(
            f"version {number} of {name!r} was written by someone else during the copy"
        ) from refused
    except BackendError as error:
        if "PreconditionFailed" in str(error):
            raise ConcurrentWriteError(f"LATEST of {name!r} changed during the copy") from error
        raise
    copy = place.head(target) or {}
    same_size = copy.get("ContentLength") == head.get("ContentLength")
    if not same_size or copy.get("Metadata", {}).get("artifact_sha256") != declared:
        raise IntegrityError(
            f"artifact {name!r}: the multipart copy to version {number} differs from LATEST",
            name=name,
            version=str(number),
            expected=declared,
            actual=str(copy.get("Metadata", {}).get("artifact_sha256")),
        )
    return declared, str(completed.get("ETag"))
