"""Rollback in an incident (issue 15, items 1 and 2), on both backends: repeated rollbacks
keep walking back and never forward, a rollback after a canary ramp serves none of the
new version, ``to_revision`` stays exact, and every rollback is a compare-and-set."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.helpers import Backend, Repository, raises_versioned
from versioned import AliasState, exc

NAME = "my-app"


@pytest.fixture
def published(repo: Repository) -> Repository:
    """``my-app`` with versions 1 to 7."""
    for number in range(1, 8):
        repo.put_artifact(NAME, f"v{number}".encode())
        repo.publish_artifact_version(NAME)
    return repo


def _state(repo: Repository) -> AliasState:
    alias = repo.get_alias(NAME, "prod")
    return AliasState(alias.version, alias.secondary_version, alias.secondary_version_weight)


def test_repeated_rollbacks_keep_walking_back(backend: Backend, published: Repository) -> None:
    repo = published
    for version in (1, 2, 3):
        repo.put_alias(NAME, "prod", version)
    first = repo.rollback_alias(NAME, "prod", reason="3 is bad")
    assert (first.version, first.revision) == ("2", 4)
    second = repo.rollback_alias(NAME, "prod", reason="2 is bad too")
    assert (second.version, second.revision) == ("1", 5)  # never forward to 3
    before = backend.state()
    with raises_versioned(exc.InvalidArgumentError) as info:
        repo.rollback_alias(NAME, "prod")
    assert "nothing to roll back" in str(info.value) and "revision 5" in str(info.value)
    assert backend.state() == before
    assert repo.verify_alias_history(NAME, "prod").ok


def test_a_rollback_after_a_ramp_serves_none_of_the_new_version(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 5)
    for weight in (5, 20, 50):
        repo.put_alias(NAME, "prod", 5, secondary_version=6, secondary_version_weight=weight)
    repo.put_alias(NAME, "prod", 6, reason="promote 6")
    rolled = repo.rollback_alias(NAME, "prod", reason="6 is bad")
    assert (rolled.version, rolled.secondary_version, rolled.revision) == ("5", None, 6)
    assert rolled.secondary_version_weight is None


def test_a_rollback_mid_ramp_takes_the_canary_out(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 5)
    for weight in (5, 20):
        repo.put_alias(NAME, "prod", 5, secondary_version=6, secondary_version_weight=weight)
    assert _state(repo) == AliasState("5", "6", 20)
    assert repo.rollback_alias(NAME, "prod").version == "5"
    assert _state(repo) == AliasState("5")


def test_the_same_versions_set_again_are_one_state(published: Repository) -> None:
    repo = published
    for version in (1, 2, 2):
        repo.put_alias(NAME, "prod", version)
    assert repo.rollback_alias(NAME, "prod").version == "1"


def test_a_revert_made_by_hand_is_read_as_a_rollback(published: Repository) -> None:
    """1 → 2 → 3 → 2: 3 was reverted by hand; a rollback now takes 2 out and goes to
    1, never back to the 3 someone just took out."""
    repo = published
    for version in (1, 2, 3, 2):
        repo.put_alias(NAME, "prod", version)
    assert repo.rollback_alias(NAME, "prod").version == "1"


def test_a_revert_to_an_older_release_leaves_nothing_to_roll_back(
    backend: Backend, published: Repository
) -> None:
    """1 → 2 → 3 → 1: back to 1 by hand; rolling back would re-deploy 3 or 2, which
    were both taken out, so it is refused (to_revision still goes anywhere)."""
    repo = published
    for version in (1, 2, 3, 1):
        repo.put_alias(NAME, "prod", version)
    before = backend.state()
    with raises_versioned(exc.InvalidArgumentError):
        repo.rollback_alias(NAME, "prod")
    assert backend.state() == before
    assert repo.rollback_alias(NAME, "prod", to_revision=2).version == "2"


def test_a_rollback_never_brings_back_what_an_earlier_one_took_out(
    published: Repository,
) -> None:
    repo = published
    for version in (1, 2, 1, 3):
        repo.put_alias(NAME, "prod", version)
    assert repo.rollback_alias(NAME, "prod").version == "1"
    with raises_versioned(exc.InvalidArgumentError):
        repo.rollback_alias(NAME, "prod")  # 2 was reverted: not re-deployed


def test_a_retried_canary_rolls_back_to_the_stable_version(published: Repository) -> None:
    """5; canary 6 at 5 %, 20 %; aborted by hand (5); retried at 5 %, 20 %; promoted."""
    repo = published
    repo.put_alias(NAME, "prod", 5)
    for _ in range(2):
        for weight in (5, 20):
            repo.put_alias(NAME, "prod", 5, secondary_version=6, secondary_version_weight=weight)
        if _ == 0:
            repo.put_alias(NAME, "prod", 5, reason="abort")
    repo.put_alias(NAME, "prod", 6, reason="promote")
    assert _state(repo) == AliasState("6")
    assert _state_after(repo.rollback_alias(NAME, "prod")) == AliasState("5")


def _state_after(alias: Any) -> AliasState:
    return AliasState(alias.version, alias.secondary_version, alias.secondary_version_weight)


def test_to_revision_is_exact_and_later_rollbacks_skip_what_it_undid(
    published: Repository,
) -> None:
    repo = published
    for version in (1, 2, 3, 4):
        repo.put_alias(NAME, "prod", version)
    exact = repo.rollback_alias(NAME, "prod", to_revision=2)
    assert (exact.version, exact.revision) == ("2", 5)
    # revisions 3 and 4 were undone: the next rollback leaves 2 for what came before it
    assert repo.rollback_alias(NAME, "prod").version == "1"


def test_a_rollback_written_by_the_old_toggling_rule_counts_as_a_change(
    published: Repository,
) -> None:
    """Histories written before this rule may hold a rollback that went forward (the old
    rule went to the revision before the current, a rollback included); such an entry
    restores no state of the effective history and is read as an ordinary change."""
    repo = published
    for version in (1, 2, 3):
        repo.put_alias(NAME, "prod", version)
    repo.rollback_alias(NAME, "prod", to_revision=2)  # to 2 (revision 4)
    repo.rollback_alias(NAME, "prod", to_revision=3)  # forward to 3 (revision 5)
    assert repo.rollback_alias(NAME, "prod").version == "2"


def test_a_deleted_alias_rolls_back_to_its_last_state(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1)
    repo.put_alias(NAME, "prod", 2, secondary_version=3, secondary_version_weight=10)
    repo.delete_alias(NAME, "prod")
    rolled = repo.rollback_alias(NAME, "prod", expected_revision=3)
    assert (rolled.version, rolled.secondary_version, rolled.revision) == ("2", "3", 4)


def test_a_deleted_alias_takes_zero_as_its_expected_revision(published: Repository) -> None:
    repo = published
    repo.put_alias(NAME, "prod", 1)
    repo.delete_alias(NAME, "prod")
    assert repo.rollback_alias(NAME, "prod", expected_revision=0).revision == 3


# --- compare-and-set ---------------------------------------------------------------------------
def test_a_stale_expected_revision_writes_nothing(backend: Backend, published: Repository) -> None:
    repo = published
    for version in (1, 2, 3):
        repo.put_alias(NAME, "prod", version)
    before = backend.state()
    with raises_versioned(exc.RevisionMismatchError) as info:
        repo.rollback_alias(NAME, "prod", expected_revision=2)
    error = info.value
    assert (error.name, error.alias, error.expected, error.current) == (NAME, "prod", 2, 3)
    assert error.current_target == "version 3"
    assert "revision 3" in str(error) and "version 3" in str(error)
    assert backend.state() == before
    rolled = repo.rollback_alias(NAME, "prod", expected_revision=3)
    assert (rolled.version, rolled.revision) == ("2", 4)


@pytest.mark.parametrize("bad", [-1, "3", 2.0, True])
def test_a_bad_expected_revision_is_refused_up_front(
    backend: Backend, published: Repository, bad: object
) -> None:
    published.put_alias(NAME, "prod", 1)
    published.put_alias(NAME, "prod", 2)
    before = backend.state()
    with pytest.raises((exc.InvalidArgumentError, exc.InvalidArgumentTypeError)):
        published.rollback_alias(NAME, "prod", expected_revision=bad)
    assert backend.state() == before


@pytest.mark.parametrize("round_", range(3))
def test_two_on_call_engineers_press_rollback_at_once(
    backend: Backend, published: Repository, round_: int
) -> None:
    """Both saw the bad canary at revision R and roll back with expected_revision=R:
    exactly one rollback lands; the other is refused and the canary stays out."""
    repo = published
    repo.put_alias(NAME, "prod", 5)
    repo.put_alias(NAME, "prod", 5, secondary_version=6, secondary_version_weight=20)
    seen = repo.get_alias(NAME, "prod").revision
    outcomes: dict[str, BaseException | int] = {}
    start = threading.Barrier(2)

    def press(who: str) -> None:
        mine = backend.new_repository()
        mine.list_aliases(NAME)  # warm: race the writes, not the set-up
        start.wait()
        try:
            rolled = mine.rollback_alias(NAME, "prod", expected_revision=seen, reason=who)
            outcomes[who] = rolled.revision
        except BaseException as error:
            outcomes[who] = error

    threads = [threading.Thread(target=press, args=(who,)) for who in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    won = [who for who, outcome in outcomes.items() if outcome == seen + 1]
    lost = [o for o in outcomes.values() if isinstance(o, exc.RevisionMismatchError)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert _state(repo) == AliasState("5")
    changes = repo.list_alias_history(NAME, "prod")
    assert [(c.revision, c.action, c.reason) for c in changes[:2]] == [
        (seen + 1, "rollback", won[0]),
        (seen, "set", None),
    ]
    assert repo.verify_alias_history(NAME, "prod").ok


# --- retention keeps what the rule needs -------------------------------------------------------
def test_retention_keeps_what_successive_rollbacks_restore(published: Repository) -> None:
    """The rule may reach past the previous revision (a re-set of the same version, a
    weight change): retention keeps what ``keep_rollback_targets`` rollbacks in a row
    restore, so each of them works after a purge."""
    repo = published
    for version in (1, 2, 3, 3):
        repo.put_alias(NAME, "prod", version)
    repo.purge_artifact_versions(NAME, 0, 0, keep_rollback_targets=2)
    assert sorted(v.version for v in repo.list_artifact_versions(NAME)) == ["1", "2", "3", "LATEST"]
    repo.purge_artifact_versions(NAME, 0, 0, keep_rollback_targets=1)
    assert sorted(v.version for v in repo.list_artifact_versions(NAME)) == ["2", "3", "LATEST"]
    assert repo.rollback_alias(NAME, "prod").version == "2"
    with raises_versioned(exc.VersionDeletedError):
        repo.rollback_alias(NAME, "prod")  # beyond one rollback: purged, restorable
    repo.restore_artifact_version(NAME, 1)
    assert repo.rollback_alias(NAME, "prod").version == "1"


def test_retention_keeps_a_rule_target_older_than_the_previous_revision(
    published: Repository,
) -> None:
    repo = published
    for version in (1, 2, 2):
        repo.put_alias(NAME, "prod", version)
    repo.purge_artifact_versions(NAME, 0, 0)  # keep_rollback_targets=1
    assert "1" in [v.version for v in repo.list_artifact_versions(NAME)]
    assert repo.rollback_alias(NAME, "prod").version == "1"
