"""The ``versioned rollout`` rows of the command table (:mod:`.table` adds them).

``rollout run`` and ``rollout step`` exit :data:`EXIT_ABORTED` when the rollout ended
aborted and :data:`EXIT_PAUSED` when it is paused (0: completed, or still going); 1 and 2
keep their meaning (failed, bad usage or input).
"""

from __future__ import annotations

from .parser import Command, count, option, short_duration, version
from .shared_args import ALIAS, IF_REVISION, NAME, REASON

#: exit codes of ``rollout run`` and ``rollout step`` (and of nothing else)
EXIT_ABORTED, EXIT_PAUSED = 3, 4
EXIT_CODES = (
    f"exit codes: 0 completed (run), or progress or waiting (step); {EXIT_ABORTED} aborted; "
    f"{EXIT_PAUSED} paused (a check was inconclusive, someone paused it, or the alias "
    "was changed outside the rollout); 1 failed; 2 bad usage or input"
)
_RESULT = "the rollout: its fields a line, then its checks (--json: Rollout.to_json())"


def _steer(word: str, summary: str, example: str) -> Command:
    """``rollout pause``, ``promote``, ``abort``: NAME ALIAS [--reason TEXT]."""
    return Command(("rollout", word), "rollout:steer", summary, example,
                   (NAME, ALIAS, REASON), prints=_RESULT)  # fmt: skip


ROLLOUT_COMMANDS: tuple[Command, ...] = (
    Command(
        ("rollout", "start"),
        "rollout:start",
        "start a rollout of version V on ALIAS and apply its first step (the alias's "
        "version stays primary, V gets the step's weight); 'rollout run' drives the rest",
        "versioned rollout start model prod --version 7 --steps 10,50,100 --hold 10m "
        "--check ./healthy.sh\n"
        "versioned rollout start model prod --version 7 --preset Canary10Percent5Minutes",
        (
            NAME,
            ALIAS,
            option(
                "--version",
                metavar="V",
                type=version,
                required=True,
                completes="versions",
                help="the published version to roll out",
            ),
            option(
                "--steps",
                metavar="P,P,...",
                group="plan",
                help="percentages of traffic for V, rising, ending at 100 (10,50,100)",
            ),
            option(
                "--preset",
                metavar="NAME",
                group="plan",
                completes="presets",
                help="a named schedule: CodeDeploy's Canary10Percent5Minutes, "
                "Linear10PercentEvery1Minute..., AllAtOnce, or AppConfig's "
                "AppConfig.Linear50PercentEvery30Seconds... (README: Canary releases)",
            ),
            option(
                "--hold",
                metavar="DURATION",
                type=short_duration,
                help="wait after each step before checking and stepping on (30s, 10m, 1h; "
                "default 0, or the preset's)",
            ),
            option(
                "--bake",
                metavar="DURATION",
                type=short_duration,
                help="with --check: at 100 %%, wait this long and check once more before "
                "completing; a failure then aborts (default 0, or the preset's)",
            ),
            option(
                "--check",
                metavar="CMD",
                help="a shell command run after each hold: exit 0 passes, 1 fails, any "
                "other exit or a timeout is inconclusive and pauses; it gets "
                "$VERSIONED_ROLLOUT_WEIGHT, _STEP, _VERSION, _STABLE_VERSION...",
            ),
            option(
                "--check-timeout",
                metavar="DURATION",
                type=short_duration,
                default=60.0,
                help="how long the check may run (default 60s)",
            ),
            option(
                "--failure-limit",
                metavar="N",
                type=count,
                default=0,
                help="failed checks tolerated (each holds the step again); one more aborts "
                "(default 0)",
            ),
            REASON,
        ),
        prints=_RESULT,
    ),
    Command(
        ("rollout", "run"),
        "rollout:run",
        "drive the rollout to its end: hold, check, step, until completed, aborted or "
        "paused (killed, it is run again: it goes on where it was)",
        "versioned rollout run model prod\nversioned rollout run model prod --json > rollout.json",
        (NAME, ALIAS),
        prints="a line per step, check and wait as they happen (--json: those lines on "
        "standard error, and the rollout at the end as an object). " + EXIT_CODES,
    ),
    Command(
        ("rollout", "step"),
        "rollout:step",
        "do what is due, at most one advance (for cron or a CI job; idempotent while "
        "nothing is due)",
        "versioned rollout step model prod",
        (NAME, ALIAS),
        prints="a line saying what it did: stepped, checked, waiting until T, held by "
        "another controller, completed, aborted, paused (--json: an object with "
        '"action" and "rollout"). ' + EXIT_CODES,
    ),
    Command(
        ("rollout", "status"),
        "rollout:status",
        "show the alias's newest rollout: state, steps, weight, next action and when, checks",
        "versioned rollout status model prod\nversioned rollout status model prod --json",
        (NAME, ALIAS),
        prints=_RESULT,
    ),
    _steer(
        "pause",
        "stop the rollout where it is (a running controller stops at its next wake-up)",
        "versioned rollout pause model prod --reason 'looking at latency'",
    ),
    Command(
        ("rollout", "resume"),
        "rollout:resume",
        "continue a paused rollout; if the alias was changed outside it, says what resuming "
        "would do and needs --if-revision with the alias's revision",
        "versioned rollout resume model prod\nversioned rollout resume model prod --if-revision 12",
        (NAME, ALIAS, IF_REVISION, REASON),
        prints=_RESULT,
    ),
    _steer(
        "promote",
        "go straight to the last step: the new version alone, the rollout completed",
        "versioned rollout promote model prod --reason 'metrics fine'",
    ),
    _steer(
        "abort",
        "put the alias back on its targets from before the rollout, from any state, and "
        "end the rollout",
        "versioned rollout abort model prod --reason '5xx on 7'",
    ),
)
