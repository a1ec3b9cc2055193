"""The local repository records its settings, and read-only opening never creates one.

Case 8: a repository made with ``suffix=".zip"`` and opened again without a suffix (what
``open_repository(root)`` and the CLI do) used to see every blob as an orphan, fail every
read, and let ``gc(dry_run=False)`` delete every version's bytes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import versioned
from tests.helpers import LocalBackend, raises_versioned, sha256_hex
from tests.invariants import LocalRawStore, assert_sound
from versioned import exc
from versioned.repository import BaseRepository
from versioned.stores.local import LocalBackend as Store

NAME = "settings-test"


def zip_repository(root: Path) -> list[bytes]:
    """A repository with suffix .zip holding a published version and a LATEST."""
    repo = LocalBackend(root, suffix=".zip").repo
    repo.put_artifact(NAME, b"first")
    repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, b"second")
    repo.put_alias(NAME, "prod", 1)
    return [b"first", b"second"]


def assert_intact(root: Path) -> None:
    """Every version still reads back through a repository opened with the right suffix."""
    repo = LocalBackend(root, suffix=".zip").repo
    assert repo.get_artifact_version(NAME, 1).get_content() == b"first"
    assert repo.get_artifact_version(NAME).get_content() == b"second"
    assert_sound(LocalRawStore(root=root, suffix=".zip"))


def test_suffix_is_adopted_when_opened_without_one(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    zip_repository(root)
    store = Store(root)
    repo = BaseRepository(store)
    assert repo.gc(dry_run=False, grace_seconds=0) == []
    assert store.suffix == ".zip"
    assert repo.get_artifact_version(NAME, 1).get_content() == b"first"
    assert repo.get_artifact_version(NAME).uri.endswith(".zip")
    assert_intact(root)


def test_other_suffix_is_refused_naming_both(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    zip_repository(root)
    for wrong in ("", ".tar"):
        with raises_versioned(exc.RepositoryMismatchError) as info:
            BaseRepository(Store(root, suffix=wrong)).gc(dry_run=False, grace_seconds=0)
        assert isinstance(info.value, ValueError)
        assert "'.zip'" in str(info.value) and repr(wrong) in str(info.value)
        assert "suffix" in str(info.value)
    assert_intact(root)


def test_open_repository_without_suffix_never_loses_data(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    zip_repository(root)
    opened = versioned.open_repository(str(root))
    try:
        removed = opened.gc(dry_run=False, grace_seconds=0)
    except exc.RepositoryMismatchError:
        removed = []  # a facade that passes suffix="" is refused; None adopts ".zip"
    assert removed == []
    assert_intact(root)


def _forget_settings(root: Path) -> None:
    """Make the repository look like one written before settings were recorded."""
    conn = sqlite3.connect(root / "versioned.sqlite3")
    try:
        conn.execute("DROP TABLE settings")
        conn.commit()
    finally:
        conn.close()


def _stored_suffix(root: Path) -> str | None:
    conn = sqlite3.connect(root / "versioned.sqlite3")
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = 'suffix'").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


def test_older_repository_gets_the_suffix_its_blobs_have(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    zip_repository(root)
    _forget_settings(root)
    with raises_versioned(exc.RepositoryMismatchError):
        BaseRepository(Store(root, suffix="")).gc(dry_run=False, grace_seconds=0)
    assert _stored_suffix(root) is None, "a suffix the blobs contradict was recorded"
    assert_intact(root)
    store = Store(root)
    assert BaseRepository(store).gc(dry_run=False, grace_seconds=0) == []
    assert store.suffix == ".zip"
    assert _stored_suffix(root) == ".zip"
    assert_intact(root)


def test_older_repository_records_the_given_suffix(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    zip_repository(root)
    _forget_settings(root)
    assert BaseRepository(Store(root, suffix=".zip")).list_artifact_names() == [NAME]
    assert _stored_suffix(root) == ".zip"
    assert_intact(root)


def test_newer_format_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    zip_repository(root)
    conn = sqlite3.connect(root / "versioned.sqlite3")
    conn.execute("UPDATE settings SET value = '99' WHERE key = 'format'")
    conn.commit()
    conn.close()
    with raises_versioned(exc.RepositoryMismatchError) as info:
        Store(root).list_names()
    assert "format" in str(info.value) and "99" in str(info.value)


def test_a_format_1_repository_is_raised_to_format_2_when_opened(tmp_path: Path) -> None:
    """Format 1 builds keep no head markers: once this build opened a repository, they
    must refuse to write to it (a change of theirs would look like a cut history)."""
    root = tmp_path / "repo"
    zip_repository(root)
    conn = sqlite3.connect(root / "versioned.sqlite3")
    with conn:
        conn.execute("UPDATE settings SET value = '1' WHERE key = 'format'")
    conn.close()
    Store(root).list_names()
    conn = sqlite3.connect(root / "versioned.sqlite3")
    assert conn.execute("SELECT value FROM settings WHERE key = 'format'").fetchone() == ("2",)
    conn.close()


def test_new_repository_records_its_settings(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    BaseRepository(Store(root, suffix=".bin")).put_artifact(NAME, b"x")
    assert _stored_suffix(root) == ".bin"
    assert (
        BaseRepository(Store(root))
        .get_artifact_version(NAME)
        .uri.endswith(f"{sha256_hex(b'x')}.bin")
    )


# --- read commands never create a repository --------------------------------------------


@pytest.mark.parametrize("exists", [False, True], ids=["no folder", "empty folder"])
def test_reading_where_there_is_no_repository(tmp_path: Path, exists: bool) -> None:
    root = tmp_path / "nothing-here"
    if exists:
        root.mkdir()
    store = Store(root, create=False)
    repo = BaseRepository(store)
    for read in (
        repo.list_artifact_names,
        lambda: repo.get_artifact_version(NAME),
        lambda: repo.list_artifact_versions(NAME),
        lambda: repo.gc(dry_run=True),
    ):
        with raises_versioned(exc.RepositoryNotFoundError) as info:
            read()
        assert str(root) in str(info.value) and "versioned init" in str(info.value)
    with raises_versioned(exc.RepositoryNotFoundError):
        repo.put_artifact(NAME, b"a write without create=True creates nothing either")
    if exists:
        assert list(root.iterdir()) == [], "a read created files"
    else:
        assert not root.exists(), "a read created the folder"


def test_read_only_opening_reads_an_existing_repository(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    zip_repository(root)
    repo = BaseRepository(Store(root, create=False))
    assert repo.list_artifact_names() == [NAME]
    assert repo.get_artifact_version(NAME, 1).get_content() == b"first"


def test_writes_create_the_repository_by_default(tmp_path: Path) -> None:
    root = tmp_path / "new" / "repo"
    BaseRepository(Store(root)).put_artifact(NAME, b"x")
    assert (root / "versioned.sqlite3").is_file()


@pytest.mark.parametrize("create", [False, True])
def test_a_corrupt_database_is_named_and_nothing_is_made_beside_it(
    tmp_path: Path, create: bool
) -> None:
    from versioned.local_backend import Repository

    database = tmp_path / "versioned.sqlite3"
    database.write_bytes(b"garbage, not SQLite " * 100)
    repo = Repository(tmp_path, create=create)
    for read in (repo.list_artifact_names, lambda: repo.list_artifact_versions("app")):
        with raises_versioned(exc.BackendError) as error:
            read()
        assert str(database) in str(error.value)
    with raises_versioned(exc.BackendError):
        repo.put_artifact("app", b"x")  # a write does not mend it either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["versioned.sqlite3"]
