"""``versioned rollout``: every subcommand through the installed command, its exit codes
(0 completed or going, 3 aborted, 4 paused, 1 failed, 2 bad input) and its JSON, with real
shell commands as checks. Holds are 0 (or the test reads the record), so nothing sleeps
for a hold; what happened is read back from the alias history and the stored record."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, complete
from versioned import open_repository, rollout_record
from versioned.stores.base import StoredRollout
from versioned.timestamps import utc_now

ABORTED, PAUSED = 3, 4


def seeded(cli: Cli) -> Cli:
    """Versions 1, 2, 3 of ``app``, and alias ``prod`` on 1 (revision 1), written with
    the library (the commands that do it have tests of their own)."""
    repo = open_repository(cli.repo or "")
    for content in (b"one", b"two", b"three"):
        repo.put_artifact("app", content)
        repo.publish_artifact_version("app")
    repo.put_alias("app", "prod", 1)
    return cli


@pytest.fixture
def three(tmp_path: Path) -> Cli:
    """A local repository, seeded."""
    runner = Cli(str(tmp_path / "repo"), tmp_path)
    runner.run("init")
    return seeded(runner)


@pytest.fixture
def both(cli: Cli) -> Cli:
    """A repository of each backend, seeded."""
    return seeded(cli)


def history(cli: Cli) -> list[tuple[str | None, Any]]:
    """The alias's changes, oldest first: (reason, targets after)."""
    changes = cli.json("alias", "history", "app", "prod")
    return [(c["reason"], _targets(c["after"])) for c in reversed(changes)]


def _targets(state: dict[str, Any] | None) -> Any:
    if state is None:
        return None
    return (state["version"], state["secondary_version"], state["secondary_version_weight"])


def status(cli: Cli) -> dict[str, Any]:
    return cli.json("rollout", "status", "app", "prod")  # type: ignore[no-any-return]


def start(cli: Cli, *options: str, code: int = 0) -> subprocess.CompletedProcess[bytes]:
    return cli.run("rollout", "start", "app", "prod", "--version", "2", *options, code=code)


def test_start_applies_the_first_step_and_status_shows_the_rollout(three: Cli) -> None:
    done = start(three, "--steps", "10,50,100", "--hold", "10m", "--reason", "ship 2")
    text = done.stdout.decode()
    assert "rollout   1 of app prod" in text and "[10] -> 50 -> 100 %" in text
    assert "1 (90%) + 2 (10%)" in text and "step to 50 %" in text
    assert history(three)[-1] == ("rollout 1: step 1/3, 10 %", ("1", "2", 10))
    shown = status(three)
    assert shown["state"] == "running" and shown["steps"] == [10, 50, 100]
    assert (shown["step"], shown["weight"], shown["number"]) == (1, 10, 1)
    assert shown["hold_seconds"] == 600 and shown["reason"] == "ship 2"
    assert shown["next_action"] == "step to 50 %" and shown["checks"] == []
    assert shown["due_at"] is not None and shown["before"]["version"] == 1
    # a step now has nothing due: it waits, changes nothing, and says until when
    before = history(three)
    for _ in range(2):
        said = three.run("rollout", "step", "app", "prod").stdout.decode()
        assert "waiting until" in said and "step to 50 %" in said
    assert history(three) == before
    assert status(three)["step"] == 1


def test_start_json_and_a_preset(three: Cli) -> None:
    shown = three.json(
        "rollout", "start", "app", "prod", "--version", "2", "--preset",
        "AppConfig.Linear50PercentEvery30Seconds", "--check", "true",
    )  # fmt: skip
    assert shown["state"] == "running" and shown["steps"] == [50, 100]
    assert (shown["hold_seconds"], shown["bake_seconds"]) == (30, 60)
    assert shown["preset"] == "AppConfig.Linear50PercentEvery30Seconds"


@pytest.mark.parametrize(
    "options",
    [
        ["--steps", "10,50"],  # never reaches 100: refused up front
        ["--steps", "50,10,100"],
        ["--steps", "ten"],
        [],  # neither --steps nor --preset
        ["--steps", "10,100", "--preset", "AllAtOnce"],
        ["--preset", "Canary99Percent"],
        ["--steps", "10,100", "--hold", "366d"],
        ["--steps", "10,100", "--check-timeout", "0"],
        ["--steps", "10,100", "--bake", "1m"],  # a bake without a check
        ["--steps", "10,100", "--failure-limit", "-1"],
    ],
)
def test_bad_input_exits_2_and_writes_nothing(three: Cli, options: list[str]) -> None:
    before = history(three)
    stderr = start(three, *options, code=2).stderr.decode()
    assert stderr.startswith("versioned: error: ") and stderr.count("\n") == 1, stderr
    assert history(three) == before
    assert "has no rollout" in three.run("rollout", "status", "app", "prod", code=1).stderr.decode()


def test_steps_not_ending_at_100_name_the_fix(three: Cli) -> None:
    stderr = start(three, "--steps", "10,50", code=2).stderr.decode()
    assert "must be 100" in stderr and "10,50,100" in stderr


