"""The ``versioned`` command, run as a child process: every command, the JSON shapes, the
exit codes, and standard input and output, on both backends."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, child_environment, s3_repository_uri, versioned_command
from tests.helpers import Engines

# the JSON fields the issue fixes, in their order
ARTIFACT_KEYS = "name version sha256 size content_type metadata update_at uri deleted"
ALIAS_KEYS = "name alias version secondary_version secondary_version_weight revision update_at"
NAME = "model"


def publish(cli: Cli, *contents: bytes) -> list[str]:
    """Put each content (from standard input) and publish it; return the version numbers."""
    versions = []
    for content in contents:
        cli.run("put", NAME, "-", stdin=content)
        versions.append(cli.text("publish", NAME).strip())
    return versions


def assert_utc_iso(text: str) -> None:
    assert datetime.fromisoformat(text).utcoffset() == timedelta(0), text


def test_put_publish_get_versions_names(cli: Cli, tmp_path: Path) -> None:
    first, second = b"first \x00\xff bytes", b"second"
    (tmp_path / "first.bin").write_bytes(first)

    put = cli.json("put", NAME, "first.bin", "--content-type", "application/octet-stream",
                   "--metadata", "git_sha=1a2b", "--metadata", "team=ml")  # fmt: skip
    assert " ".join(put) == ARTIFACT_KEYS
    assert (put["name"], put["version"]) == (NAME, "LATEST")
    assert put["sha256"] == hashlib.sha256(first).hexdigest()
    assert_utc_iso(put["update_at"])
    assert cli.text("publish", NAME) == "1\n"

    assert cli.json("put", NAME, "-", stdin=second)["sha256"] == hashlib.sha256(second).hexdigest()
    published = cli.json("publish", NAME)
    assert " ".join(published) == ARTIFACT_KEYS and published["version"] == "2"

    assert cli.run("get", NAME, "--version", "1").stdout == first
    assert cli.run("get", NAME).stdout == second
    assert cli.json("get", NAME, "--version", "000001", "-o", "out.bin")["version"] == "1"
    assert (tmp_path / "out.bin").read_bytes() == first
    cli.run("get", NAME, "-o", "out.bin")  # replaces the file
    assert (tmp_path / "out.bin").read_bytes() == second

    versions = cli.json("versions", NAME)
    assert [v["version"] for v in versions] == ["LATEST", "2", "1"]
    assert all(" ".join(v) == ARTIFACT_KEYS for v in versions)
    table = cli.text("versions", NAME).splitlines()
    assert table[0].split() == ["VERSION", "UPDATED", "SIZE", "SHA256", "URI"]
    assert [row.split()[0] for row in table[1:]] == ["LATEST", "2", "1"]
    assert cli.run("get", NAME, "-o", "x").stdout == b""  # no data on stdout without --json

    cli.run("put", "other", "-", stdin=b"x")
    assert cli.json("names") == ["model", "other"]
    assert cli.text("names") == "model\nother\n"
    assert b"no artifact named 'never-put'" in cli.run("versions", "never-put", code=1).stderr


def test_aliases_and_canary(cli: Cli) -> None:
    one, two = b"v1", b"v2"
    assert publish(cli, one, two) == ["1", "2"]

    prod = cli.json("alias", "set", NAME, "prod", "--version", "1")
    assert " ".join(prod) == ALIAS_KEYS
    assert (prod["alias"], prod["version"], prod["secondary_version"]) == ("prod", "1", None)
    assert_utc_iso(prod["update_at"])
    canary = cli.json("alias", "set", NAME, "prod", "--version", "1",
                      "--secondary-version", "2", "--weight", "20")  # fmt: skip
    assert (canary["secondary_version"], canary["secondary_version_weight"]) == ("2", 20)
    assert cli.json("alias", "get", NAME, "prod") == canary
    cli.run("alias", "set", NAME, "stable")  # LATEST
    assert [a["alias"] for a in cli.json("alias", "list", NAME)] == ["prod", "stable"]
    assert "prod" in cli.text("alias", "list", NAME).splitlines()[1]

    for _ in range(3):  # a weighted pick; the command says which version it took
        got = cli.run("get", NAME, "--alias", "prod")
        took = got.stderr.decode().split("took version ")[1].split()[0]
        assert got.stdout == {"1": one, "2": two}[took]
    assert cli.run("--quiet", "get", NAME, "--alias", "prod").stderr == b""

    assert cli.json("alias", "delete", NAME, "stable") == {
        "name": NAME,
        "alias": "stable",
        "deleted": True,
    }
    gone = cli.run("alias", "delete", NAME, "stable", code=1)  # says it is not there
    assert b"alias 'stable' of artifact 'model' not found" in gone.stderr
    assert [a["alias"] for a in cli.json("alias", "list", NAME)] == ["prod"]
    cli.run("alias", "get", NAME, "stable", code=1)


def test_delete_and_restore(cli: Cli) -> None:
    publish(cli, b"v1", b"v2")
    cli.run("alias", "set", NAME, "prod", "--version", "2")
    cli.run("delete", NAME, "--version", "1")
    assert [v["version"] for v in cli.json("versions", NAME)] == ["LATEST", "2"]
    cli.run("get", NAME, "--version", "1", code=1)
    restored = cli.json("restore", NAME, "--version", "1")
    assert " ".join(restored) == ARTIFACT_KEYS and restored["version"] == "1"
    assert cli.run("get", NAME, "--version", "1").stdout == b"v1"
    in_use = cli.run("delete", NAME, "--version", "2", code=1)
    assert b"prod" in in_use.stderr
    cli.run("delete", NAME)  # LATEST
    cli.run("get", NAME, code=1)


def test_purge(cli: Cli) -> None:
    publish(cli, b"v1", b"v2", b"v3", b"v4")
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    purged = cli.json("purge", NAME, "--keep-last", "1", "--older-than", "0")
    assert sorted(a["version"] for a in purged) == ["2", "3"]
    assert all(" ".join(a) == ARTIFACT_KEYS for a in purged)
    assert [v["version"] for v in cli.json("versions", NAME)] == ["LATEST", "4", "1"]
    assert cli.json("purge", NAME, "--keep-last", "1", "--older-than", "0") == []

    refused = cli.run("purge", NAME, "--all", code=2)
    assert b"--yes" in refused.stderr
    assert cli.json("names") == [NAME]
    cli.run("purge", NAME, "--all", "--yes")
    assert cli.json("names") == []
    assert b"no artifact named" in cli.run("alias", "list", NAME, code=1).stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["get", NAME], 1),  # no such artifact
        (["alias", "get", NAME, "prod"], 1),  # no such alias
        (["put", NAME, "no-such-file"], 1),  # an OS error
        (["publish", NAME], 1),
        (["restore", NAME, "--version", "7"], 1),
        (["put", "bad name!", "-"], 2),  # the library's argument checks
        (["get", NAME, "--version", "abc"], 2),
        (["delete", NAME, "--version", "0"], 2),
        (["alias", "set", NAME, "my-alias"], 2),
        (["alias", "set", NAME, "prod", "--secondary-version", "2", "--weight", "150"], 2),
        (["frobnicate"], 2),  # argparse
        (["get", NAME, "--version", "1", "--alias", "prod"], 2),
        (["put", NAME, "-", "--metadata", "no-equals-sign"], 2),
        (["alias", "set", NAME, "prod", "--weight", "x"], 2),
        (["alias", "set", NAME, "prod", "--weight", "20"], 2),  # no secondary version
        (["purge", NAME, "--all", "--keep-last", "3", "--yes"], 2),
        (["--repo", "ftp://nowhere/x", "names"], 2),
    ],
)
def test_errors_are_one_line_with_the_exit_code(cli: Cli, args: list[str], code: int) -> None:
    stderr = cli.run(*args, stdin=b"", code=code).stderr.decode()
    assert stderr.startswith("versioned: error: ") and stderr.count("\n") == 1, stderr


@pytest.mark.parametrize(
    "command",
    [["init"], ["put"], ["publish"], ["get"], ["show"], ["versions"], ["names"], ["delete"],
     ["restore"], ["alias", "set"], ["alias", "get"], ["alias", "list"], ["alias", "delete"],
     ["purge"], ["gc"], ["completion"]],
)  # fmt: skip
def test_every_command_has_help_with_examples(command: list[str], tmp_path: Path) -> None:
    done = Cli(None, tmp_path).run(*command, "--help")
    assert b"examples:\n  versioned " + command[0].encode() in done.stdout
    assert not (tmp_path / ".versioned").exists()  # help touches no repository


def test_top_level_help_lists_every_command(tmp_path: Path) -> None:
    text = Cli(None, tmp_path).text("--help")
    for command in ("init", "put", "publish", "get", "show", "versions", "names", "alias",
                    "purge", "gc", "completion"):  # fmt: skip
        assert f"    {command}" in text


def test_repository_from_option_variable_or_default(local_cli: Cli, tmp_path: Path) -> None:
    local_cli.run("put", "a", "-", stdin=b"a")
    assert (tmp_path / ".versioned").is_dir()  # the embedded default
    elsewhere = tmp_path / "elsewhere"
    local_cli.run("init", env={"VERSIONED_REPO": elsewhere.as_uri()})
    local_cli.run("put", "b", "-", stdin=b"b", env={"VERSIONED_REPO": str(elsewhere)})
    assert local_cli.json("names") == ["a"]
    assert Cli(str(elsewhere), tmp_path).json("names") == ["b"]
    from_option = ["--repo", ".versioned", "--json", "names"]
    assert local_cli.run(*from_option, env={"VERSIONED_REPO": str(elsewhere)}).stdout.strip()


def test_broken_pipe_on_standard_output_is_quiet(local_cli: Cli) -> None:
    local_cli.run("put", NAME, "-", stdin=os.urandom(4 << 20))
    child = subprocess.Popen(
        [versioned_command(), "get", NAME],
        cwd=local_cli.cwd,
        env=child_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.read(10)
    child.stdout.close()  # like `| head -c 10`
    assert child.stderr.read() == b""
    assert child.wait(timeout=60) == 1


def test_ctrl_c_exits_130(local_cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    child = subprocess.Popen(
        [versioned_command(), "put", NAME, str(fifo)],
        cwd=tmp_path,
        env=child_environment(),
        stderr=subprocess.PIPE,
        # a background shell or an xdist worker may ignore SIGINT, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    with fifo.open("wb"):  # opens once the command has opened its end to read
        _wait_until_reading_a_pipe(child.pid)
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 130
    assert child.stderr is not None and child.stderr.read() == b""
    assert local_cli.json("names") == []


def _wait_until_reading_a_pipe(pid: int) -> None:
    """Wait until ``pid`` blocks reading a pipe: a signal then interrupts that read.

    (One that lands while Python is between two reads in C code waits for the read.)
    """
    wchan = Path(f"/proc/{pid}/wchan")
    if not wchan.exists():
        pytest.skip("needs Linux's /proc")
    deadline = time.monotonic() + 60
    while "pipe_read" not in wchan.read_text():
        assert time.monotonic() < deadline, "the command never started reading"
        time.sleep(0.05)


def test_progress_bar_only_on_a_terminal(local_cli: Cli, tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    assert b"\r" not in local_cli.run("put", NAME, str(big)).stderr
    for args in (["put", NAME, str(big)], ["get", NAME, "-o", "copy.bin"]):
        leader, follower = pty.openpty()
        with os.fdopen(leader, "rb", buffering=0) as terminal:
            child = subprocess.Popen(
                [versioned_command(), *args], cwd=tmp_path, env=child_environment(),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower,
            )  # fmt: skip
            os.close(follower)
            assert child.wait(timeout=60) == 0
            drawn = _read_all(terminal)
        assert b"100%" in drawn and b"MiB/s" in drawn and b"3.0 MiB" in drawn, drawn
    assert (tmp_path / "copy.bin").read_bytes() == big.read_bytes()


def _read_all(terminal: object) -> bytes:
    """Everything a pseudo-terminal holds once its writer has gone (EIO ends it on Linux)."""
    chunks = []
    while True:
        try:
            chunk = terminal.read(65536)  # type: ignore[attr-defined]
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_repository_before_init_says_to_run_init(engines: Engines, tmp_path: Path) -> None:
    stderr = Cli(s3_repository_uri(), tmp_path).run("names", code=1).stderr.decode()
    assert stderr.startswith("versioned: error: ") and "versioned init" in stderr, stderr
