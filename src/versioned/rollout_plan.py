"""Progressive rollouts as data: presets, step rules, the record a store keeps, and how
an alias change in the history is recognised as a rollout's own. Pure: no requests.

A rollout moves an alias from its targets before the rollout (``before``) to version
``version`` alone, through ``steps`` (percentages that rise and end at 100). Step ``i``
keeps the primary version ``before.version`` and sends ``steps[i-1]`` percent to
``version`` as the secondary; a step of 100 is ``version`` alone. Because the pair
stays the same until 100 %, sticky routing (``routing``) only ever moves keys onto the
new version as the weight rises.

Each alias change a rollout makes is recorded with a reason that names it
(``rollout 7: step 2/3, 50 %``), and the record keeps the revision it wrote last. A
change found in the history right after that revision, with this rollout's reason and
exactly the targets one of its transitions would have set, is the rollout's own (a
controller that died after the alias write and before the record write); any other
change was made outside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .arguments import MAX_REASON, is_control, is_surrogate
from .exc import InvalidArgumentError
from .stores.base import AliasChange, Targets

RUNNING = "running"
PAUSED = "paused"
COMPLETED = "completed"
ABORTED = "aborted"
STATES = (RUNNING, PAUSED, COMPLETED, ABORTED)
#: States a rollout never leaves.
ENDED = (COMPLETED, ABORTED)

#: Check outcomes: exit 0, exit 1, anything else (another code, a timeout, no start).
PASSED = "passed"
FAILED = "failed"
INCONCLUSIVE = "inconclusive"

#: The most checks and events a record keeps (the oldest go first): a DynamoDB item
#: holds at most 400 KB.
_KEPT = 200


@dataclass(frozen=True)
class Preset:
    """A named schedule: its steps, the hold after each step but the last, and the bake
    (a hold, then a check, after reaching 100 %; a failure there aborts)."""

    steps: tuple[int, ...]
    hold_seconds: float
    bake_seconds: float = 0.0
    origin: str = ""


def _linear(percent: int) -> tuple[int, ...]:
    return (*tuple(range(percent, 100, percent)), 100)


_CODEDEPLOY = "AWS CodeDeploy (Lambda)"
_APPCONFIG = "AWS AppConfig"
#: Every predefined strategy of CodeDeploy for Lambda and of AppConfig, by name.
#: CodeDeploy's are also accepted with their ``CodeDeployDefault.Lambda`` prefix.
#: AppConfig's "exponential" Canary10Percent20Minutes doubles from 10 % over 20 minutes.
PRESETS: dict[str, Preset] = {
    "Canary10Percent5Minutes": Preset((10, 100), 300, 0, _CODEDEPLOY),
    "Canary10Percent10Minutes": Preset((10, 100), 600, 0, _CODEDEPLOY),
    "Canary10Percent15Minutes": Preset((10, 100), 900, 0, _CODEDEPLOY),
    "Canary10Percent30Minutes": Preset((10, 100), 1800, 0, _CODEDEPLOY),
    "Linear10PercentEvery1Minute": Preset(_linear(10), 60, 0, _CODEDEPLOY),
    "Linear10PercentEvery2Minutes": Preset(_linear(10), 120, 0, _CODEDEPLOY),
    "Linear10PercentEvery3Minutes": Preset(_linear(10), 180, 0, _CODEDEPLOY),
    "Linear10PercentEvery10Minutes": Preset(_linear(10), 600, 0, _CODEDEPLOY),
    "AllAtOnce": Preset((100,), 0, 0, _CODEDEPLOY),
    "AppConfig.Linear50PercentEvery30Seconds": Preset((50, 100), 30, 60, _APPCONFIG),
    "AppConfig.Canary10Percent20Minutes": Preset((10, 20, 40, 80, 100), 300, 600, _APPCONFIG),
    "AppConfig.Linear20PercentEvery6Minutes": Preset(_linear(20), 360, 1800, _APPCONFIG),
    "AppConfig.AllAtOnce": Preset((100,), 0, 600, _APPCONFIG),
}
_CODEDEPLOY_PREFIX = "CodeDeployDefault.Lambda"


def preset(name: object) -> Preset:
    """The preset called ``name``. Raises InvalidArgumentError listing the names."""
    if isinstance(name, str):
        found = PRESETS.get(name.removeprefix(_CODEDEPLOY_PREFIX))
        if found is not None:
            return found
    raise InvalidArgumentError(f"no preset {name!r}: use one of {', '.join(PRESETS)}")


def check_steps(steps: object) -> tuple[int, ...]:
    """Steps as given (a sequence of whole percentages, or ``"10,50,100"``), checked.

    Raises InvalidArgumentError unless they rise strictly, each is 1-100, and the last
    is 100 (a list that can't reach 100 would never promote).
    """
    if isinstance(steps, str):
        parts = [p.strip().removesuffix("%").strip() for p in steps.split(",")]
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses
        if not all(p.isascii() and p.isdigit() for p in parts):
            raise InvalidArgumentError(
                f"steps {steps[:100]!r} are not whole percentages separated by commas (10,50,100)"
            )
        for part in parts:
            if len(part.lstrip("0")) > 3:  # past 100, and int() refuses 4,300 digits
                raise InvalidArgumentError(
                    f"step {part[:20]}{'...' if len(part) > 20 else ''} is not a whole "
                    "percentage from 1 to 100"
                )
        steps = [int(p) for p in parts]
    if not isinstance(steps, (list, tuple)) or not steps:
        raise InvalidArgumentError(f"steps must be a non-empty list of percentages, got {steps!r}")
    checked: list[int] = []
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 100:
            raise InvalidArgumentError(f"step {step!r} is not a whole percentage from 1 to 100")
        if checked and step <= checked[-1]:
            raise InvalidArgumentError(
                f"steps {list(steps)} must rise: {step} comes after {checked[-1]}"
            )
        checked.append(step)
    if checked[-1] != 100:
        raise InvalidArgumentError(
            f"steps {checked} end at {checked[-1]} %: the last step must be 100 "
            "(the rollout promotes there), e.g. " + ",".join(str(s) for s in [*checked, 100])
        )
    return tuple(checked)


@dataclass(frozen=True)
class CheckRun:
    """One run of the check command after a hold."""

    step: int
    weight: int
    at: datetime
    outcome: str
    exit_code: int | None
    detail: str


@dataclass(frozen=True)
class Event:
    """Something that happened to a rollout besides its steps (start, pause, resume,
    abort, adoption of its own change...), with who did it."""

    at: datetime
    what: str
    who: str


@dataclass(frozen=True)
class Rollout:
    """A rollout of ``version`` on alias ``alias`` of artifact ``name``.

    ``step``: how many steps are applied (1-based index of the current one; 0 none).
    ``last_revision``: the alias revision this rollout wrote last (at start: the
    revision it started from). ``due_at``: when the next check (and step) is due; None
    when nothing is due (ended, or paused). ``lease_owner``/``lease_until``: the
    controller driving it, if any. ``seq``: the record's write count (compare-and-set).
    """

    name: str
    alias: str
    number: int
    version: int
    steps: tuple[int, ...]
    hold_seconds: float
    bake_seconds: float
    check: str | None
    check_timeout_seconds: float
    failure_limit: int
    reason: str | None
    before: Targets
    started_revision: int
    state: str
    step: int
    last_revision: int
    due_at: datetime | None
    failures: int
    created_at: datetime
    updated_at: datetime
    who: str
    state_reason: str | None = None
    preset: str | None = None
    checks: tuple[CheckRun, ...] = ()
    events: tuple[Event, ...] = ()
    lease_owner: str | None = None
    lease_until: datetime | None = None
    seq: int = field(default=0, compare=False)

    # --- what it means -------------------------------------------------------------------
    @property
    def weight(self) -> int:
        """The percentage of traffic the new version gets now (0 before the first step)."""
        return self.steps[self.step - 1] if self.step else 0

    @property
    def at_full(self) -> bool:
        """True once the last step (100 %) is applied."""
        return self.step == len(self.steps)

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def targets_at(self, step: int) -> Targets:
        """The alias's targets at step ``step`` (1-based)."""
        weight = self.steps[step - 1]
        if weight == 100:
            return Targets(self.version)
        return Targets(self.before.version, self.version, weight)

    def step_reason(self, step: int) -> str:
        return f"rollout {self.number}: step {step}/{len(self.steps)}, {self.steps[step - 1]} %"

    def promote_reason(self, why: str | None = None) -> str:
        return fitted(f"rollout {self.number}: promote, 100 %", why)

    def abort_reason(self, why: str | None, tail: str = "") -> str:
        return fitted(f"rollout {self.number}: abort", why, tail)

    def resume_reason(self) -> str:
        return (
            f"rollout {self.number}: resume at step {self.step}/{len(self.steps)}, {self.weight} %"
        )

    def current_targets(self) -> Targets:
        """What the rollout last set the alias to (``before`` until its first step)."""
        return self.targets_at(self.step) if self.step else self.before

    def next_action(self) -> str:
        """What happens next, in words."""
        if self.state == COMPLETED:
            return "none: completed"
        if self.state == ABORTED:
            return "none: aborted"
        if self.state == PAUSED:
            return "none until resumed (or promoted, or aborted)"
        check = "run the check, then " if self.check else ""
        if self.at_full:
            return f"{check}complete the rollout (bake ends)"
        following = self.steps[self.step]
        word = "promote (100 %)" if following == 100 else f"step to {following} %"
        return f"{check}{word}"

    def to_json(self) -> dict[str, Any]:
        """The rollout as plain JSON values (what ``rollout status --json`` prints)."""
        from .rollout_record import fields  # the record's module builds on this one

        body = fields(self)
        body["seq"] = self.seq
        body["weight"] = self.weight
        body["next_action"] = self.next_action()
        return body


#: A terminal escape sequence (colors...), as checks print them.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def fitted(head: str, why: str | None, tail: str = "") -> str:
    """``head (why)tail``: a reason an alias change takes. ``why`` loses terminal escapes
    and control characters and is shortened to fit ``arguments.MAX_REASON`` characters
    (it may be that long itself)."""
    if not why:
        return head + tail
    # a check's output (colors, tabs) may be in it: a reason is one line of text
    why = "".join(
        " " if is_control(c) else "\ufffd" if is_surrogate(c) else c for c in _ANSI.sub("", why)
    )
    room = MAX_REASON - len(head) - len(tail) - 3
    if len(why) > room:
        why = why[: room - 1] + "…"
    return f"{head} ({why}){tail}"


def changed(rollout: Rollout, now: datetime, **fields: Any) -> Rollout:
    """``rollout`` with ``fields`` replaced, dated ``now``."""
    return replace(rollout, updated_at=now, **fields)


def with_event(rollout: Rollout, now: datetime, what: str, who: str) -> tuple[Event, ...]:
    return (*rollout.events, Event(now, what, who))[-_KEPT:]


def with_check(rollout: Rollout, run: CheckRun) -> tuple[CheckRun, ...]:
    return (*rollout.checks, run)[-_KEPT:]


def due_after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


# --- recognising the rollout's own changes ---------------------------------------------
#: What a transition found in the history was: one of these, with the step it reached.
STEP = "step"
PROMOTE = "promote"
ABORT = "abort"
RESUME = "resume"


def own_transition(rollout: Rollout, entry: AliasChange) -> tuple[str, int] | None:
    """If ``entry`` (the change right after ``rollout.last_revision``) is one this
    rollout makes from its current state, what it was and the step it reached; else
    None (the change was made outside the rollout)."""
    if entry.revision != rollout.last_revision + 1 or entry.reason is None:
        return None
    if not entry.reason.startswith(f"rollout {rollout.number}: "):
        return None
    if entry.before != rollout.current_targets():
        return None
    last = len(rollout.steps)
    following = rollout.step + 1
    if (
        following <= last
        and entry.reason == rollout.step_reason(following)
        and entry.after == rollout.targets_at(following)
    ):
        return STEP, following
    if entry.reason.startswith(rollout.promote_reason()) and entry.after == rollout.targets_at(
        last
    ):
        return PROMOTE, last
    undone = (rollout.before, Targets(rollout.before.version))
    if entry.reason.startswith(rollout.abort_reason(None)) and entry.after in undone:
        return ABORT, rollout.step
    return None
