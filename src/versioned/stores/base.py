"""The interface a storage backend gives the engine, and the records it speaks in.

A backend owns one blob store and one metadata store and makes each of its steps
atomic in its own way (DynamoDB conditions and transactions; SQLite transactions and
renames). The engine decides what happens in which order, validates arguments and
turns records into the public value objects. Backends never see unchecked input.
"""

from __future__ import annotations

import hashlib
import io
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, BinaryIO, TypeVar, cast

from ..exc import ArtifactNotFoundError, ConcurrentWriteError, VersionInUseError


@dataclass(frozen=True)
class VersionRecord:
    """One committed version item. ``version`` is ``None`` for LATEST."""

    name: str
    version: int | None
    sha256: str
    update_at: datetime
    is_deleted: bool
    #: What the put stored beside the bytes, where the backend keeps it (None: unknown,
    #: e.g. an item written by versioned 1.0.1).
    size: int | None = None
    content_type: str | None = None
    metadata: dict[str, str] | None = field(default=None, compare=False)
    #: When it was soft-deleted (None: live, or deleted before times were recorded, or
    #: by versioned 1.0.1).
    deleted_at: datetime | None = field(default=None, compare=False)
    #: What a store conditions a soft delete of this version on, as this record was read
    #: (DynamoDB: the item's ``alias_guard``, which every alias change pointing at the
    #: version bumps; None: none was read, or the store needs none).
    guard: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Targets:
    """Where an alias points: versions use None for LATEST; the weight is set exactly
    when there is a secondary version."""

    version: int | None
    secondary_version: int | None = None
    secondary_version_weight: int | None = None


@dataclass(frozen=True)
class ChangeNote:
    """What the engine tells a backend about an alias change besides its targets.

    ``action`` is ``"set"``, ``"rollback"`` or ``"delete"``. ``expected_revision``
    (None: no check; 0: the alias must not exist) makes the change a compare-and-set.
    """

    action: str
    who: str
    reason: str | None = None
    expected_revision: int | None = None


@dataclass(frozen=True)
class AliasChange:
    """One entry of an alias's history, written atomically with the change it records.

    ``action`` is what the note said, or ``"outside"`` for a change a backend noticed
    but did not make (an alias rewritten by versioned 1.0.1, which keeps no history).
    ``before``/``after`` are None where the alias did not exist. ``sha256`` is
    ``chain.entry_sha256`` of this entry, which covers ``previous_sha256`` (the entry
    one revision older; "" for revision 1): altering or removing one entry breaks the chain.
    """

    name: str
    alias: str
    revision: int
    update_at: datetime
    action: str
    who: str
    reason: str | None
    before: Targets | None
    after: Targets | None
    previous_sha256: str
    sha256: str


@dataclass(frozen=True)
class ChainMarks:
    """Where a store says an alias's history ends, read beside the entries: the head
    marker (written with every change, kept after a delete) and the alias record.

    ``head_revision``/``head_sha256``: None when there is no head marker.
    ``alias_revision``: None when no alias is stored, 0 when it was written without
    history. ``alias_head_sha256``: the newest entry's hash as the alias record names
    it, None where the store keeps none on the record.
    """

    head_revision: int | None
    head_sha256: str | None
    alias_revision: int | None
    alias_head_sha256: str | None = None


@dataclass(frozen=True)
class AliasRecord:
    """One alias item; target hashes are filled in where the backend has them cheaply.

    ``version`` and ``secondary_version`` use None for LATEST, so whether a traffic
    split exists is told by ``secondary_version_weight`` (set exactly when it does).
    """

    name: str
    alias: str
    version: int | None
    secondary_version: int | None
    secondary_version_weight: int | None
    update_at: datetime
    version_sha256: str | None = None
    secondary_version_sha256: str | None = None
    #: Grows by one on every change; 0 only on a record not yet written.
    revision: int = 0

    @property
    def state(self) -> Targets:
        """Where the alias points, without names, times or hashes."""
        return Targets(self.version, self.secondary_version, self.secondary_version_weight)

    @property
    def has_secondary(self) -> bool:
        """True when the alias splits traffic with a secondary version."""
        return self.secondary_version_weight is not None

    def targets(self) -> list[int | None]:
        """The versions this alias points at: the primary, then the secondary if any."""
        if not self.has_secondary:
            return [self.version]
        return [self.version, self.secondary_version]


