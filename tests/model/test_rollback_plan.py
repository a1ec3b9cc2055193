"""The rollback rule's lazy reading agrees with reading the whole history (Hypothesis):
``effective_states`` walks newest first with a window of look-ahead and falls back to the
whole history only for rollbacks whose state it never finds; ``_forward`` builds the same
effective history oldest first. Both must agree on every history."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from versioned.rollback_plan import ROLLBACK, _forward, effective_states
from versioned.stores.base import AliasChange, Targets

STATES = st.one_of(st.none(), st.integers(1, 4).map(Targets))
ACTIONS = st.sampled_from(["set", ROLLBACK, "outside"])


def history(steps: list[tuple[str, Targets | None]]) -> list[AliasChange]:
    """Entries oldest first (hashes and times do not matter to the rule)."""
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    entries: list[AliasChange] = []
    for revision, (action, after) in enumerate(steps, start=1):
        before = entries[-1].after if entries else None
        kind = "delete" if after is None else action
        entries.append(
            AliasChange("a", "p", revision, moment, kind, "t", None, before, after, "", "")
        )
    return entries


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(ACTIONS, STATES), max_size=40), st.integers(1, 6))
def test_lazy_and_whole_readings_agree(
    steps: list[tuple[str, Targets | None]], window: int
) -> None:
    oldest_first = history(steps)
    lazy = list(effective_states(list(reversed(oldest_first)), window))
    whole = list(reversed(_forward(oldest_first, window)))
    assert [e.revision for e in lazy] == [e.revision for e in whole]
