"""The alias page shows the rollout in progress (its steps with the current one marked,
weight, next action and when it is due, checks with outcome, exit code and detail, state
and why, who) and the ended ones with their outcome, steps and checks; every value
escaped."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from tests.server.conftest import HOSTILE, Filled, Live
from tests.server.rollout_setup import FAILED, HOLD, INCONCLUSIVE, PASSED, Setup
from versioned.rollout_check import CheckOutcome
from versioned.server.views import when

pytestmark = pytest.mark.timeout(120)

PAGE = "/artifacts/model/aliases/canary"


def page(live: Live) -> str:
    answer = live.client.get(PAGE, headers={"Accept": "text/html"})
    assert answer.status_code == 200, answer.text
    return answer.text


def section(html: str) -> str:
    """The rollout-in-progress section of the page ('' when there is none)."""
    found = re.search(r'<section class="rollout".*?</section>', html, re.S)
    return found.group(0) if found else ""


def steps(html: str) -> list[tuple[str, str]]:
    """(status, weight) of each step shown in ``html``."""
    return re.findall(r'<li class="step step-(\w+)" data-weight="(\d+)"', html)


def text(html: str) -> str:
    """``html``'s text: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_a_running_rollout_in_full(live: Live, filled: Filled) -> None:
    setup = Setup(filled.repo)
    setup.start()
    setup.after_hold(PASSED)
    shown = section(page(live))
    assert 'data-state="running"' in shown
    assert steps(shown) == [("applied", "10"), ("current", "50"), ("pending", "100")]
    assert 'aria-current="step">50 %' in shown
    words = text(shown)
    assert "Rollout 1 of v3 running" in words
    assert "50 % to v3 (step 2 of 3)" in words
    due = when(setup.now + timedelta(seconds=HOLD))
    assert f"run the check, then promote (100 %), due {due.replace('T', ' ')[:19]} UTC" in words
    assert "Abort restores version 1" in words
    assert "by " in words and "ship v3" in words
    [row] = re.findall(r'<tr class="check".*?</tr>', shown, re.S)
    assert 'data-outcome="passed"' in row
    assert "1 (10 %) passed 0 p99 120 ms" in text(row)


def test_a_paused_rollout_shows_why_and_its_checks(live: Live, filled: Filled) -> None:
    setup = Setup(filled.repo)
    setup.start(failure_limit=1)
    setup.after_hold(FAILED)
    paused = setup.after_hold(INCONCLUSIVE)
    shown = section(page(live))
    assert 'data-state="paused"' in shown
    assert paused.state_reason and paused.state_reason in unescape(shown)
    assert steps(shown)[0] == ("current", "10")
    rows = re.findall(
        r'<tr class="check" data-step="1" data-outcome="(\w+)">(.*?)</tr>', shown, re.S
    )
    assert [o for o, _ in rows] == ["inconclusive", "failed"]  # newest first
    assert "3 metrics backend timed out" in text(rows[0][1])
    assert "1 error rate 7 %" in text(rows[1][1])
    assert "none until resumed" in text(shown)
    assert "1 failure of 1 allowed" in text(shown)


def test_ended_rollouts_are_listed_with_their_outcome(live: Live, filled: Filled) -> None:
    setup = Setup(filled.repo)
    setup.start()
    setup.after_hold(PASSED)
    setup.rollouts.abort("model", "canary", "latency")
    setup.start()
    setup.rollouts.promote("model", "canary", "fine")
    html = page(live)
    assert section(html) == ""  # none in progress
    rows = re.findall(
        r'<tr class="rollout-row" data-number="(\d+)" data-state="(\w+)">(.*?)</tr>', html, re.S
    )
    assert [(n, s) for n, s, _ in rows] == [("2", "completed"), ("1", "aborted")]
    completed, aborted = rows[0][2], rows[1][2]
    assert steps(aborted) == [("applied", "10"), ("current", "50"), ("pending", "100")]
    assert steps(completed)[-1] == ("current", "100")
    assert "latency" in text(aborted)
    assert "outcome-passed" in aborted
    assert 'href="/api/artifacts/model/aliases/canary/rollouts/1"' in aborted
    # the history names the rollout in its reasons
    assert "rollout 1: abort (latency)" in text(html)
    assert "rollout 2: promote, 100 % (fine)" in text(html)


def test_a_page_without_rollouts_shows_none(live: Live) -> None:
    html = live.client.get("/artifacts/model/aliases/prod", headers={"Accept": "text/html"}).text
    assert "rollout" not in html.lower().replace("rollback", "")


def test_rollout_text_is_escaped(live: Live, filled: Filled) -> None:
    setup = Setup(filled.repo)
    setup.start(check=HOSTILE)
    setup.after_hold(CheckOutcome("failed", 1, HOSTILE))  # aborts: over the limit
    setup.start()
    html = page(live)
    assert HOSTILE not in html
    assert HOSTILE in unescape(html)
