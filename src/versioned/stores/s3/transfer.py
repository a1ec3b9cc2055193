"""Moving large objects in and out of S3: parallel parts, verified, with bounded memory.

- Uploads over ``BLOCK_SIZE`` go up as a multipart upload whose parts are sent in
  parallel, each with its SHA-256 (computed when the content was hashed, before the
  upload began), so S3 rejects any part that arrives different, including a part of a
  file that changed since it was hashed. Memory: ``workers`` parts at a time.
- Downloads start with one plain GET (all a small object needs); a larger object is
  then fetched as byte ranges in parallel, pinned to the first answer's ETag, and
  handed back in order through one stream, so the caller hashes it on the way.
- Objects too big for one ``CopyObject`` are copied with ``UploadPartCopy`` ranges,
  each pinned to the source's ETag (``CopySourceIfMatch``).

Worker threads get the client objects directly: the repository's session lives in a
context variable, which threads do not inherit.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from ...exc import BackendError, ConcurrentWriteError, VersionedError
from ..base import BLOCK_SIZE, Payload
from .calls import Refused, call

T = TypeVar("T")

#: Parts in flight per transfer: enough to keep a connection pool busy, few enough to
#: keep memory bounded (``WORKERS * BLOCK_SIZE``).
WORKERS = 8
#: S3's limits: a single CopyObject takes at most 5 GiB; an upload at most 10 000 parts.
MAX_SINGLE_COPY = 5 * 1024**3
MAX_PARTS = 10_000


def b64(digest: bytes) -> str:
    """A raw digest as S3's checksum headers want it."""
    return base64.b64encode(digest).decode()


