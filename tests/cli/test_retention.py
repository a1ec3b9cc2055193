"""Soft delete and retention are visible and safe (issue 9, item 4): deleted versions are
listed, purge has a dry run, durations and a question on a terminal; gc and put --tag."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, child_environment, versioned_command
from tests.helpers import S3Backend

NAME = "model"


def _publish(cli: Cli, *contents: bytes) -> None:
    for content in contents:
        cli.run("put", NAME, "-", stdin=content)
        cli.run("publish", NAME)


def test_deleted_versions_are_listed_and_restored_the_same_way(cli: Cli) -> None:
    _publish(cli, b"v1", b"v2")
    cli.run("delete", NAME, "--version", "1")
    cli.run("delete", NAME)  # LATEST
    assert cli.json("versions", NAME, "--deleted") == [
        v for v in cli.json("versions", NAME, "--all") if v["deleted"]
    ]
    assert [v["version"] for v in cli.json("versions", NAME, "--deleted")] == ["LATEST", "1"]
    assert [(v["version"], v["deleted"]) for v in cli.json("versions", NAME, "--all")] == [
        ("LATEST", True), ("2", False), ("1", True)
    ]  # fmt: skip
    table = cli.text("versions", NAME, "--all").splitlines()
    assert table[0].split()[:2] == ["VERSION", "DELETED"]
    assert [row.split()[1] for row in table[1:]] == ["yes", "-", "yes"]
    assert [v["version"] for v in cli.json("versions", NAME)] == ["2"]
    assert cli.json("restore", NAME)["version"] == "LATEST"  # LATEST by default, as delete
    assert cli.json("restore", NAME, "--version", "1")["version"] == "1"
    assert cli.json("versions", NAME, "--deleted") == []


def test_purge_dry_run_and_durations(cli: Cli) -> None:
    _publish(cli, b"v1", b"v2", b"v3")
    kept = cli.json("purge", NAME, "--keep-last", "1", "--older-than", "90d")
    assert kept == []  # nothing is 90 days old
    would = cli.json("purge", NAME, "--keep-last", "1", "--older-than", "0s", "--dry-run")
    assert sorted(a["version"] for a in would) == ["1", "2"]
    assert [v["version"] for v in cli.json("versions", NAME)] == ["LATEST", "3", "2", "1"]
    for age in ("12h", "30m", "2w", "3600"):
        assert cli.json("purge", NAME, "--keep-last", "1", "--older-than", age) == []
    done = cli.json("purge", NAME, "--keep-last", "1", "--older-than", "0")
    assert sorted(a["version"] for a in done) == ["1", "2"]
    assert [v["version"] for v in cli.json("versions", NAME)] == ["LATEST", "3"]


def _on_terminal(cwd: Path, args: list[str], answer: bytes) -> tuple[int, bytes]:
    """Run the command with standard input and error on a pseudo-terminal; answer once."""
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [versioned_command(), *args], cwd=cwd, env=child_environment(),
        stdin=follower, stdout=subprocess.DEVNULL, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    with os.fdopen(leader, "r+b", buffering=0) as terminal:
        if answer:
            while b"[y/N]" not in seen:
                chunk = terminal.read(1024)
                assert chunk, seen
                seen += chunk
            terminal.write(answer)
        code = child.wait(timeout=60)
        seen += _drain(terminal)
    return code, seen


def _drain(terminal: Any) -> bytes:
    chunks = []
    while True:
        try:
            chunk = terminal.read(65536)
        except OSError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_purge_asks_before_removing_young_versions_on_a_terminal(local_cli: Cli) -> None:
    _publish(local_cli, b"v1", b"v2")
    purge = ["purge", NAME, "--keep-last", "0", "--older-than", "0"]
    code, seen = _on_terminal(local_cli.cwd, purge, b"n\n")
    assert code == 1 and b"less than 7 days old" in seen and b"purge cancelled" in seen, seen
    assert [v["version"] for v in local_cli.json("versions", NAME)] == ["LATEST", "2", "1"]
    code, seen = _on_terminal(local_cli.cwd, purge, b"y\n")
    assert code == 0, seen
    assert [v["version"] for v in local_cli.json("versions", NAME)] == ["LATEST"]
    _publish(local_cli, b"v3")
    code, seen = _on_terminal(local_cli.cwd, [*purge, "--yes"], b"")
    assert code == 0 and b"[y/N]" not in seen, seen
    assert [v["version"] for v in local_cli.json("versions", NAME)] == ["LATEST"]


def test_gc_command(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=b"x")
    assert cli.json("gc", "--dry-run", "--grace", "1h") == []
    assert cli.json("gc", "--grace", "0") == []
    assert b"removed 0 unreferenced object(s)" in cli.run("gc").stderr


def test_put_tags_objects(s3_backend: S3Backend, tmp_path: Path) -> None:
    cli = Cli(s3_backend.uri, tmp_path)
    cli.run("put", NAME, "-", "--tag", "team=ml", "--tag", "stage=dev", stdin=b"x")
    key = s3_backend.key(NAME, None)
    tags = s3_backend.s3.get_object_tagging(Bucket=s3_backend.bucket, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "ml", "stage": "dev"}
    assert b"--tag" in cli.run("put", NAME, "-", "--tag", "novalue", stdin=b"x", code=2).stderr


def test_gc_expire_deleted_frees_what_retention_soft_deleted(cli: Cli) -> None:
    """The issue's walk: purge soft-deletes, then gc --expire-deleted frees the bytes."""
    _publish(cli, b"one" * 100, b"two" * 100, b"three" * 100)
    cli.run("purge", NAME, "--keep-last", "1", "--older-than", "0", "--yes")
    would = cli.run("gc", "--expire-deleted", "0", "--dry-run")
    rows = would.stdout.decode().splitlines()
    assert rows[0].split() == ["NAME", "VERSION", "SIZE", "DELETED"]
    assert [row.split()[:2] for row in rows[1:]] == [[NAME, "1"], [NAME, "2"]]
    assert "would expire 2 version(s) of 600 B" in would.stderr.decode()
    assert len(cli.json("versions", NAME, "--all")) == 4  # a dry run changes nothing
    done = cli.json("gc", "--expire-deleted", "0")
    assert [(e["version"], e["freed"]) for e in done["expired"]] == [("1", 300), ("2", 300)]
    assert done["bytes_freed"] == 600 and done["dry_run"] is False
    assert [v["version"] for v in cli.json("versions", NAME, "--all")] == ["LATEST", "3"]
    cli.run("restore", NAME, "--version", "1", code=1)
    assert cli.json("gc", "--expire-deleted", "0")["expired"] == []
    refused = cli.run("gc", "--keep-rollback-targets", "2", code=2).stderr.decode()
    assert "--expire-deleted" in refused
