"""A 1 GiB artifact goes up from a path, is published and comes down in bounded memory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import S3Backend

GIB = 1024**3
BLOCK = 1024 * 1024
RSS_LIMIT = 200 * 1000 * 1000


@pytest.fixture
def gib_file(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A 1 GiB file of distinct pseudo-random blocks, written in blocks, and its sha256."""
    path = tmp_path / "big.bin"
    digest = hashlib.sha256()
    seed = os.urandom(BLOCK)
    with path.open("wb") as out:
        for index in range(GIB // BLOCK):
            block = index.to_bytes(8, "little") + seed[8:]
            digest.update(block)
            out.write(block)
    yield path, digest.hexdigest()
    path.unlink(missing_ok=True)


def _round_trip(args: list[str], out: Path) -> dict[str, object]:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "tests.streaming.large_child", *args, str(out)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_one_gib_round_trip_in_bounded_memory(
    kind: str, gib_file: tuple[Path, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source, sha256 = gib_file
    out = tmp_path / "down.bin"
    if kind == "local":
        where = [str(tmp_path / "repo")]
    else:
        backend: S3Backend = request.getfixturevalue("s3_backend")
        where = [backend.bucket, backend.table]
    try:
        report = _round_trip([kind, *where, str(source)], out)
        assert report["sha256"] == sha256
        assert report["published_sha256"] == sha256
        assert report["version"] == "1"
        assert out.stat().st_size == GIB
        peak = report["peak_rss"]
        assert isinstance(peak, int)
        assert peak < RSS_LIMIT, f"peak RSS {peak / 1e6:.0f} MB"
    finally:
        out.unlink(missing_ok=True)
        if kind == "s3":
            backend.repo.purge_artifact("big")  # moto holds the bytes: free them
