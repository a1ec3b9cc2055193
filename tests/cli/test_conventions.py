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


HUGE = "1" + "0" * 21
#: A number with more digits than int() converts by default (4,300).
ENDLESS = "1" * 5000


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["get", NAME, "--version", HUGE], "--version"),
        (["get", NAME, "--version", ENDLESS], "--version"),
        (["show", NAME, "--version", HUGE], "--version"),
        (["delete", NAME, "--version", HUGE], "--version"),
        (["restore", NAME, "--version", HUGE], "--version"),
        (["alias", "set", NAME, "prod", "--version", HUGE], "--version"),
        (["alias", "set", NAME, "prod", "--secondary-version", HUGE, "--weight", "5"],
         "--secondary-version"),
        (["alias", "get", NAME, "prod", "--as-of", "1000000d"], "--as-of"),
        (["alias", "get", NAME, "prod", "--as-of", f"{HUGE}d"], "--as-of"),
        (["alias", "get", NAME, "prod", "--as-of", f"{ENDLESS}s"], "--as-of"),
        (["alias", "get", NAME, "prod", "--as-of", "0001-01-01T00:00:00+05:00"], "--as-of"),
        (["alias", "history", NAME, "prod", "--limit", "0"], "--limit"),
        (["alias", "history", NAME, "prod", "--before", "0"], "--before"),
        (["alias", "rollback", NAME, "prod", "--to", "0"], "--to"),
        (["purge", NAME, "--older-than", f"{ENDLESS}d"], "--older-than"),
        (["gc", "--grace", ENDLESS], "--grace"),
        (["serve", "--port", HUGE], "--port"),
        (["serve", "--port", "65536"], "--port"),
        (["serve", "--cache-seconds", "1" + "0" * 400], "--cache-seconds"),
        (["serve", "--presign-seconds", HUGE], "--presign-seconds"),
    ],
)  # fmt: skip
def test_numbers_past_any_range_are_one_line_naming_the_flag(
    local_cli: Cli, args: list[str], flag: str
) -> None:
    local_cli.run("put", NAME, "-", stdin=b"x")
    local_cli.run("publish", NAME)
    local_cli.run("alias", "set", NAME, "prod", "--version", "1")
    stderr = local_cli.run(*args, code=2).stderr.decode()
    assert flag in stderr and stderr.count("\n") == 1 and len(stderr) < 400, stderr
    assert not re.search(r"before_revision|to_revision|as_of|(?<!-)\blimit\b", stderr), stderr


@pytest.mark.parametrize(
    "args",
    [
        ["purge", NAME, "--older-than", f"{HUGE}d", "--dry-run"],  # nothing is that old
        ["purge", NAME, "--keep-last", HUGE, "--dry-run"],
        ["gc", "--grace", f"{HUGE}w", "--dry-run"],
        ["alias", "history", NAME, "prod", "--limit", HUGE],  # all of it
        ["alias", "history", NAME, "prod", "--before", HUGE],  # below every revision
    ],
)
def test_numbers_past_any_range_that_have_an_answer_get_it(cli: Cli, args: list[str]) -> None:
    cli.run("put", NAME, "-", stdin=b"x")
    cli.run("publish", NAME)
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    cli.run(*args)


def test_an_expected_revision_past_any_is_refused_as_a_mismatch(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=b"x")
    cli.run("alias", "set", NAME, "prod")
    for command in ("set", "delete"):
        stderr = cli.run("alias", command, NAME, "prod", "--if-revision", HUGE, code=1).stderr
        assert b"revision 1, not the expected" in stderr and stderr.count(b"\n") == 1


def test_alias_history_limit_0_is_refused_like_the_library_does(cli: Cli) -> None:
    cli.run("put", NAME, "-", stdin=b"x")
    for version in ("LATEST", "LATEST", "LATEST"):
        cli.run("alias", "set", NAME, "prod", "--version", version)
    stderr = cli.run("alias", "history", NAME, "prod", "--limit", "0", code=2).stderr.decode()
    assert "--limit" in stderr and "1 or more" in stderr, stderr
    newest = cli.json("alias", "history", NAME, "prod", "--limit", "1")
    assert [change["revision"] for change in newest] == [3]


@pytest.mark.parametrize("columns", ["\u00b2", "1" * 5000], ids=["superscript-2", "5000-digits"])
def test_a_columns_value_that_is_no_width_is_ignored(local_cli: Cli, columns: str) -> None:
    local_cli.run("put", NAME, "-", stdin=b"x")
    wide = local_cli.run("versions", NAME, env={"COLUMNS": columns}).stdout.decode()
    # as without a width: piped, not cut ("" stands for no COLUMNS, which the test
    # process's own environment may hold)
    assert wide == local_cli.run("versions", NAME, env={"COLUMNS": ""}).stdout.decode()
