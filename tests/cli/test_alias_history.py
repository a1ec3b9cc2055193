"""The alias-history commands (issue 10, item 6): set/delete with --reason and
--if-revision, history with --verify, rollback, get --as-of, and get --alias --key."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from tests.cli.conftest import Cli, s3_repository_uri
from tests.helpers import Engines

NAME = "model"


def _three_versions(cli: Cli) -> None:
    for content in (b"one", b"two", b"three"):
        cli.run("put", NAME, "-", stdin=content)
        cli.run("publish", NAME)


def test_set_records_who_why_and_from_to(cli: Cli) -> None:
    _three_versions(cli)
    first = cli.json("alias", "set", NAME, "prod", "--version", "1", "--reason", "first deploy")
    assert first["revision"] == 1
    moved = cli.json(
        "alias", "set", NAME, "prod", "--version", "2", "--secondary-version", "3",
        "--weight", "20", "--reason", "canary 3",
    )  # fmt: skip
    assert moved["revision"] == 2
    history = cli.json("alias", "history", NAME, "prod")
    assert [entry["revision"] for entry in history] == [2, 1]
    newest = history[0]
    assert newest["action"] == "set" and newest["reason"] == "canary 3"
    assert newest["before"] == {
        "version": "1",
        "secondary_version": None,
        "secondary_version_weight": None,
    }
    assert newest["after"] == {
        "version": "2",
        "secondary_version": "3",
        "secondary_version_weight": 20,
    }
    assert newest["who"] and len(newest["sha256"]) == 64
    assert newest["previous_sha256"] == history[1]["sha256"]
    table = cli.text("alias", "history", NAME, "prod")
    header, row, _ = table.splitlines()
    assert header.split() == ["REV", "WHEN", "ACTION", "FROM", "TO", "REASON", "WHO"]
    assert "2 (80%) + 3 (20%)" in row and "canary 3" in row
    assert "." not in row.split()[2]  # the time is shown to the second


def test_if_revision_refuses_a_stale_deployer_and_writes_nothing(cli: Cli) -> None:
    _three_versions(cli)
    cli.run("alias", "set", NAME, "prod", "--version", "1", "--if-revision", "0")
    cli.run("alias", "set", NAME, "prod", "--version", "2", "--if-revision", "1")
    stale = cli.run("alias", "set", NAME, "prod", "--version", "3", "--if-revision", "1", code=1)
    message = stale.stderr.decode()
    assert "revision 2" in message and "prod" in message, message
    assert cli.json("alias", "get", NAME, "prod")["version"] == "2"
    assert len(cli.json("alias", "history", NAME, "prod")) == 2
    cli.run("alias", "set", NAME, "new", "--version", "1", "--if-revision", "3", code=1)
    cli.run("alias", "get", NAME, "new", code=1)
    cli.run("alias", "delete", NAME, "prod", "--if-revision", "1", code=1)
    cli.run("alias", "delete", NAME, "prod", "--if-revision", "2", "--reason", "retired")
    cli.run("alias", "get", NAME, "prod", code=1)
    gone = cli.json("alias", "history", NAME, "prod")[0]
    assert gone["action"] == "delete" and gone["after"] is None and gone["reason"] == "retired"


def test_rollback_goes_back_one_revision_or_to_a_given_one(cli: Cli) -> None:
    _three_versions(cli)
    for version in ("1", "2", "3"):
        cli.run("alias", "set", NAME, "prod", "--version", version)
    back = cli.json("alias", "rollback", NAME, "prod", "--reason", "errors on 3")
    assert back["version"] == "2" and back["revision"] == 4
    newest = cli.json("alias", "history", NAME, "prod", "--limit", "1")
    assert len(newest) == 1
    assert newest[0]["action"] == "rollback" and newest[0]["reason"] == "errors on 3"
    assert cli.json("alias", "rollback", NAME, "prod", "--to", "1")["version"] == "1"
    page = cli.json("alias", "history", NAME, "prod", "--before", "3")
    assert [entry["revision"] for entry in page] == [2, 1]


def test_rollback_walks_back_takes_if_revision_and_says_where_it_went(cli: Cli) -> None:
    _three_versions(cli)
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    cli.run("alias", "set", NAME, "prod", "--version", "1", "--secondary-version", "3",
            "--weight", "20")  # fmt: skip
    cli.run("alias", "set", NAME, "prod", "--version", "3")
    stale = cli.run("alias", "rollback", NAME, "prod", "--if-revision", "2", code=1)
    message = stale.stderr.decode()
    assert "revision 3" in message and "not the expected revision 2" in message, message
    assert cli.json("alias", "get", NAME, "prod")["revision"] == 3
    done = cli.run("alias", "rollback", NAME, "prod", "--if-revision", "3", "--reason", "3 bad")
    remark = done.stderr.decode()
    assert "rolled back to version 1 (now revision 4)" in remark, remark
    assert cli.json("alias", "get", NAME, "prod")["secondary_version"] is None
    nothing = cli.run("alias", "rollback", NAME, "prod", code=2).stderr.decode()
    assert "nothing to roll back" in nothing and "Traceback" not in nothing, nothing


def test_rollback_to_a_soft_deleted_version_says_how_to_restore(cli: Cli) -> None:
    _three_versions(cli)
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    cli.run("alias", "set", NAME, "prod", "--version", "2")
    cli.run("delete", NAME, "--version", "1")
    refused = cli.run("alias", "rollback", NAME, "prod", code=1).stderr.decode()
    assert "restore" in refused and "1" in refused, refused
    assert cli.json("alias", "get", NAME, "prod")["version"] == "2"


def test_as_of_answers_where_the_alias_pointed_then(cli: Cli) -> None:
    _three_versions(cli)
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    cli.run("alias", "set", NAME, "prod", "--version", "2")
    first, second = reversed(cli.json("alias", "history", NAME, "prod"))
    between = (
        datetime.fromisoformat(first["update_at"])
        + (datetime.fromisoformat(second["update_at"]) - datetime.fromisoformat(first["update_at"]))
        / 2
    )
    then = cli.json("alias", "get", NAME, "prod", "--as-of", between.isoformat())
    assert then["version"] == "1"
    assert cli.json("alias", "get", NAME, "prod", "--as-of", "0s")["version"] == "2"
    before = (datetime.fromisoformat(first["update_at"]) - timedelta(seconds=5)).isoformat()
    assert (
        "not found"
        in cli.run("alias", "get", NAME, "prod", "--as-of", before, code=1).stderr.decode()
    )
    assert (
        "--as-of"
        in cli.run("alias", "get", NAME, "prod", "--as-of", "yesterday", code=2).stderr.decode()
    )


def test_verify_reports_an_intact_history(cli: Cli) -> None:
    _three_versions(cli)
    cli.run("alias", "set", NAME, "prod", "--version", "1")
    cli.run("alias", "set", NAME, "prod", "--version", "2")
    check = cli.json("alias", "history", NAME, "prod", "--verify")
    assert check == {"name": NAME, "alias": "prod", "ok": True, "entries": 2, "problems": []}


def test_verify_fails_on_an_entry_removed_out_of_band(tmp_path: Path) -> None:
    cli = Cli(str(tmp_path / "repo"), tmp_path)
    cli.run("init")
    _three_versions(cli)
    for version in ("1", "2", "3"):
        cli.run("alias", "set", NAME, "prod", "--version", version)
    with sqlite3.connect(tmp_path / "repo" / "versioned.sqlite3") as db:
        assert db.execute("DELETE FROM alias_history WHERE revision = 2").rowcount == 1
    failed = cli.run("alias", "history", NAME, "prod", "--verify", code=1).stderr.decode()
    assert "revision 2" in failed and "tampered" in failed, failed
    report = cli.run("--json", "alias", "history", NAME, "prod", "--verify", code=1)
    assert '"ok": false' in report.stdout.decode()


def test_get_by_key_is_sticky(cli: Cli, tmp_path: Path) -> None:
    _three_versions(cli)
    cli.run("alias", "set", NAME, "prod", "--version", "1", "--secondary-version", "2",
            "--weight", "50")  # fmt: skip
    for key in ("alice", "bob", "carol", "dave"):
        picks = {cli.run("get", NAME, "--alias", "prod", "--key", key).stdout for _ in range(3)}
        assert len(picks) == 1, key
        assert picks <= {b"one", b"two"}
    cli.run("get", NAME, "--key", "alice", code=2)


def test_get_through_an_alias_reads_the_alias_and_the_bytes_only(
    engines: Engines, tmp_path: Path
) -> None:
    """On S3, alias -> content is two requests: the alias item carries the hash."""
    cli = Cli(s3_repository_uri(), tmp_path)
    cli.run("init")
    _three_versions(cli)
    cli.run("alias", "set", NAME, "prod", "--version", "2")
    stderr = cli.run("-v", "get", NAME, "--alias", "prod", "-o", "-").stderr.decode()
    requests = re.findall(r"(?:s3|dynamodb) (\w+) \d{3}", stderr)
    assert requests == ["GetItem", "GetObject"], stderr
