"""The command says what is the matter instead of doing something quietly (issue 9, item 3)
and handles its output files like a careful tool (item 5)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, child_environment, versioned_command
from tests.helpers import Backend

NAME = "model"


@pytest.mark.parametrize(
    "args",
    [["names"], ["versions", NAME], ["show", NAME], ["get", NAME], ["alias", "list", NAME],
     ["publish", NAME], ["delete", NAME], ["purge", NAME, "--dry-run"], ["gc", "--dry-run"]],
)  # fmt: skip
def test_read_commands_never_create_a_repository(tmp_path: Path, args: list[str]) -> None:
    stderr = Cli(None, tmp_path).run(*args, code=1).stderr.decode()
    assert f"no repository at {tmp_path / '.versioned'}" in stderr, stderr
    assert "versioned init" in stderr and stderr.count("\n") == 1
    typo = Cli(str(tmp_path / "reop"), tmp_path).run(*args, code=1).stderr.decode()
    assert "no repository at" in typo
    assert sorted(os.listdir(tmp_path)) == []  # nothing made, in either place


def test_init_and_put_create_the_repository(tmp_path: Path) -> None:
    Cli(str(tmp_path / "a"), tmp_path).run("init")
    Cli(str(tmp_path / "b"), tmp_path).run("put", NAME, "-", stdin=b"x")
    assert Cli(str(tmp_path / "b"), tmp_path).json("names") == [NAME]
    assert Cli(str(tmp_path / "a"), tmp_path).json("names") == []


def test_what_does_not_exist_is_named(cli: Cli) -> None:
    for args in (["versions", "nosuch"], ["alias", "list", "nosuch"], ["get", "nosuch"],
                 ["show", "nosuch"], ["publish", "nosuch"]):  # fmt: skip
        stderr = cli.run(*args, code=1).stderr.decode()
        assert stderr == "versioned: error: no artifact named 'nosuch' " \
            "('versioned names' lists them)\n", (args, stderr)  # fmt: skip
    cli.run("put", NAME, "-", stdin=b"v1")
    cli.run("publish", NAME)
    gone = cli.run("alias", "delete", NAME, "prod", code=1).stderr.decode()
    assert "alias 'prod' of artifact 'model' not found" in gone
    live = cli.run("restore", NAME, "--version", "1", code=1).stderr.decode()
    assert "model version 1 is not deleted: nothing to restore" in live
    cli.run("delete", NAME, "--version", "1")
    deleted = cli.run("get", NAME, "--version", "1", code=1).stderr.decode()
    assert "soft-deleted: 'versioned restore model --version 1' brings it back" in deleted
    missing = cli.run("get", NAME, "--version", "7", code=1).stderr.decode()
    assert "version 7 not found" in missing


def test_publishing_unchanged_content_warns_or_skips(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=b"same")
    assert cli.run("publish", NAME).stderr == b""  # the first publish: nothing to say
    again = cli.run("publish", NAME)
    assert again.stdout == b"2\n"
    assert b"warning: LATEST of model equals version 1" in again.stderr
    skipped = cli.run("publish", NAME, "--if-changed")
    # v=$(versioned publish NAME --if-changed): empty when nothing new was published
    assert skipped.stdout == b"" and b"nothing published" in skipped.stderr
    assert cli.run("--json", "publish", NAME, "--if-changed").stdout == b""
    assert [v["version"] for v in cli.json("versions", NAME)] == ["LATEST", "2", "1"]
    cli.run("put", NAME, "-", stdin=b"changed")
    assert cli.run("publish", NAME, "--if-changed").stdout == b"3\n"


def test_get_dash_writes_standard_output(cli: Cli, tmp_path: Path) -> None:
    cli.run("put", NAME, "-", stdin=b"content")
    assert cli.run("get", NAME, "-o", "-").stdout == b"content"
    assert not (tmp_path / "-").exists()


def test_get_writes_through_a_fifo_and_keeps_it(local_cli: Cli, tmp_path: Path) -> None:
    content = os.urandom(300_000)  # more than a pipe holds: the reader must run alongside
    local_cli.run("put", NAME, "-", stdin=content)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    local_cli.run("get", NAME, "-o", str(fifo))
    reader.join(timeout=60)
    assert received == [content]
    assert fifo.is_fifo()  # written through, not replaced by a regular file


def test_get_follows_a_symlink_to_its_target(local_cli: Cli, tmp_path: Path) -> None:
    local_cli.run("put", NAME, "-", stdin=b"new")
    target = tmp_path / "target.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    local_cli.run("get", NAME, "-o", str(link))
    assert link.is_symlink() and target.read_bytes() == b"new"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "made-by-get")
    local_cli.run("get", NAME, "-o", str(dangling))
    assert (tmp_path / "made-by-get").read_bytes() == b"new" and dangling.is_symlink()


def test_get_refuses_what_is_not_a_file(local_cli: Cli, tmp_path: Path) -> None:
    local_cli.run("put", NAME, "-", stdin=b"x")
    folder = tmp_path / "folder"
    folder.mkdir()
    stderr = local_cli.run("get", NAME, "-o", str(folder), code=2).stderr.decode()
    assert "it is a folder" in stderr and stderr.count("\n") == 1
    stderr = local_cli.run("get", NAME, "-o", str(tmp_path / "no" / "x"), code=2).stderr
    assert b"no folder" in stderr


def test_get_to_standard_output_streams_without_spooling(local_cli: Cli, tmp_path: Path) -> None:
    content = os.urandom(6 << 20)
    local_cli.run("put", NAME, "-", stdin=content)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    child = subprocess.Popen(
        [versioned_command(), "get", NAME],
        cwd=local_cli.cwd,
        env=child_environment({"TMPDIR": str(scratch)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    first = child.stdout.read(65536)  # the rest waits in the child: the pipe is full
    assert first == content[:65536]
    assert list(scratch.iterdir()) == []  # no copy of the artifact anywhere meanwhile
    rest = child.stdout.read()
    assert child.wait(timeout=60) == 0 and first + rest == content


def test_get_to_a_stream_fails_when_the_bytes_are_wrong(backend: Backend, tmp_path: Path) -> None:
    cli = Cli(backend.uri, tmp_path)
    artifact = backend.repo.put_artifact(NAME, b"the stored bytes")
    backend.overwrite_stored(artifact, b"the wrong bytes!")
    done = cli.run("get", NAME, code=1)
    stderr = done.stderr.decode()
    assert "the bytes written to standard output are not the stored ones" in stderr, stderr
    assert stderr.count("\n") == 1
    failed = cli.run("get", NAME, "-o", "out.bin", code=1)  # a file never shows them
    assert b"expected" in failed.stderr and not (tmp_path / "out.bin").exists()


def test_show_prints_one_version_with_its_aliases(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=b"v1")
    cli.run("publish", NAME)
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    cli.run("alias", "set", NAME, "canary", "--version", "LATEST", "--secondary-version", "1",
            "--weight", "10")  # fmt: skip
    shown = cli.json("show", NAME, "--version", "1")
    assert shown["version"] == "1" and shown["aliases"] == ["canary", "prod"]
    assert set(shown) == {"name", "version", "sha256", "size", "content_type", "metadata",
                          "update_at", "uri", "deleted", "aliases"}  # fmt: skip
    assert cli.json("show", NAME, "--alias", "prod") == shown
    assert cli.json("show", NAME)["aliases"] == ["canary"]
    text = cli.text("show", NAME, "--version", "1")
    assert "sha256" in text and "canary, prod" in text


def test_show_and_versions_carry_what_was_stored(cli: Cli) -> None:
    cli.run("put", NAME, "-", "--content-type", "application/zip", "--metadata", "build=7",
            stdin=b"12345")  # fmt: skip
    shown = cli.json("show", NAME)
    assert (shown["size"], shown["content_type"], shown["metadata"]) == (
        5, "application/zip", {"build": "7"}
    )  # fmt: skip
    assert "5 B" in cli.text("show", NAME)
    table = cli.text("versions", NAME).splitlines()
    assert table[0].split()[2] == "SIZE" and table[1].split()[3:5] == ["5", "B"]


@pytest.mark.parametrize(
    "args",
    [["names"], ["versions", NAME], ["show", NAME], ["get", NAME], ["alias", "list", NAME],
     ["alias", "get", NAME, "prod"], ["alias", "history", NAME, "prod"]],
)  # fmt: skip
def test_reads_of_a_corrupt_database_create_nothing_and_name_the_file(
    tmp_path: Path, args: list[str]
) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    database = folder / "versioned.sqlite3"
    database.write_bytes(b"this is not a database " * 100)
    stderr = Cli(str(folder), tmp_path).run(*args, code=1).stderr.decode()
    assert str(database) in stderr and stderr.count("\n") == 1, stderr
    assert sorted(os.listdir(folder)) == ["versioned.sqlite3"]  # no blobs/, tmp/, -wal