@dataclass(frozen=True)
class StoredRollout:
    """One rollout as a store keeps it, next to (never inside) the alias it drives.

    ``number`` counts the alias's rollouts from 1. ``body`` is the rollout's JSON
    (``rollout_record.encode``), opaque to stores. ``seq`` grows by one with every write,
    and every write is a compare-and-set on it (``Backend.write_rollout``).
    """

    name: str
    alias: str
    number: int
    seq: int
    body: str


@dataclass
class Payload:
    """Content to store, with its SHA-256 and size known before any byte is written."""

    sha256: str
    size: int
    opener: Callable[[], BinaryIO] = field(repr=False)
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: Called once the payload is no longer needed (removes a spool file, say).
    cleanup: Callable[[], None] | None = field(default=None, repr=False)
    #: A file holding exactly the content, so that parts can be read at any offset.
    path: str | None = None
    #: True when ``path`` is a private copy the backend may rename into place.
    private_copy: bool = False
    #: SHA-256 (raw digest) of each ``BLOCK_SIZE`` block, when computed up front.
    block_sha256: list[bytes] | None = field(default=None, repr=False)
    #: Told the number of bytes each time a backend reads some of the content to store
    #: it (through :meth:`open` or :meth:`read_range`); may be called from several threads.
    progress: Callable[[int], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Release what the payload holds; safe to call more than once."""
        cleanup, self.cleanup = self.cleanup, None
        if cleanup is not None:
            cleanup()

    def open(self) -> BinaryIO:
        """A fresh binary stream over the content, from its first byte."""
        stream = self.opener()
        if self.progress is None:
            return stream
        return cast(BinaryIO, CountingStream(stream, self.progress))

    def latest_record(self, name: str, now: datetime) -> VersionRecord:
        """The record of LATEST once this payload is committed as it at ``now``."""
        return VersionRecord(
            name,
            None,
            self.sha256,
            now,
            False,
            size=self.size,
            content_type=self.content_type,
            metadata=dict(self.metadata),
        )

    def read_range(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end); safe from several threads."""
        if self.path is None:
            with self.opener() as stream:
                stream.seek(offset)
                data = stream.read(length)
        else:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                data = os.pread(fd, length, offset)
            finally:
                os.close(fd)
        if self.progress is not None:
            self.progress(len(data))
        return data

    @classmethod
    def from_bytes(cls, content: bytes) -> Payload:
        """A payload over bytes already in memory."""
        return cls(hashlib.sha256(content).hexdigest(), len(content), lambda: io.BytesIO(content))


class CountingStream(io.RawIOBase):
    """A readable (and, if ``raw`` is, seekable) stream over ``raw`` that reports the size
    of each read to ``tell``."""

    def __init__(self, raw: BinaryIO, tell: Callable[[int], None]) -> None:
        super().__init__()
        self._raw, self._tell = raw, tell

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        view[: len(data)] = data
        if data:
            self._tell(len(data))
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class LatestWrite:
    """A put of LATEST under way: what LATEST held when it began, and the backend's token."""

    name: str
    current: VersionRecord | None
    token: str | None = None
    #: True when LATEST had no item before this put (a brand-new artifact).
    created_item: bool = False
    #: True once bytes may have reached the store (even if the call then failed).
    upload_started: bool = False


class BlobStream(io.BufferedReader):
    """Stored bytes being read, with the SHA-256 the blob store keeps beside them.

    ``declared_sha256`` comes from the same response as the bytes (S3 object metadata),
    so it tells a blob replaced since its metadata was read from a corrupt one.
    """

    declared_sha256: str | None = None


class Backend(ABC):
    """The atomic primitives one storage backend provides. Python enforces the set."""

    #: Where a put may copy its content while hashing it (a folder on the blob store's
    #: filesystem, so the copy can later be renamed into place); None: hash without copying.
    staging_dir: str | None = None

    # --- set-up -----------------------------------------------------------------
    @abstractmethod
    def bootstrap(self, write_capacity: int | None, read_capacity: int | None) -> None:
        """Create what the backend needs if missing; leave what exists as it is."""

    # --- reads ------------------------------------------------------------------
    @abstractmethod
    def get_version(self, name: str, version: int | None) -> VersionRecord | None:
        """The committed record (deleted ones included), or None."""

    #: True when :meth:`list_versions` answers in the listing's order (LATEST first, then
    #: newest number first), so the engine need not sort it again.
    versions_in_order = False

    @abstractmethod
    def list_versions(self, name: str) -> list[VersionRecord]:
        """Every committed record of ``name``, deleted ones included, in any order (in the
        listing's order when :attr:`versions_in_order`)."""

    @abstractmethod
    def list_names(self) -> list[str]:
        """Every artifact name that has stored bytes, sorted."""

    @abstractmethod
    def get_alias(self, name: str, alias: str) -> AliasRecord | None:
        """The alias record, or None."""

    @abstractmethod
    def list_aliases(self, name: str) -> list[AliasRecord]:
        """Every alias of ``name``, sorted by alias."""

    @abstractmethod
    def version_uri(self, name: str, version: int | None, sha256: str | None) -> str:
        """Where the bytes of a version live (``s3://…`` or ``file://…``)."""

    def version_uris(self) -> Callable[[str, int | None, str], str]:
        """:meth:`version_uri` for records that name their sha256, as one callable to
        use over a whole listing (a backend may answer one that skips per-call checks)."""
        return self.version_uri

    @abstractmethod
    def open_blob(self, name: str, version: int | None, sha256: str) -> BinaryIO:
        """A stream over the stored bytes (unverified). Raises ArtifactNotFoundError."""

    # --- LATEST -------------------------------------------------------------------
    @abstractmethod
    def begin_latest_write(self, name: str) -> LatestWrite:
        """Start a put of LATEST: serialise against other puts and read the current LATEST."""

    def touch_latest_at_once(self, name: str, sha256: str, now: datetime) -> VersionRecord | None:
        """An identical put in one step, before (and instead of) ``begin_latest_write``:
        set LATEST's time if the store can tell from its own records, in one atomic step,
        that LATEST holds ``sha256`` and no write of LATEST is under way.

        Returns None when that is not proven, or not worth a request (the caller then
        takes the usual path, which must still work); this default always does.
        """
        return None

    @abstractmethod
    def touch_latest(self, write: LatestWrite, sha256: str, now: datetime) -> VersionRecord | None:
        """End a put whose content equals LATEST's: revive it and set its time.

        Returns None if LATEST no longer holds ``sha256`` (the caller uploads instead).
        """

    @abstractmethod
    def upload_latest(self, write: LatestWrite, payload: Payload) -> None:
        """Store the bytes of a put (they become visible as LATEST's on commit)."""

    @abstractmethod
    def commit_latest(self, write: LatestWrite, payload: Payload, now: datetime) -> VersionRecord:
        """Point LATEST's metadata at the uploaded bytes and end the put."""

    def adopt_latest(self, name: str, sha256: str) -> bool:
        """Finish a put that crashed after its bytes landed: if LATEST's object holds
        intact bytes hashing to ``sha256`` (the caller just read and hashed them) and its
        item still carries the dead writer's expired lease, commit them. True if done.

        Backends whose puts cannot leave that state keep this default.
        """
        return False

    @abstractmethod
    def abort_latest(self, write: LatestWrite, payload: Payload | None) -> None:
        """End a failed put, leaving LATEST consistent; never raises."""

    # --- versions -----------------------------------------------------------------
    @abstractmethod
    def publish(self, name: str, now: datetime) -> VersionRecord:
        """Freeze LATEST as the next number. Raises ArtifactNotFoundError without a live LATEST."""

    @abstractmethod
    def soft_delete(self, name: str, version: int | None) -> bool:
        """Mark a version deleted unless an alias points at it.

        Returns False if it was already deleted. Raises ArtifactNotFoundError,
        VersionInUseError.
        """

    def soft_delete_many(self, name: str, records: list[VersionRecord]) -> list[int | None]:
        """Soft-delete each of these versions that no alias points at; return those deleted.

        ``records`` come from this store's :meth:`list_versions`, read *before* the caller
        read the aliases and left out every version they point at: a store may condition
        each delete on what that listing read (``guard``) instead of listing again, since
        an alias change after the listing changes the guard and the delete is refused.
        Versions aliased, missing or already deleted are skipped. Backends that can put
        several deletes in flight override this one-at-a-time version.
        """
        deleted: list[int | None] = []
        for record in records:
            try:
                if self.soft_delete(name, record.version):
                    deleted.append(record.version)
            except (VersionInUseError, ArtifactNotFoundError, ConcurrentWriteError):
                continue  # aliased, or removed or changed by someone else meanwhile
        return deleted

    @abstractmethod
    def restore(self, name: str, version: int | None) -> VersionRecord:
        """Clear a version's deleted flag (and its deletion time). Raises
        ArtifactNotFoundError (missing, or expired: its bytes are gone)."""

    @abstractmethod
    def date_deletion(self, name: str, version: int, now: datetime) -> bool:
        """Record ``now`` as the deletion time of a published version soft-deleted
        without one (before times were recorded, or by 1.0.1). Returns False when it is
        no longer such a version (restored, dated or expired meanwhile)."""

    @abstractmethod
    def expire_version(self, name: str, version: int, deleted_at: datetime) -> int | None:
        """Remove for good the bytes of a published version soft-deleted at
        ``deleted_at``, keeping a tombstone record that names no bytes, is never listed
        or restored, and keeps its number from being given out again (1.0.1 numbers
        from the highest item it sees). The record is released before the bytes go.

        Returns the bytes freed (0 when the content is still used elsewhere), or None
        when the version is no longer soft-deleted at ``deleted_at`` (restored, purged
        or expired meanwhile): nothing is touched then.
        """

    # --- aliases --------------------------------------------------------------------
    @abstractmethod
    def put_alias(self, record: AliasRecord, note: ChangeNote) -> AliasRecord:
        """Write the alias and its history entry in one atomic step, if all its targets
        are live and (with ``note.expected_revision``) the alias is at that revision.

        Returns the record as written (``revision`` set; target hashes where known).
        Raises ArtifactNotFoundError naming the first target that is not live,
        RevisionMismatchError.
        """

    @abstractmethod
    def delete_alias(self, name: str, alias: str, note: ChangeNote) -> AliasRecord | None:
        """Remove the alias and record the removal in one atomic step.

        Returns the record removed, or None if there was none: nothing is recorded then
        (a missing alias is at revision 0, so an ``expected_revision`` above 0 raises
        RevisionMismatchError and 0 passes). Helpers both stores can share:
        ``chain.plan_change`` and ``rules.check_expected_revision``.
        """

    @abstractmethod
    def alias_history(
        self, name: str, alias: str, limit: int, before_revision: int | None
    ) -> list[AliasChange]:
        """Up to ``limit`` history entries, newest first, with revisions below
        ``before_revision`` (None: from the newest). One request per call on S3."""

    @abstractmethod
    def chain_marks(self, name: str, alias: str) -> ChainMarks:
        """The head marker and the alias record's view of where the history ends, read
        together (verification compares them with the entries)."""

    @abstractmethod
    def aliases_with_history(self, name: str) -> list[str]:
        """Every alias of ``name`` that has history entries, deleted aliases included,
        sorted (retention keeps what a rollback of a deleted alias would need)."""

    @abstractmethod
    def identity(self) -> str:
        """Who is making changes, for the history (looked up once, then cached)."""

    # --- rollouts --------------------------------------------------------------------------
    @abstractmethod
    def get_rollout(self, name: str, alias: str, number: int | None) -> StoredRollout | None:
        """Rollout ``number`` of the alias (None: the highest-numbered one), read
        strongly consistent; None when there is none. One request on S3."""

    @abstractmethod
    def list_rollouts(self, name: str, alias: str, limit: int) -> list[StoredRollout]:
        """Up to ``limit`` rollouts of the alias, newest (highest number) first."""

    @abstractmethod
    def write_rollout(self, record: StoredRollout, expected_seq: int) -> None:
        """Store ``record`` (whose ``seq`` is ``expected_seq + 1``) if the stored copy is
        at ``expected_seq`` (0: none is stored). One conditional write.

        Raises StaleRolloutError when it is not (nothing written).
        """

    # --- hard deletes and cleanup ------------------------------------------------------
    @abstractmethod
    def purge_artifact(self, name: str) -> None:
        """Remove every record, alias, rollout and byte of ``name`` (metadata first)."""

    @abstractmethod
    def all_names(self) -> list[str]:
        """Every artifact name with any trace in blobs or metadata (for purge_all)."""

    @abstractmethod
    def find_orphans(self, older_than: datetime) -> list[str]:
        """URIs of stored bytes that no record needs, last written before ``older_than``."""

    @abstractmethod
    def remove_orphans(self, uris: Iterable[str], older_than: datetime) -> list[str]:
        """Remove those of ``uris`` that are still orphans; return the ones removed."""


#: The block size content is hashed in up front; S3 uploads parts of this size, so each
#: part's SHA-256 is known before it is sent and S3 can verify it on arrival.
BLOCK_SIZE = 8 * 1024 * 1024


Made = TypeVar("Made")
#: Per class: how many fields it has when :func:`assembler` may skip its ``__init__``,
#: else -1 (decided once per class).
_PLAIN_CLASSES: dict[type, int] = {}


def _plain_count(cls: type) -> int:
    """How many fields ``cls`` has if :func:`assembler` may skip its ``__init__``, else -1."""
    count = _PLAIN_CLASSES.get(cls)
    if count is None:
        owner = next(c for c in cls.__mro__ if "__init__" in vars(c))
        params = vars(owner).get("__dataclass_params__")
        generated = params is not None and params.init
        plain = generated and not hasattr(cls, "__post_init__") and "__slots__" not in dir(cls)
        count = _PLAIN_CLASSES[cls] = len(fields(cls)) if plain else -1
    return count


def assembler(cls: type[Made]) -> Callable[[dict[str, Any]], Made]:
    """A maker of instances of the dataclass ``cls``, decided once for the class (make one
    per loop or module, not per call). ``make(values)`` is an instance holding ``values``,
    which names every field and becomes the instance's own ``__dict__`` (not to be used by
    the caller after).

    A frozen dataclass's generated ``__init__`` sets each field through
    ``object.__setattr__``, which for a listing of 10,000 versions cost more than reading
    the rows from SQLite; setting ``__dict__`` directly makes the same object (equal,
    hashable, still frozen) several times faster. A class whose ``__init__`` is not the
    one ``dataclass`` generated, that checks or derives anything when made
    (``__post_init__``) or keeps no ``__dict__`` (slots), and ``values`` that do not
    name as many fields as it has, go through ``cls(**values)`` as usual.
    """
    count = _plain_count(cls)
    new, set_dict = object.__new__, object.__setattr__

    def make(values: dict[str, Any]) -> Made:
        if len(values) != count:
            return cls(**values)
        made: Made = new(cls)
        # ``values`` becomes the instance's dict as it is (the caller hands it over):
        # copying it in instead was three times slower over a 10,000-row listing
        set_dict(made, "__dict__", values)
        return made

    return make


def iter_chunks(stream: BinaryIO, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
    """Yield the stream's bytes in chunks until it ends."""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            return
        yield chunk
