"""Errors people can act on (issue 9, item 6) and the conventions of command-line tools
(item 7): options anywhere, suggestions, help, completion, fitting tables, JSON for every
command, --verbose."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, child_environment, s3_repository_uri, versioned_command
from tests.helpers import Engines

NAME = "model"


@pytest.mark.parametrize(
    "repo", ["s3://[b/p", "//[x", "file://", "s3://b/p?region=eu/west", "s3://b/p?color=red"]
)
def test_a_bad_repository_uri_is_one_line_and_exit_2(tmp_path: Path, repo: str) -> None:
    stderr = Cli(repo, tmp_path).run("names", code=2).stderr.decode()
    assert stderr.startswith("versioned: error: ") and stderr.count("\n") == 1, stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["alias", "set", NAME, "prod", "--secondary-version", "1", "--weight", "150"], "--weight"),
        (["alias", "set", NAME, "prod", "--weight", "20"], "--secondary-version"),
        (["purge", NAME, "--keep-last", "-1"], "--keep-last"),
        (["purge", NAME, "--older-than", "3 weeks"], "--older-than"),
        (["gc", "--grace", "soon"], "--grace"),
        (["put", NAME, "-", "--content-type", "text/\x01plain"], "--content-type"),
    ],
)
def test_messages_name_the_flags(local_cli: Cli, args: list[str], flag: str) -> None:
    stderr = local_cli.run(*args, stdin=b"", code=2).stderr.decode()
    assert flag in stderr and stderr.count("\n") == 1, stderr
    assert not re.search(r"secondary_version_weight|keep_last_n|purge_older|content_type", stderr)


def test_control_characters_in_metadata_are_refused(local_cli: Cli) -> None:
    for value in ("a\nb", "a\x01b", "del\x7f", "tab\there"):
        stderr = local_cli.run("put", NAME, "-", "--metadata", f"k={value}", stdin=b"x", code=2)
        assert b"control character" in stderr.stderr
    assert local_cli.json("names") == []


def test_not_ready_hint_is_said_once(engines: Engines, tmp_path: Path) -> None:
    stderr = Cli(s3_repository_uri(), tmp_path).run("names", code=1).stderr.decode()
    assert stderr.count("versioned init") == 1, stderr


def test_global_options_after_the_command(local_cli: Cli, tmp_path: Path) -> None:
    local_cli.run("put", NAME, "-", stdin=b"x")
    assert json.loads(local_cli.run("names", "--json").stdout) == [NAME]
    assert local_cli.run("put", NAME, "-", "--quiet", "--json", stdin=b"y").stderr == b""
    elsewhere = Cli(None, tmp_path)
    elsewhere.run("init", "--repo", "other")
    assert json.loads(elsewhere.run("names", "--repo", "other", "--json").stdout) == []
    alias = local_cli.run("alias", "set", NAME, "prod", "--json").stdout
    assert json.loads(alias)["alias"] == "prod"
    # before the command still works, and one given before is not reset by the command
    assert json.loads(local_cli.run("--json", "alias", "list", NAME).stdout)[0]["alias"] == "prod"


def test_a_typo_suggests_the_nearest_command(tmp_path: Path) -> None:
    stderr = Cli(None, tmp_path).run("verions", code=2).stderr.decode()
    assert "unknown command 'verions': did you mean 'versions'?" in stderr, stderr
    stderr = Cli(None, tmp_path).run("alias", "lst", code=2).stderr.decode()
    assert "did you mean 'list'?" in stderr
    assert "did you mean" not in Cli(None, tmp_path).run("zzzzzz", code=2).stderr.decode()


def test_bare_command_prints_help(tmp_path: Path) -> None:
    done = Cli(None, tmp_path).run()
    assert done.stdout.startswith(b"usage: versioned") and b"COMMAND" in done.stdout
    assert not (tmp_path / ".versioned").exists()


def test_shell_completion(tmp_path: Path) -> None:
    for shell in ("bash", "zsh", "fish"):
        code = Cli(None, tmp_path).text("completion", shell)
        assert "versioned" in code and "_ARGCOMPLETE" in code, (shell, code[:200])
    answers = tmp_path / "answers"
    line = "versioned ver"
    done = subprocess.run(
        [versioned_command()],
        env=child_environment(
            {
                "_ARGCOMPLETE": "1",
                "_ARGCOMPLETE_IFS": "\n",
                "COMP_LINE": line,
                "COMP_POINT": str(len(line)),
                "_ARGCOMPLETE_STDOUT_FILENAME": str(answers),
            }
        ),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert answers.read_text().split() == ["versions"]


def test_tables_fit_the_terminal_and_show_whole_seconds(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=b"x")
    cli.run("publish", NAME)
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    for width in (100, 60, 30):
        for args in (["versions", NAME], ["alias", "list", NAME], ["versions", NAME, "--all"]):
            text = cli.run(*args, env={"COLUMNS": str(width)}).stdout.decode()
            assert all(len(line) <= width for line in text.splitlines()), (width, text)
            assert text.splitlines()[0].startswith(("VERSION", "ALIAS"))
    table = cli.run("versions", NAME, env={"COLUMNS": "200"}).stdout.decode()
    stamps = re.findall(r"\d{4}-\d\d-\d\d[ T][\d:.]+Z?", table)
    assert stamps and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", s) for s in stamps)


def test_json_prints_a_result_for_every_command(cli: Cli) -> None:
    assert cli.json("init")["ready"] is True
    cli.run("put", NAME, "-", stdin=b"x")
    cli.run("publish", NAME)
    assert cli.json("delete", NAME, "--version", "1") == {
        "name": NAME, "version": "1", "deleted": True
    }  # fmt: skip
    assert cli.json("restore", NAME, "--version", "1")["version"] == "1"
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    assert cli.json("alias", "delete", NAME, "prod")["deleted"] is True
    # a deleted alias can be rolled back: what it pointed at stays, unless told otherwise
    purge = ("purge", NAME, "--keep-last", "0", "--older-than", "0", "--dry-run")
    assert cli.json(*purge) == []
    would = cli.json(*purge, "--keep-rollback-targets", "0")
    assert [a["version"] for a in would] == ["1"]
    assert cli.json("gc", "--dry-run") == []
    dry = cli.json("purge", NAME, "--all", "--dry-run")
    assert dry == {"name": NAME, "dry_run": True, "versions": ["LATEST", "1"], "aliases": []}
    assert cli.json("purge", NAME, "--all", "--yes") == {"name": NAME, "purged": True}


def test_verbose_shows_each_request_and_its_time(cli: Cli) -> None:
    stderr = cli.run("put", NAME, "-", "-v", stdin=b"x").stderr.decode()
    lines = [line for line in stderr.splitlines() if re.search(r" \d+(\.\d)? ms", line)]
    assert lines, stderr
    if cli.repo is not None and cli.repo.startswith("s3://"):
        assert any(re.search(r"s3 PutObject 200 \d+ ms", line) for line in lines), stderr
        assert any("dynamodb " in line for line in lines), stderr
    else:
        assert any(re.search(r"local commit_latest\(.*\) ok [\d.]+ ms", line) for line in lines)
    assert "ms" not in cli.run("names").stderr.decode()