def test_run_drives_to_the_end_checking_each_step(both: Cli, tmp_path: Path) -> None:
    three = both
    log = tmp_path / "checks.log"
    check = f'echo "$VERSIONED_ROLLOUT_STEP $VERSIONED_ROLLOUT_WEIGHT" >> {log}'
    start(three, "--steps", "10,50,100", "--hold", "0", "--check", check)
    done = three.run("rollout", "run", "app", "prod")
    lines = done.stdout.decode().splitlines()
    assert sum("check at" in line and "passed" in line for line in lines) == 2
    assert any("step 2/3, 50 %" in line for line in lines)
    assert "completed" in lines[-1]
    assert log.read_text().split("\n")[:-1] == ["1 10", "2 50"]
    assert history(three)[1:] == [
        ("rollout 1: step 1/3, 10 %", ("1", "2", 10)),
        ("rollout 1: step 2/3, 50 %", ("1", "2", 50)),
        ("rollout 1: step 3/3, 100 %", ("2", None, None)),
    ]
    shown = status(three)
    assert shown["state"] == "completed" and shown["weight"] == 100 and shown["due_at"] is None
    assert [(c["step"], c["outcome"]) for c in shown["checks"]] == [(1, "passed"), (2, "passed")]
    # run and step on a completed rollout: exit 0, nothing written
    three.run("rollout", "run", "app", "prod")
    assert "already completed" in three.text("rollout", "step", "app", "prod")
    assert len(history(three)) == 4


def test_a_failing_check_aborts_back_to_the_stable_targets(both: Cli) -> None:
    three = both
    three.run("alias", "set", "app", "prod", "--version", "1", "--secondary-version", "3",
              "--weight", "5")  # fmt: skip
    start(three, "--steps", "20,100", "--check", "echo boom; exit 1")
    done = three.run("rollout", "run", "app", "prod", code=ABORTED)
    assert "boom" in done.stdout.decode() and "aborted" in done.stdout.decode()
    assert history(three)[-1] == ("rollout 1: abort (" + status(three)["state_reason"] + ")",
                                  ("1", "3", 5))  # fmt: skip
    shown = status(three)
    assert shown["state"] == "aborted" and shown["checks"][0]["exit_code"] == 1
    three.run("rollout", "step", "app", "prod", code=ABORTED)  # ended: same code, no change
    assert history(three)[-1][1] == ("1", "3", 5)


def test_failures_within_the_limit_hold_the_step_again(three: Cli) -> None:
    start(three, "--steps", "20,100", "--check", "exit 1", "--failure-limit", "1")
    said = three.run("rollout", "step", "app", "prod").stdout.decode()
    assert "check failed" in said and "1 of 1 allowed" in said
    assert status(three)["failures"] == 1 and status(three)["state"] == "running"
    three.run("rollout", "step", "app", "prod", code=ABORTED)
    assert history(three)[-1][1] == ("1", None, None)


@pytest.mark.parametrize(
    ("check", "detail"), [("exit 3", "exit 3"), ("sleep 5", "timed out after 0.2 s")]
)
def test_an_inconclusive_check_pauses(three: Cli, check: str, detail: str) -> None:
    start(three, "--steps", "20,100", "--check", check, "--check-timeout", "0.2s")
    done = three.run("rollout", "run", "app", "prod", code=PAUSED)
    assert "inconclusive" in done.stdout.decode() and detail in done.stdout.decode()
    shown = status(three)
    assert shown["state"] == "paused" and shown["checks"][-1]["outcome"] == "inconclusive"
    assert shown["checks"][-1]["detail"] == detail
    assert history(three)[-1][1] == ("1", "2", 20)  # left where it was
    three.run("rollout", "step", "app", "prod", code=PAUSED)
    assert history(three)[-1][1] == ("1", "2", 20)


def test_pause_resume_promote(three: Cli) -> None:
    start(three, "--steps", "10,50,100")
    three.run("rollout", "pause", "app", "prod", "--reason", "look")
    assert status(three)["state"] == "paused"
    said = three.run("rollout", "step", "app", "prod", code=PAUSED).stdout.decode()
    assert "paused" in said and "look" in said
    three.run("rollout", "resume", "app", "prod")
    assert status(three)["state"] == "running"
    shown = three.json("rollout", "promote", "app", "prod", "--reason", "fine")
    assert shown["state"] == "completed" and shown["step"] == 3
    assert history(three)[-1] == ("rollout 1: promote, 100 % (fine)", ("2", None, None))
    stderr = three.run("rollout", "abort", "app", "prod", code=1).stderr.decode()
    assert "completed" in stderr and "alias rollback" in stderr