def part_size_for(size: int) -> int:
    """``BLOCK_SIZE``, or a multiple of it when the object would need over 10 000 parts."""
    blocks = -(-size // (BLOCK_SIZE * MAX_PARTS))
    return BLOCK_SIZE * max(1, blocks)


def bounded_map(
    pool: ThreadPoolExecutor, task: Callable[[int], T], count: int, window: int
) -> Iterator[T]:
    """``task(0) … task(count - 1)`` on ``pool``, at most ``window`` at once, in order."""
    running: deque[Future[T]] = deque()
    submitted = 0
    try:
        while submitted < count or running:
            while submitted < count and len(running) < window:
                running.append(pool.submit(task, submitted))
                submitted += 1
            yield running.popleft().result()
    finally:
        for future in running:
            future.cancel()


def upload_parts(
    s3: Any,
    bucket: str,
    key: str,
    payload: Payload,
    create_params: dict[str, Any],
    still_ours: Callable[[], bool],
    *,
    on_created: Callable[[str], None] | None = None,
    complete_condition: dict[str, str] | None = None,
    refusals: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Store ``payload`` at ``key`` as a verified multipart upload; return Complete's answer.

    ``on_created`` gets the upload id before any part is sent (the put records it, so a
    writer that takes over can abort the upload). ``still_ours`` is asked before each
    part; when it turns False (the put lost its lease) the upload is abandoned with
    ConcurrentWriteError. ``complete_condition`` (``IfMatch``/``IfNoneMatch``) goes on the
    Complete, whose refusal with a code in ``refusals`` is raised as Refused. Any failure
    aborts the upload, so no object appears unless every part arrived intact.
    """
    part_size = part_size_for(payload.size)
    count = max(1, -(-payload.size // part_size))
    known = payload.block_sha256 if part_size == BLOCK_SIZE else None
    created = call(
        s3, "create_multipart_upload", Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
        **create_params,
    )  # fmt: skip
    upload_id = created["UploadId"]
    if on_created is not None:
        try:
            on_created(upload_id)
        except BaseException:
            with contextlib.suppress(BackendError):
                call(s3, "abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    def send(index: int) -> dict[str, Any]:
        if not still_ours():
            raise ConcurrentWriteError(f"the put of {key!r} lost its lease during the upload")
        data = payload.read_range(index * part_size, part_size)
        digest = known[index] if known is not None else hashlib.sha256(data).digest()
        answer = call(
            s3,
            "upload_part",
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=index + 1,
            Body=data,
            ChecksumSHA256=b64(digest),
        )
        return {"PartNumber": index + 1, "ETag": answer["ETag"], "ChecksumSHA256": b64(digest)}

    return _run_parts(s3, bucket, key, upload_id, send, count, complete_condition or {}, refusals)


def _run_parts(
    s3: Any,
    bucket: str,
    key: str,
    upload_id: str,
    part: Callable[[int], dict[str, Any]],
    count: int,
    condition: dict[str, str] | None = None,
    refusals: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run ``part(0) … part(count - 1)`` in parallel, then complete the upload.

    The completed object must report ``count`` parts. On any failure the upload is
    aborted (an abandoned one costs storage only; a lifecycle rule clears it).
    """
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            parts = list(bounded_map(pool, part, count, WORKERS))
        completed: dict[str, Any] = call(
            s3,
            "complete_multipart_upload",
            expect=refusals,
            **(condition or {}),
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )
        if not str(completed.get("ETag", "")).strip('"').endswith(f"-{count}"):
            raise BackendError(f"the upload to {key!r} did not keep its {count} parts")
    except BaseException:
        with contextlib.suppress(BackendError):
            call(s3, "abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return completed


class RangedReader(io.RawIOBase):
    """The bytes of one S3 object, fetched as parallel byte ranges and read in order.

    The first GET is a plain one: for an object of at most one part, or with one
    worker (servers such as moto read a whole object to answer any range), it is the
    only request. Further ranges carry ``IfMatch`` with that answer's ETag, so a concurrent
    overwrite (of LATEST) fails the read instead of mixing two objects' bytes.
    """

    def __init__(
        self, s3: Any, bucket: str, key: str, first: dict[str, Any], what: str, workers: int
    ) -> None:
        self._s3 = s3
        self._workers = workers
        self._bucket = bucket
        self._key = key
        self._what = what
        self._etag = first["ETag"]
        self._size = int(first["ContentLength"])
        self._body: Any = first["Body"]
        # one worker: the first answer's body is the whole stream
        self._part_size = part_size_for(self._size) if workers > 1 else max(1, self._size)
        self._count = max(1, -(-self._size // self._part_size))
        self._current = memoryview(b"")
        self._pool: ThreadPoolExecutor | None = None
        self._parts: Iterator[bytes] | None = None
        self._first_left = min(self._size, self._part_size)
        self._lock = threading.Lock()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # Part 0 streams from the first answer's body; later parts come from the pool.
        try:
            if self._first_left > 0:
                data = self._body.read(min(len(buffer), self._first_left))
                if not data:
                    raise BackendError(f"{self._what} ended early")
                self._first_left -= len(data)
                if self._first_left == 0 and self._count > 1:
                    self._body.close()  # the rest comes in parallel ranges
                buffer[: len(data)] = data
                return len(data)
            if self._count == 1:
                data = self._body.read(len(buffer))
                buffer[: len(data)] = data
                return len(data)
            if not self._current:
                if self._parts is None:
                    self._pool = ThreadPoolExecutor(max_workers=self._workers)
                    self._parts = bounded_map(
                        self._pool, lambda i: self._fetch(i + 1), self._count - 1, self._workers
                    )
                block = next(self._parts, b"")
                if not block:
                    return 0
                self._current = memoryview(block)
            taken = min(len(buffer), len(self._current))
            buffer[:taken] = self._current[:taken]
            self._current = self._current[taken:]
            return taken
        except VersionedError:
            raise  # already ours (ConcurrentWriteError when the object changed mid-read)
        except Exception as error:
            raise BackendError(f"reading {self._what} failed: {error}") from error

    def _fetch(self, index: int) -> bytes:
        start = index * self._part_size
        end = min(self._size, start + self._part_size) - 1
        try:
            answer = call(
                self._s3,
                "get_object",
                expect=("PreconditionFailed",),
                Bucket=self._bucket,
                Key=self._key,
                Range=f"bytes={start}-{end}",
                IfMatch=self._etag,
            )
        except Refused as refused:
            raise ConcurrentWriteError(f"{self._what} changed during the read") from refused
        data: bytes = answer["Body"].read()
        if len(data) != end - start + 1:
            raise BackendError(f"{self._what}: range {start}-{end} came back short")
        return data

    def close(self) -> None:
        with self._lock:
            if self._parts is not None:
                close = getattr(self._parts, "close", None)
                if close is not None:
                    close()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            self._body.close()
        super().close()


def multipart_copy(
    s3: Any,
    bucket: str,
    source_key: str,
    target_key: str,
    head: dict[str, Any],
    *,
    complete_condition: dict[str, str] | None = None,
    refusals: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Copy ``source_key`` (as ``head`` described it) to ``target_key`` in parallel ranges.

    Every ``UploadPartCopy`` carries ``CopySourceIfMatch`` with the head's ETag, so on
    S3 all parts come from the one object whose metadata the head read (moto ignores the
    condition). The result must report as many parts as were sent; the caller checks the
    copy's size and metadata. Any failure aborts the upload.
    """
    size = int(head["ContentLength"])
    part_size = part_size_for(size)
    count = max(1, -(-size // part_size))
    create: dict[str, Any] = {"Metadata": head.get("Metadata", {})}
    if head.get("ContentType"):
        create["ContentType"] = head["ContentType"]
    upload_id = call(s3, "create_multipart_upload", Bucket=bucket, Key=target_key, **create)[
        "UploadId"
    ]

    def copy(index: int) -> dict[str, Any]:
        start = index * part_size
        end = min(size, start + part_size) - 1
        answer = call(
            s3,
            "upload_part_copy",
            Bucket=bucket,
            Key=target_key,
            UploadId=upload_id,
            PartNumber=index + 1,
            CopySource={"Bucket": bucket, "Key": source_key},
            CopySourceRange=f"bytes={start}-{end}",
            CopySourceIfMatch=head["ETag"],
        )
        return {"PartNumber": index + 1, "ETag": answer["CopyPartResult"]["ETag"]}

    return _run_parts(s3, bucket, target_key, upload_id, copy, count, complete_condition, refusals)
