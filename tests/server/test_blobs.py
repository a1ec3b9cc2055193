"""Checked local blobs (:mod:`versioned.server.blobs`): small content hashed once, kept in
memory and sent as the very bytes that were hashed; its file looked at again only every
``recheck_seconds``, and then, changed, hashed again and refused; the memory kept bounded;
larger content answered from its checked file on every request."""

from __future__ import annotations

import os

import pytest

from tests.helpers import LocalBackend, file_uri_to_path
from versioned.exc import ArtifactNotFoundError, IntegrityError
from versioned.model import Artifact
from versioned.server.blobs import RECHECK_SECONDS, VerifiedBlobs

pytestmark = pytest.mark.timeout(60)


def _put(local_backend: LocalBackend, name: str, data: bytes) -> Artifact:
    repo = local_backend.repo
    repo.put_artifact(name, data)
    published: Artifact = repo.publish_artifact_version(name)
    return published


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _blobs(local_backend: LocalBackend, clock: Clock | None = None, **limits: int) -> VerifiedBlobs:
    return VerifiedBlobs(local_backend.repo._backend.open_blob, clock=clock or Clock(), **limits)


def _model_one(local_backend: LocalBackend) -> tuple[Artifact, Clock, VerifiedBlobs]:
    """``model one`` published, and blobs checked on a clock moved by hand."""
    clock = Clock()
    return _put(local_backend, "model", b"model one"), clock, _blobs(local_backend, clock)


def test_small_content_is_read_and_hashed_once_then_sent_from_memory(
    local_backend: LocalBackend,
) -> None:
    version = _put(local_backend, "model", b"model one")
    blobs = _blobs(local_backend)
    first = blobs.fetch(version)
    assert first == b"model one"
    assert blobs.fetch(version) is first


def test_a_changed_file_is_hashed_again_and_refused(local_backend: LocalBackend) -> None:
    version, clock, blobs = _model_one(local_backend)
    assert blobs.fetch(version) == b"model one"
    local_backend.overwrite_stored(version, b"evil bytes")
    # within recheck_seconds the kept bytes (which hashed right) go out, the disk untouched
    clock.now += RECHECK_SECONDS / 2
    assert blobs.kept(version) == b"model one"
    assert blobs.fetch(version) == b"model one"
    clock.now += RECHECK_SECONDS
    assert blobs.kept(version) is None  # due for a look at the file
    with pytest.raises(IntegrityError):
        blobs.fetch(version)
    assert blobs.kept_bytes == 0  # the good copy is dropped with the refusal
    with pytest.raises(IntegrityError):
        blobs.fetch(version)


def test_kept_content_needs_no_file_until_it_is_due(local_backend: LocalBackend) -> None:
    version, clock, blobs = _model_one(local_backend)
    assert blobs.kept(version) is None  # never read: nothing kept
    assert blobs.fetch(version) == b"model one"
    path = file_uri_to_path(version.uri)
    path.chmod(0o600)
    path.unlink()  # gone from disk: kept content is still the hashed bytes
    assert blobs.kept(version) == b"model one"
    clock.now += RECHECK_SECONDS
    with pytest.raises(ArtifactNotFoundError):
        blobs.fetch(version)


def test_an_unchanged_file_renews_its_kept_content(local_backend: LocalBackend) -> None:
    version, clock, blobs = _model_one(local_backend)
    first = blobs.fetch(version)
    clock.now += RECHECK_SECONDS
    assert blobs.fetch(version) is first  # the file looked at, found unchanged, not re-read
    assert blobs.kept(version) is first


def test_bytes_altered_behind_an_unchanged_identity_are_never_sent(
    local_backend: LocalBackend,
) -> None:
    # same inode, size and modification time: the file looks unchanged, and what is sent
    # is still the bytes that were hashed, never the altered ones
    version = _put(local_backend, "model", b"model one")
    blobs = _blobs(local_backend)
    assert blobs.fetch(version) == b"model one"
    path = file_uri_to_path(version.uri)
    before = path.stat()
    local_backend.overwrite_stored(version, b"EVIL! one")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert blobs.fetch(version) == b"model one"


def test_corrupt_small_content_is_refused_on_its_first_read(
    local_backend: LocalBackend,
) -> None:
    version = _put(local_backend, "model", b"model one")
    local_backend.overwrite_stored(version, b"evil bytes")
    with pytest.raises(IntegrityError):
        _blobs(local_backend).fetch(version)


def test_memory_kept_stays_within_its_bound(local_backend: LocalBackend) -> None:
    versions = [_put(local_backend, f"a{n}", bytes([n]) * 100) for n in range(5)]
    blobs = _blobs(local_backend, kept=250)
    for version in versions:
        assert blobs.fetch(version) == version_bytes(version)
        assert blobs.kept_bytes <= 250
    assert blobs.kept_bytes == 200  # the two most recent
    # a dropped one is read, hashed and kept again
    assert blobs.fetch(versions[0]) == bytes([0]) * 100


def version_bytes(version: Artifact) -> bytes:
    return file_uri_to_path(version.uri).read_bytes()


def test_larger_content_is_answered_from_its_checked_file(local_backend: LocalBackend) -> None:
    data = os.urandom(5000)
    version = _put(local_backend, "big", data)
    blobs = _blobs(local_backend, small=4096)
    found = blobs.fetch(version)
    assert isinstance(found, tuple)
    stream, size = found
    with stream:
        assert size == 5000
        assert stream.read() == data
    assert blobs.kept_bytes == 0
    local_backend.overwrite_stored(version, b"x" * 5000)
    with pytest.raises(IntegrityError):
        blobs.fetch(version)
