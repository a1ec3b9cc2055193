"""The README's command block runs as written, and errors speak the user's terms
(issue 17, item 4): the missing bucket or table is named with the command that makes it,
a busy port is named."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, child_environment, s3_repository_uri, versioned_command

README = Path(__file__).resolve().parents[2] / "README.md"


#: the sections whose first ```bash block runs, each in a fresh folder
RUNNABLE_SECTIONS = ("The command line", "Canary releases")


def readme_commands(section_title: str = "The command line") -> list[str]:
    """The lines of the first ```bash block under "## <section_title>", as README.md has
    them."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n## {section_title}\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README.md lost its command block"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.parametrize("section_title", RUNNABLE_SECTIONS)
@pytest.mark.parametrize("backend", ["local", "s3"])
def test_the_readme_command_block_runs_in_order(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, section_title: str
) -> None:
    environment = child_environment()
    if backend == "s3":
        request.getfixturevalue("moto_endpoint")
        environment = child_environment({"VERSIONED_REPO": s3_repository_uri()})
    (tmp_path / "model.bin").write_bytes(os.urandom(1000))
    (tmp_path / "model-v2.bin").write_bytes(os.urandom(2000))
    environment["PATH"] = f"{Path(versioned_command()).parent}{os.pathsep}{environment['PATH']}"
    for line in readme_commands(section_title):
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", line], cwd=tmp_path, env=environment,
            capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, (line, done.stderr.decode())
        assert b"Traceback" not in done.stderr


def test_a_missing_table_is_named_with_the_command_that_makes_it(
    moto_endpoint: str, s3_client: Any, tmp_path: Path
) -> None:
    uri = s3_repository_uri()
    bucket, table = re.search(r"s3://([^/]+)/.*table=([^&]+)", uri).groups()  # type: ignore[union-attr]
    for args in (["names"], ["versions", "model"], ["put", "model", "-"]):
        stderr = Cli(uri, tmp_path).run(*args, stdin=b"x", code=1).stderr.decode()
        assert "versioned init" in stderr and "bootstrap" not in stderr, stderr
        assert bucket in stderr or table in stderr, stderr
        assert stderr.count("\n") == 1
    s3_client.create_bucket(Bucket=bucket)
    stderr = Cli(uri, tmp_path).run("versions", "model", code=1).stderr.decode()
    assert f"table '{table}'" in stderr and "versioned init" in stderr, stderr


def test_a_busy_port_is_named(local_cli: Cli) -> None:
    pytest.importorskip("uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        stderr = local_cli.run("serve", "--port", str(port), code=1).stderr.decode()
    assert f"127.0.0.1:{port}" in stderr and "in use" in stderr, stderr
    assert "--port" in stderr and stderr.count("\n") == 1


def test_the_readme_says_what_creates_a_repository() -> None:
    text = README.read_text(encoding="utf-8")
    assert "the only command besides `put` that creates a repository" not in text
    assert "on S3 only `init`" in text
