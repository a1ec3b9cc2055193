"""The rules of a versioned repository, written once for every backend.

The engine checks arguments before any work starts, decides the order of steps
(bytes before the metadata that names them; metadata removed before bytes), applies
dedup and retention, and verifies hashes on every read. Backends make each step atomic.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import IO, Any, BinaryIO, TypeVar, cast

from . import arguments as args
from .aliasing import AliasOperations
from .exc import (
    ArtifactNotFoundError,
    BackendError,
    ConcurrentWriteError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from .expiring import ExpiryOperations
from .rules import (
    corrupt,
    not_found,
    sort_versions,
)
from .stores.base import (
    BLOCK_SIZE,
    Backend,
    Payload,
    VersionRecord,
)
from .stores.local.staging import create_staged
from .timestamps import seconds_before, utc_now

T = TypeVar("T")

#: Reads of LATEST that find bytes its record does not name look again this often.
_LATEST_READ_ATTEMPTS = 4


class Engine(AliasOperations, ExpiryOperations):
    """Repository behaviour over one :class:`~versioned.stores.base.Backend` (the alias
    operations live in :mod:`versioned.aliasing`, expiry in :mod:`versioned.expiring`)."""

    def __init__(self, backend: Backend, *, conflict_retries: int = 5) -> None:
        self.backend = backend
        self._conflict_retries = conflict_retries

    # --- set-up -----------------------------------------------------------------------
    def bootstrap(self, write_capacity: object = None, read_capacity: object = None) -> None:
        """Create the stores if missing; both capacities or neither (on-demand)."""
        if (write_capacity is None) != (read_capacity is None):
            raise InvalidArgumentError(
                "give both DynamoDB capacities (provisioned) or neither (on-demand)"
            )
        if write_capacity is not None:
            wcu = args.check_non_negative_int(write_capacity, "dynamodb_write_capacity_units")
            rcu = args.check_non_negative_int(read_capacity, "dynamodb_read_capacity_units")
            if wcu < 1 or rcu < 1:
                raise InvalidArgumentError("DynamoDB capacities must be at least 1")
            self.backend.bootstrap(wcu, rcu)
        else:
            self.backend.bootstrap(None, None)

    # --- LATEST --------------------------------------------------------------------------
    def put_artifact(
        self,
        name: str,
        content: object,
        content_type: object = None,
        metadata: object = None,
        tags: object = None,
        progress: Callable[[int], None] | None = None,
    ) -> VersionRecord:
        """Make ``content`` the LATEST of ``name``; identical content uploads nothing.

        ``progress`` is told the size of each piece of content the backend reads to store
        it (after the hashing pass, which reads ``content`` itself).
        """
        name = args.check_name(name)
        checked_type = args.check_content_type(content_type)
        checked_metadata = args.check_metadata(metadata)
        checked_tags = args.check_tags(tags)
        in_memory = isinstance(content, (bytes, bytearray, memoryview))
        payload = make_payload(content, None if in_memory else self.backend.staging_dir)
        payload.content_type = checked_type
        payload.metadata = checked_metadata
        payload.tags = checked_tags
        payload.progress = progress
        try:
            return self._retry_conflicts(lambda: self._write_latest(name, payload))
        finally:
            payload.close()

    def _write_latest(self, name: str, payload: Payload) -> VersionRecord:
        at_once = self.backend.touch_latest_at_once(name, payload.sha256, utc_now())
        if at_once is not None:
            return at_once
        write = self.backend.begin_latest_write(name)
        committed = False
        try:
            current = write.current
            if current is not None and current.sha256 == payload.sha256:
                touched = self.backend.touch_latest(write, payload.sha256, utc_now())
                if touched is not None:
                    committed = True
                    return touched
            self.backend.upload_latest(write, payload)
            record = self.backend.commit_latest(write, payload, utc_now())
            committed = True
            return record
        finally:
            if not committed:
                self.backend.abort_latest(write, payload)

    # --- reads ---------------------------------------------------------------------------
    def get_version(self, name: str, version: object = None) -> VersionRecord:
        """The live record of a version. Raises ArtifactNotFoundError."""
        name = args.check_name(name)
        number = args.check_version(version)
        return self._live_record(name, number)

    def _live_record(self, name: str, number: int | None) -> VersionRecord:
        record = self.backend.get_version(name, number)
        if record is None or record.is_deleted:
            raise not_found(name, number)
        return record

    def list_versions(self, name: str, include_deleted: bool = False) -> list[VersionRecord]:
        """Live records (and soft-deleted ones with ``include_deleted``), LATEST first, then
        newest number first."""
        name = args.check_name(name)
        records = self.backend.list_versions(name)
        if not include_deleted:
            records = [r for r in records if not r.is_deleted]
        return records if self.backend.versions_in_order else sort_versions(records)

    def list_names(self) -> list[str]:
        """Every artifact name with stored bytes, sorted."""
        return self.backend.list_names()

    # --- versions ------------------------------------------------------------------------
    def publish(self, name: str) -> VersionRecord:
        """Freeze LATEST as the next number. Raises ArtifactNotFoundError without a LATEST."""
        name = args.check_name(name)
        return self._retry_conflicts(lambda: self.backend.publish(name, utc_now()))

    def delete(self, name: str, version: object = None) -> bool:
        """Soft-delete a version; True if this call deleted it. A version that is missing
        or already deleted is left as it is (False), as in 1.0.1: a cleanup that runs twice
        succeeds. Raises VersionInUseError while an alias points at it."""
        name = args.check_name(name)
        number = args.check_version(version)
        try:
            return self._soft_delete(name, number)
        except ArtifactNotFoundError:
            return False

    def _soft_delete(self, name: str, number: int | None) -> bool:
        return self._retry_conflicts(lambda: self.backend.soft_delete(name, number))

    def restore(self, name: str, version: object = None) -> VersionRecord:
        """Undo a soft delete. Raises ArtifactNotFoundError."""
        name = args.check_name(name)
        number = args.check_version(version)
        return self.backend.restore(name, number)

    def purge_versions(
        self,
        name: str,
        keep_last_n: object = 10,
        purge_older_than_secs: object = 7776000,
        dry_run: bool = False,
        keep_rollback_targets: object = 1,
    ) -> tuple[datetime, list[VersionRecord]]:
        """Soft-delete published versions beyond the newest ``keep_last_n`` that are older
        than ``purge_older_than_secs``. Always kept: LATEST, the versions aliases point
        at, and those they pointed at in their ``keep_rollback_targets`` revisions before
        the current one (so a rollback finds them).

        Returns the time the policy was applied at and the records it deleted (with
        ``dry_run``: would delete now, deleting nothing).
        """
        name = args.check_name(name)
        keep = args.check_non_negative_int(keep_last_n, "keep_last_n")
        max_age = args.check_non_negative_int(purge_older_than_secs, "purge_older_than_secs")
        keep_targets = args.check_non_negative_int(keep_rollback_targets, "keep_rollback_targets")
        purge_time = utc_now()
        expire = seconds_before(purge_time, max_age)
        # The one listing of the versions comes before reading the aliases (in
        # rollback_targets), and the deletes are conditioned on what it read: an alias
        # change after it is refused or seen (Backend.soft_delete_many).
        published = [r for r in self.list_versions(name) if r.version is not None]
        old_enough = [r for r in published[keep:] if r.update_at < expire]
        if not old_enough:
            return purge_time, []  # nothing to weigh against the aliases: one listing
        kept = self.rollback_targets(name, keep_targets)
        candidates = [r for r in old_enough if r.version not in kept]
        if dry_run or not candidates:
            return purge_time, candidates
        expired = {r.version: r for r in candidates}
        done = self.backend.soft_delete_many(name, candidates)
        if done and keep_targets:
            # An alias that moved meanwhile can make a version just deleted a rollback
            # target (the delete refuses only current targets): undo those deletes.
            kept = self.rollback_targets(name, keep_targets)
            for version in [v for v in done if v in kept]:
                with contextlib.suppress(ArtifactNotFoundError):  # purged meanwhile
                    self.backend.restore(name, version)
                done.remove(version)
        deleted = sorted((expired[v] for v in done), key=lambda r: -(r.version or 0))
        return purge_time, deleted

    # --- hard deletes and cleanup --------------------------------------------------------
    def purge_artifact(self, name: str) -> None:
        """Remove every version, alias and byte of ``name``."""
        self.backend.purge_artifact(args.check_name(name))

    def purge_all(self) -> None:
        """Remove every artifact in the repository."""
        for name in self.backend.all_names():
            self.backend.purge_artifact(name)

    def gc(self, dry_run: bool = True, grace_seconds: object = 3600) -> list[str]:
        """Find (and unless ``dry_run``, remove) bytes no metadata needs, older than the grace."""
        grace = args.check_non_negative_int(grace_seconds, "grace_seconds")
        older_than = seconds_before(utc_now(), grace)
        orphans = self.backend.find_orphans(older_than)
        if dry_run or not orphans:
            return orphans
        return self.backend.remove_orphans(orphans, older_than)

    # --- content -------------------------------------------------------------------------
    def read_version(self, name: str, version: str, sha256: str | None) -> bytes:
        """The verified bytes of a version (see :meth:`_verified`)."""
        return self._verified(name, version, sha256, _read_all)

    def write_version(
        self,
        name: str,
        version: str,
        sha256: str | None,
        out: BinaryIO,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Write a version's bytes into ``out`` as they arrive, hashing them on the way.

        The check comes at the end, so ``out`` has received the bytes by the time
        IntegrityError (or ConcurrentWriteError) is raised. ``progress`` is told the size
        of each piece read. Raises what reads raise.
        """

        def into_stream(stream: BinaryIO) -> tuple[str, None]:
            return copy_hashing(stream, out, progress), None

        self._verified(name, version, sha256, into_stream)

    def download_version(
        self,
        name: str,
        version: str,
        sha256: str | None,
        path: str | os.PathLike[str],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Stream a version into ``path``; the file appears only once verified.

        ``progress`` is told the size of each piece read. Raises InvalidArgumentError for
        a path that cannot be a file (a folder, or in a missing folder), BackendError when
        writing it fails, and what reads raise.
        """
        target = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(target))
        if os.path.isdir(target) or not os.path.isdir(folder):
            raise InvalidArgumentError(f"cannot download to {target!r}: not a file in a folder")

        def into_file(stream: BinaryIO) -> tuple[str, str]:
            try:
                handle, temp = tempfile.mkstemp(prefix=".versioned-", dir=folder)
            except OSError as error:
                raise BackendError(f"cannot write into {folder!r}: {error}") from error
            try:
                with os.fdopen(handle, "wb") as out:
                    digest = copy_hashing(stream, out, progress)
                # mkstemp makes the file private; give it the mode any new file gets
                os.chmod(temp, 0o666 & ~_umask())
                return digest, temp
            except BaseException as error:
                os.unlink(temp)
                if isinstance(error, OSError):
                    raise BackendError(f"writing {target!r} failed: {error}") from error
                raise

        temp = self._verified(name, version, sha256, into_file, discard=os.unlink)
        try:
            os.replace(temp, target)
        except OSError as error:
            os.unlink(temp)
            raise BackendError(f"cannot put the download at {target!r}: {error}") from error

    def _verified(
        self,
        name: str,
        version: str,
        sha256: str | None,
        consume: Callable[[BinaryIO], tuple[str, T]],
        discard: Callable[[T], object] = lambda _: None,
    ) -> T:
        """Fetch a version through ``consume`` and check its hash.

        LATEST can be replaced between reading its metadata and its bytes. Bytes that
        hash to what the blob store declares beside them are intact: they are returned
        when the caller asked for LATEST by name, and refused with ConcurrentWriteError
        when the caller holds an older LATEST (an Artifact with another sha256).
        Raises ArtifactNotFoundError, IntegrityError, ConcurrentWriteError.
        """
        number = args.check_version(version)
        expected = sha256 if sha256 is not None else self._live_record(name, number).sha256
        for attempt in range(_LATEST_READ_ATTEMPTS):
            with self.backend.open_blob(name, number, expected) as stream:
                declared = getattr(stream, "declared_sha256", None)
                actual, result = consume(stream)
            if actual == expected:
                return result
            if number is not None or actual != declared:
                discard(result)
                raise corrupt(name, number, expected, actual)
            if sha256 is not None:
                if self._live_record(name, None).sha256 == sha256 and self.backend.adopt_latest(
                    name, actual
                ):
                    # The record the caller holds is LATEST's current one, but the object
                    # holds other intact bytes: a put that died after they landed. Its
                    # lease has run out, so they are committed now, and they are LATEST:
                    # the caller asked for LATEST, so this read answers with them.
                    return result
                discard(result)
                raise ConcurrentWriteError(
                    f"LATEST of artifact {name!r} was replaced since it was read "
                    f"(sha256 {sha256[:12]}…, now {actual[:12]}…): get it again"
                )
            # Intact bytes that LATEST's record does not name: a put committing right
            # now, or bytes nobody committed (a writer that lost its lease). Only what
            # the record names is served, so read the record again.
            discard(result)
            current = self._live_record(name, None).sha256
            if current == expected:
                if self.backend.adopt_latest(name, actual):
                    expected = actual  # a crashed put's intact bytes, committed now
                    continue
                time.sleep(0.02 * (attempt + 1))
            expected = current
        raise ConcurrentWriteError(
            f"LATEST of artifact {name!r} holds bytes ({actual[:12]}…) that its record "
            f"does not name ({expected[:12]}…): a put is in progress or was cut short; "
            "put it again if this persists"
        )

    # --- helpers -------------------------------------------------------------------------
    def _retry_conflicts(self, step: Callable[[], T]) -> T:
        # A ConcurrentWriteError means nothing half-done was left behind, so the whole
        # step can simply run again; give up after a few tries and let the caller decide.
        for attempt in range(self._conflict_retries):
            try:
                return step()
            except ConcurrentWriteError:
                if attempt == self._conflict_retries - 1:
                    raise
                time.sleep(0.02 * (2**attempt))
        raise AssertionError("unreachable")


def _open_binary(path: str) -> BinaryIO:
    return cast(BinaryIO, open(path, "rb"))


def _umask() -> int:
    # os.umask() can only be read by setting it, which races other threads creating
    # files; Linux shows it in /proc instead
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _read_all(stream: BinaryIO) -> tuple[str, bytes]:
    data = stream.read()
    return hashlib.sha256(data).hexdigest(), data


def make_payload(content: object, staging_dir: str | None = None) -> Payload:
    """Wrap ``bytes``, a path, or a readable binary file object as a :class:`Payload`.

    Files and streams are read once, in blocks, with bounded memory. With a
    ``staging_dir`` (the local backend's) that one pass also copies the content there,
    so storing it later is a hard link; without one (S3) a path is only hashed, whole and
    per block, and a stream is spooled to a temporary file. The hash has to come first
    because dedup and S3's object metadata need it before any byte is stored.
    Raises InvalidArgumentTypeError for ``str`` and anything else.
    """
    if isinstance(content, (bytes, bytearray, memoryview)):
        return Payload.from_bytes(args.check_bytes(content))
    if isinstance(content, os.PathLike):
        path = os.fspath(content)
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise InvalidArgumentError(f"content path {path!r} is not a readable file")
        if staging_dir is None:
            with open(path, "rb") as source:
                digest, size, blocks = _digest(source, None)
            payload = Payload(digest, size, lambda: _open_binary(path), path=path)
            payload.block_sha256 = blocks
            return payload
        with open(path, "rb") as source:
            return _spooled(source, staging_dir)
    if hasattr(content, "read") and not isinstance(content, str):
        return _spooled(cast(IO[Any], content), staging_dir)
    return Payload.from_bytes(args.check_bytes(content))


def _digest(source: IO[Any], sink: IO[bytes] | None) -> tuple[str, int, list[bytes] | None]:
    """Read ``source`` to its end in ``BLOCK_SIZE`` blocks, copying them into ``sink``.

    Returns the hex SHA-256, the size and, without a sink (content bound for S3), the
    SHA-256 of each block; those are hashed on a helper thread (hashlib releases the
    GIL), so the pass costs about one hash of the content in wall time.
    """
    if sink is not None:
        digest, size = _copy_blocks(source, sink, None)
        return digest, size, None
    whole = hashlib.sha256()
    size = 0
    pending: list[Future[bytes]] = []
    with ThreadPoolExecutor(max_workers=1) as helper:
        while True:
            block = source.read(BLOCK_SIZE)
            if not block:
                break
            if isinstance(block, str):
                raise InvalidArgumentTypeError("content must be a binary stream, not text")
            whole.update(block)
            size += len(block)
            # at most one block waits for its hash: memory stays at two blocks
            if pending:
                pending[-1].result()
            pending.append(helper.submit(_block_digest, block))
    return whole.hexdigest(), size, [f.result() for f in pending]


#: The piece :func:`copy_hashing` reads, hashes and writes at a time. Measured on the
#: 2-core machine of tools/bench.py: 1 MiB pieces, hashed while the previous one is
#: written, copy-and-hash at about twice the rate of 8 MiB pieces done one after the
#: other (they stay in the CPU's caches between the read, the hash and the write).
COPY_PIECE = 1024 * 1024


def copy_hashing(
    source: IO[Any], sink: IO[bytes], progress: Callable[[int], None] | None = None
) -> str:
    """Copy ``source`` to its end into ``sink``, returning the hex SHA-256 of the bytes.

    One pass; each piece is hashed on a helper thread while the caller's thread writes
    it and reads the next (hashlib and file I/O release the GIL), so on two cores the
    copy costs about the slower of hashing and writing, not their sum. The hash is of
    exactly the bytes written, in order. ``progress`` is told each piece's size once
    written. Raises what reading and writing raise.
    """
    return _copy_blocks(source, sink, progress)[0]


def _copy_blocks(
    source: IO[Any], sink: IO[bytes], progress: Callable[[int], None] | None
) -> tuple[str, int]:
    whole = hashlib.sha256()
    size = 0
    first = source.read(COPY_PIECE)
    if isinstance(first, str):
        raise InvalidArgumentTypeError("content must be a binary stream, not text")
    second = source.read(COPY_PIECE) if first else b""
    if not second:
        # one piece or none: no helper thread worth starting
        whole.update(first)
        if first:
            sink.write(first)
            if progress is not None:
                progress(len(first))
        return whole.hexdigest(), len(first)
    with ThreadPoolExecutor(max_workers=1) as helper:
        hashing: Future[None] | None = None
        for block in itertools.chain((first, second), iter(lambda: source.read(COPY_PIECE), b"")):
            if not block:
                break  # a text stream ends with "", which the sentinel does not catch
            if isinstance(block, str):
                raise InvalidArgumentTypeError("content must be a binary stream, not text")
            # one piece in the hasher at a time, handed over in order: the digest is
            # of the stream's bytes in order, and memory stays at two pieces
            if hashing is not None:
                hashing.result()
            hashing = helper.submit(whole.update, block)
            sink.write(block)
            size += len(block)
            if progress is not None:
                progress(len(block))
        if hashing is not None:
            hashing.result()
    return whole.hexdigest(), size


def _block_digest(block: bytes) -> bytes:
    return hashlib.sha256(block).digest()


def _spooled(stream: IO[Any], staging_dir: str | None) -> Payload:
    # One pass: hash while copying into a file that later reads can seek in (the local
    # backend renames it into place; S3 uploads its parts from it in parallel).
    release: Callable[[], None] = lambda: None  # noqa: E731
    if staging_dir is None:
        handle, spool_path = tempfile.mkstemp(prefix="versioned-spool-")
    else:
        # locked for the put's whole life, so the local backend's gc leaves it alone
        staged = create_staged(staging_dir, "spool")
        handle, spool_path, release = staged.fd, staged.path, staged.release
    try:
        with os.fdopen(handle, "wb") as spool:
            digest, size, _ = _digest(stream, spool)
            if staging_dir is not None:
                spool.flush()
                os.fsync(spool.fileno())  # it may become a blob by a mere rename
    except BaseException:
        os.unlink(spool_path)
        release()
        raise
    payload = Payload(
        digest,
        size,
        lambda: _open_binary(spool_path),
        path=spool_path,
        private_copy=staging_dir is not None,
    )

    def cleanup() -> None:
        _remove(spool_path)
        release()

    payload.cleanup = cleanup
    return payload


def _remove(path: str) -> None:
    # the backend may have renamed a private copy into place already
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
