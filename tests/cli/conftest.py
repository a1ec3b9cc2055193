"""Fixtures for the command-line tests: the INSTALLED ``versioned`` command, run as a child
process on a fresh repository of each backend (S3 through the suite's engines, whose
variables the child inherits from ``os.environ``)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REGION, unique


def versioned_command() -> str:
    """The installed console script: on PATH, else beside the running interpreter."""
    beside = Path(sys.executable).with_name("versioned")
    found = shutil.which("versioned") or (str(beside) if beside.exists() else None)
    if found is None:
        pytest.fail("the versioned console script is not installed: pip install -e .")
    return found


@dataclass
class Cli:
    """Runs ``versioned [--repo REPO] ARGS...`` in ``cwd`` and checks how it ended."""

    repo: str | None
    cwd: Path

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        code: int = 0,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the command; assert exit ``code`` and that no traceback leaked out."""
        done = subprocess.run(
            [versioned_command(), *self.global_options(), *args],
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            cwd=self.cwd,
            env=child_environment(env),
            timeout=120,
        )
        stderr = done.stderr.decode(errors="replace")
        assert done.returncode == code, f"exit {done.returncode}, not {code}: {stderr}"
        assert "Traceback" not in stderr, stderr
        return done

    def json(self, *args: str, stdin: bytes | None = None) -> Any:
        """Run ``versioned --json ARGS...`` and parse what it printed."""
        return json.loads(self.run("--json", *args, stdin=stdin).stdout)

    def text(self, *args: str) -> str:
        """Run the command; return its standard output as text."""
        return self.run(*args).stdout.decode()

    def global_options(self) -> list[str]:
        return [] if self.repo is None else ["--repo", self.repo]


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment (the engines' variables included), without VERSIONED_REPO."""
    environment = {k: v for k, v in os.environ.items() if k != "VERSIONED_REPO"}
    return {**environment, **(extra or {})}


def s3_repository_uri() -> str:
    """A repository URI on a bucket and table that no other test uses."""
    return (
        f"s3://{unique('cli-bucket')}/versioned-artifacts"
        f"?table={unique('cli-table')}&region={REGION}"
    )


@pytest.fixture(params=["local", "s3"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Cli:
    """The command on a fresh repository made with ``versioned init``, on each backend."""
    if request.param == "s3":
        request.getfixturevalue("engines")
        repo = s3_repository_uri()
    else:
        repo = str(tmp_path / "repo")
    runner = Cli(repo, tmp_path)
    runner.run("init")
    return runner


@pytest.fixture
def local_cli(tmp_path: Path) -> Cli:
    """The command on the embedded default repository, ``./.versioned`` in a fresh folder."""
    runner = Cli(None, tmp_path)
    runner.run("init")
    return runner


def on_terminal(
    cli: Cli, args: list[str], *, columns: int = 80, stdout: bool = True, stderr: bool = True
) -> tuple[int, bytes]:
    """Run the command with standard output and/or error on one pseudo-terminal
    ``columns`` wide (the other goes nowhere); return its exit code and all it drew."""
    pty = pytest.importorskip("pty")
    fcntl = pytest.importorskip("fcntl")
    termios = pytest.importorskip("termios")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    child = subprocess.Popen(
        [versioned_command(), *cli.global_options(), *args], cwd=cli.cwd,
        env=child_environment(), stdin=subprocess.DEVNULL,
        stdout=follower if stdout else subprocess.DEVNULL,
        stderr=follower if stderr else subprocess.DEVNULL,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    with os.fdopen(leader, "rb", buffering=0) as terminal:
        while True:
            try:  # Linux ends a pseudo-terminal whose writer has gone with EIO
                chunk = terminal.read(65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return child.wait(timeout=120), b"".join(chunks)


def complete(cli: Cli, line: str, shell: str = "bash") -> list[str]:
    """What the installed command offers for ``line`` (the cursor at its end)."""
    pytest.importorskip("argcomplete")
    out = cli.cwd / "completions.out"
    prefix = " ".join(["versioned", *cli.global_options()])
    full = f"{prefix} {line}"
    environment = child_environment({
        "_ARGCOMPLETE": "1", "_ARGCOMPLETE_SHELL": shell, "COMP_LINE": full,
        "COMP_POINT": str(len(full)), "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        "IFS": "\013", "XDG_CACHE_HOME": str(cli.cwd / "cache"),
    })  # fmt: skip
    subprocess.run(
        [versioned_command()], cwd=cli.cwd, env=environment, timeout=60,
        stdin=subprocess.DEVNULL, capture_output=True,
    )  # fmt: skip
    text = out.read_text() if out.exists() else ""
    return [word.strip() for word in text.split("\013") if word.strip()]
