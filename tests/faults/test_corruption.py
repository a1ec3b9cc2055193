"""Bytes changed behind the library's back: every read path raises IntegrityError (invariant 6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Backend, raises_versioned
from versioned import exc

NAME = "fragile"
GOOD, OTHER = b"good bytes" * 50, b"other bytes" * 50

#: read path -> how to read version 1 through it (alias ``live`` -> 1, split with 2 -> ...)
READS: dict[str, Callable[[Any, Path], object]] = {
    "Artifact.get_content": lambda repo, _: repo.get_artifact_version(NAME, 1).get_content(),
    "Artifact.download": lambda repo, tmp: repo.get_artifact_version(NAME, 1).download(
        tmp / "out.bin"
    ),
    "Alias.get_version_content": lambda repo, _: repo.get_alias(NAME, "live").get_version_content(),
    "Alias.download_version": lambda repo, tmp: repo.get_alias(NAME, "live").download_version(
        tmp / "out.bin"
    ),
    "Alias.get_secondary_version_content": lambda repo, _: repo.get_alias(
        NAME, "split"
    ).get_secondary_version_content(),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_changed_bytes_raise_integrity_error(backend: Backend, tmp_path: Path, read: str) -> None:
    repo = backend.repo
    repo.put_artifact(NAME, GOOD)
    first = repo.publish_artifact_version(NAME)
    repo.put_artifact(NAME, OTHER)
    repo.publish_artifact_version(NAME)
    repo.put_alias(NAME, "live", 1)
    repo.put_alias(NAME, "split", 2, secondary_version=1, secondary_version_weight=50)
    backend.overwrite_stored(first, b"evil" + GOOD[4:])
    with raises_versioned(exc.IntegrityError) as info:
        READS[read](repo, tmp_path)
    error = info.value
    assert (error.name, error.version) == (NAME, "1")
    assert NAME in str(error) and "1" in str(error)
    assert error.expected == first.sha256 and error.actual != first.sha256
    assert not (tmp_path / "out.bin").exists(), "a corrupt download must not appear"
    # the other version is untouched and still reads
    assert repo.get_artifact_version(NAME, 2).get_content() == OTHER