def test_abort_mid_hold_restores_the_targets_from_before(three: Cli) -> None:
    start(three, "--steps", "10,50,100", "--hold", "1h")
    shown = three.json("rollout", "abort", "app", "prod", "--reason", "5xx")
    assert shown["state"] == "aborted" and shown["state_reason"] == "5xx"
    assert history(three)[-1] == ("rollout 1: abort (5xx)", ("1", None, None))
    assert three.json("alias", "get", "app", "prod")["secondary_version"] is None


def test_resume_after_an_outside_change_needs_if_revision(three: Cli) -> None:
    start(three, "--steps", "20,50,100")
    three.run("alias", "set", "app", "prod", "--version", "1", "--reason", "hotfix")
    revision = three.json("alias", "get", "app", "prod")["revision"]
    three.run("rollout", "step", "app", "prod", code=PAUSED)  # noticed: paused, untouched
    assert history(three)[-1] == ("hotfix", ("1", None, None))
    stderr = three.run("rollout", "resume", "app", "prod", code=1).stderr.decode()
    assert f"--if-revision {revision}" in stderr and "resuming sets it to" in stderr
    assert stderr.count("\n") == 1
    three.run("rollout", "resume", "app", "prod", "--if-revision", "1", code=1)
    assert history(three)[-1][0] == "hotfix" and status(three)["state"] == "paused"
    three.run("rollout", "resume", "app", "prod", "--if-revision", str(revision))
    assert history(three)[-1] == ("rollout 1: resume at step 1/3, 20 %", ("1", "2", 20))
    assert status(three)["state"] == "running"


def test_step_says_when_another_controller_holds_it(three: Cli) -> None:
    start(three, "--steps", "10,100", "--hold", "1h")
    repo = open_repository(three.repo or "")
    repo.rollouts().step("app", "prod", keep_lease=True)  # takes the lease, keeps it
    said = three.run("rollout", "step", "app", "prod").stdout.decode()
    assert "held by another controller" in said
    assert history(three)[-1][0] == "rollout 1: step 1/2, 10 %"


def test_a_killed_run_is_run_again_and_applies_each_step_once(three: Cli) -> None:
    # the check kills its controller (its parent) at step 2, once
    marker = three.cwd / "killed"
    check = (
        f'if [ "$VERSIONED_ROLLOUT_STEP" = 2 ] && [ ! -e {marker} ]; then '
        f"touch {marker}; kill -9 $PPID; fi"
    )
    start(three, "--steps", "10,50,100", "--check", check, "--check-timeout", "5s")
    three.run("rollout", "run", "app", "prod", code=-9)
    assert status(three)["step"] == 2
    said = three.run("rollout", "step", "app", "prod").stdout.decode()
    assert "held by another controller" in said  # the dead one's lease
    _expire_lease(three.repo or "")
    done = three.run("rollout", "run", "app", "prod")
    assert "completed" in done.stdout.decode()
    assert [reason for reason, _ in history(three)[1:]] == [
        "rollout 1: step 1/3, 10 %",
        "rollout 1: step 2/3, 50 %",
        "rollout 1: step 3/3, 100 %",
    ]
    assert [c["step"] for c in status(three)["checks"]] == [1, 2]


def _expire_lease(uri: str) -> None:
    """What waiting out a dead controller's lease would do, without the wait."""
    backend = open_repository(uri)._engine.backend
    stored = backend.get_rollout("app", "prod", None)
    assert stored is not None
    rollout = rollout_record.decode(stored.body, stored.seq)
    expired = replace(rollout, lease_until=utc_now() - timedelta(seconds=1), seq=stored.seq + 1)
    backend.write_rollout(
        StoredRollout("app", "prod", stored.number, stored.seq + 1, rollout_record.encode(expired)),
        stored.seq,
    )


def test_run_json_prints_the_rollout_and_the_lines_go_to_stderr(three: Cli) -> None:
    start(three, "--steps", "50,100")
    done = three.run("--json", "rollout", "run", "app", "prod")
    assert json.loads(done.stdout)["state"] == "completed"
    assert "completed" in done.stderr.decode()
    step = three.json("rollout", "step", "app", "prod")
    assert step["action"] == "ended" and step["rollout"]["state"] == "completed"


def test_no_rollout_is_exit_1_naming_the_alias(three: Cli) -> None:
    for command in ("status", "run", "step", "pause", "resume", "promote", "abort"):
        stderr = three.run("rollout", command, "app", "prod", code=1).stderr.decode()
        assert "alias 'prod' of artifact 'app' has no rollout" in stderr, command


def test_help_documents_the_exit_codes_and_presets_complete(tmp_path: Path) -> None:
    for command in ("run", "step"):
        shown = " ".join(Cli(None, tmp_path).text("rollout", command, "--help").split())
        assert "3 aborted" in shown and "4 paused" in shown, shown
    offered = complete(Cli(None, tmp_path), "rollout start app prod --preset AppConfig.L")
    assert sorted(offered) == [
        "AppConfig.Linear20PercentEvery6Minutes",
        "AppConfig.Linear50PercentEvery30Seconds",
    ]
    assert not (tmp_path / ".versioned").exists()  # completing a preset opens nothing
