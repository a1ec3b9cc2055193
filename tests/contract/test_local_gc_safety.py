"""gc on the local backend removes only what it can name as its own, never a live put's file.

Case 9: gc followed a symlink planted as ``tmp/`` (or under ``blobs/``) and deleted files
outside the root, and deleted any stray file under ``blobs/``.
Case 10: ``gc(grace_seconds=0)`` removed a running put's staging copy and the put failed.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import raises_versioned, sha256_hex
from tests.invariants import LocalRawStore, assert_sound
from versioned import exc
from versioned.repository import BaseRepository
from versioned.stores.local import LocalBackend as Store

NAME = "gc-safety"
OLD = time.time() - 7200


def _old(path: Path) -> Path:
    os.utime(path, (OLD, OLD), follow_symlinks=False)
    return path


def _file(path: Path, data: bytes = b"precious") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return _old(path)


def _make(root: Path) -> BaseRepository:
    repo = BaseRepository(Store(root))
    repo.put_artifact(NAME, b"kept v1")
    repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, b"kept latest")
    for blob in (root / "blobs").rglob("*"):
        _old(blob)
    return repo


def _assert_readable(repo: BaseRepository, root: Path) -> None:
    assert repo.get_artifact_version(NAME, 1).get_content() == b"kept v1"
    assert repo.get_artifact_version(NAME).get_content() == b"kept latest"
    assert_sound(LocalRawStore(root=root))


def _staging_name() -> str:
    return f"versioned-part-{uuid.uuid4().hex}"


# --- case 9: links and stray files -------------------------------------------------------


def test_gc_does_not_follow_a_symlinked_tmp(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    repo = _make(root)
    victims = [_file(outside / _staging_name()), _file(outside / "notes.txt")]
    (root / "tmp").rmdir()
    (root / "tmp").symlink_to(outside, target_is_directory=True)
    assert repo.gc(dry_run=True, grace_seconds=0) == []
    assert repo.gc(dry_run=False, grace_seconds=0) == []
    assert all(v.read_bytes() == b"precious" for v in victims)
    with raises_versioned(exc.BackendError):
        repo.put_artifact(NAME, io.BytesIO(b"a stream is staged in tmp/"))
    assert sorted(p.name for p in outside.iterdir()) == sorted(v.name for v in victims)
    _assert_readable(repo, root)


def test_gc_does_not_follow_symlinks_under_blobs(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    repo = _make(root)
    orphan = sha256_hex(b"looks like an orphan blob")
    lured = _file(outside / "ab" / f"ab{orphan[2:]}", b"outside, in a linked folder")
    (root / "blobs" / "ab").symlink_to(outside / "ab", target_is_directory=True)
    target = _file(outside / "target", b"outside, behind a linked file")
    link = root / "blobs" / orphan[:2] / orphan
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(target)
    _old(link)
    assert repo.gc(dry_run=False, grace_seconds=0) == []
    assert lured.read_bytes() == b"outside, in a linked folder"
    assert target.read_bytes() == b"outside, behind a linked file"
    _assert_readable(repo, root)


def test_gc_leaves_stray_files_and_removes_its_own(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    repo = _make(root)
    blobs, tmp = root / "blobs", root / "tmp"
    some = sha256_hex(b"some orphan")
    strays = [
        _file(blobs / "README"),
        _file(blobs / some[:2] / "notes.txt"),
        _file(blobs / some[:2] / f"{some}~"),  # an editor's backup
        _file(blobs / some[:2] / f"{some}.zip"),  # another suffix than the repository's
        _file(blobs / some[:2] / some.upper()),
        _file(blobs / ("00" if some[:2] != "00" else "01") / some),  # in the wrong folder
        _file(blobs / "zz" / f"zz{some[2:]}"),
        _file(tmp / "notes.txt"),
        _file(tmp / "crashed.part"),
    ]
    own_orphan = _file(blobs / some[:2] / some, b"some orphan")
    own_staging = _file(tmp / _staging_name())
    expected = {own_orphan.as_uri(), own_staging.as_uri()}
    assert set(repo.gc(dry_run=True, grace_seconds=0)) == expected
    assert set(repo.gc(dry_run=False, grace_seconds=0)) == expected
    assert not own_orphan.exists() and not own_staging.exists()
    assert all(s.read_bytes() == b"precious" for s in strays)
    _assert_readable(repo, root)


def test_a_symlinked_blobs_folder_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    repo = _make(root)
    outside.mkdir()
    (root / "blobs").rename(outside / "blobs")
    orphan = sha256_hex(b"orphan outside")
    lured = _file(outside / "blobs" / orphan[:2] / orphan, b"orphan outside")
    (root / "blobs").symlink_to(outside / "blobs", target_is_directory=True)
    assert repo.gc(dry_run=False, grace_seconds=0) == []
    assert lured.exists()
    with raises_versioned(exc.BackendError):
        repo.get_artifact_version(NAME, 1).get_content()
    with raises_versioned(exc.BackendError):
        repo.put_artifact(NAME, b"new bytes would land outside the root")
    assert {p.name for p in (outside / "blobs").rglob("*") if p.is_file()} == {
        orphan,
        sha256_hex(b"kept v1"),
        sha256_hex(b"kept latest"),
    }


# --- case 10: a live put's staging file ------------------------------------------------


class _GcOnEnd(io.RawIOBase):
    """A stream that runs gc when the put has read all of it (its spool is complete)."""

    def __init__(self, data: bytes, gc: Callable[[], object]) -> None:
        self._data, self._gc = io.BytesIO(data), gc

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._data.read(size)
        if not chunk:
            time.sleep(0.02)  # the spool's mtime is now older than gc's cutoff
            self._gc()
        return chunk


def test_gc_while_a_put_spools_keeps_its_copy(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    repo = _make(root)
    other = BaseRepository(Store(root))
    removed: list[list[str]] = []
    stream = _GcOnEnd(b"spooled content", lambda: removed.append(other.gc(False, 0)))
    artifact = repo.put_artifact(NAME, stream)
    assert removed == [[]]
    assert artifact.get_content() == b"spooled content"
    assert list((root / "tmp").iterdir()) == []
    assert_sound(LocalRawStore(root=root))


def _before_commit(store: Store, action: Callable[[], object], monkeypatch: Any) -> None:
    """Run ``action`` each time a put is about to commit (its bytes are staged)."""
    original = store.commit_latest

    def commit(*args: Any) -> Any:
        action()
        return original(*args)

    monkeypatch.setattr(store, "commit_latest", commit)


@pytest.mark.parametrize("kind", ["bytes", "stream"])
def test_gc_between_upload_and_commit_keeps_the_staged_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    root = tmp_path / "repo"
    _make(root)
    store = Store(root)
    repo, other = BaseRepository(store), BaseRepository(Store(root))
    removed: list[list[str]] = []
    _before_commit(store, lambda: removed.append(other.gc(False, 0)), monkeypatch)
    data = f"new {kind} content".encode()
    repo.put_artifact(NAME, data if kind == "bytes" else io.BytesIO(data))
    assert removed == [[]]
    assert repo.get_artifact_version(NAME).get_content() == data
    assert_sound(LocalRawStore(root=root))


def test_staged_bytes_removed_behind_a_puts_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    _make(root)
    store = Store(root)
    repo = BaseRepository(store)
    commits: list[int] = []

    def remove_staged_once() -> None:
        commits.append(1)
        if len(commits) == 1:
            for path in (root / "tmp").iterdir():
                path.unlink()

    _before_commit(store, remove_staged_once, monkeypatch)
    # bytes in memory are simply staged again
    repo.put_artifact(NAME, b"from memory")
    assert len(commits) == 2
    assert repo.get_artifact_version(NAME).get_content() == b"from memory"
    # a stream cannot be read twice: the put refuses, and LATEST stays as it was
    commits.clear()
    with raises_versioned(exc.BackendError) as info:
        repo.put_artifact(NAME, io.BytesIO(b"from a stream"))
    assert "staged" in str(info.value)
    assert repo.get_artifact_version(NAME).get_content() == b"from memory"
    assert list((root / "tmp").iterdir()) == []
    assert_sound(LocalRawStore(root=root))
