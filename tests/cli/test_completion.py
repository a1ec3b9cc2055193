"""Tab completion from the repository (issue 17, item 5): artifact names, alias names,
versions and revisions instead of file names; nothing (quickly) when there is no
repository; subcommand prefixes complete to their word."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.cli.conftest import Cli, complete

NAME = "model"


def test_names_aliases_versions_and_revisions_come_from_the_repository(cli: Cli) -> None:
    (cli.cwd / "a-file.txt").write_text("not an artifact")
    for content in (b"one", b"two"):
        cli.run("put", NAME, "-", stdin=content)
        cli.run("publish", NAME)
    cli.run("put", "other", "-", stdin=b"x")
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    cli.run("alias", "set", NAME, "prod", "--version", "2")
    assert complete(cli, "get ") == [NAME, "other"]
    assert complete(cli, "show mo") == [NAME]
    assert complete(cli, f"alias history {NAME} ") == ["prod"]
    assert complete(cli, f"get {NAME} --version ") == ["LATEST", "2", "1"]
    assert complete(cli, f"alias set {NAME} prod --version ") == ["LATEST", "2", "1"]
    assert complete(cli, f"alias rollback {NAME} prod --to ") == ["2", "1"]
    assert complete(cli, f"get {NAME} --alias ") == ["prod"]


def test_subcommand_prefixes_complete_to_their_word(local_cli: Cli) -> None:
    for shell in ("bash", "zsh"):
        words = [w.split(":")[0].strip() for w in complete(local_cli, "alias hist", shell)]
        assert words == ["history"], (shell, words)


def test_no_repository_completes_nothing_quickly(tmp_path: Path) -> None:
    cli = Cli(str(tmp_path / "nothing-here"), tmp_path)
    started = time.monotonic()
    assert complete(cli, "get ") == []
    assert time.monotonic() - started < 10
    assert not (tmp_path / "nothing-here").exists()  # completing creates no repository
    assert os.listdir(tmp_path) == ["completions.out"] or "cache" in os.listdir(tmp_path)
