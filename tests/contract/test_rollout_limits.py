"""Rollout durations past any calendar are bad input: refused before anything is written
(a hold of 1e20 s once wrote the alias's first step, then failed computing when the
next action was due, leaving the rollout stuck at step 0)."""

from __future__ import annotations

import pytest

from tests.helpers import Repository
from versioned import exc


def _two_versions(repo: Repository) -> None:
    for content in (b"one", b"two"):
        repo.put_artifact("app", content)
        repo.publish_artifact_version("app")
    repo.put_alias("app", "prod", 1)


@pytest.mark.parametrize(
    "option", [{"hold_seconds": 1e20}, {"bake_seconds": 1e20}, {"check_timeout_seconds": 1e20}]
)
def test_a_duration_past_any_calendar_is_refused_and_nothing_is_written(
    repo: Repository, option: dict[str, float]
) -> None:
    _two_versions(repo)
    with pytest.raises(exc.InvalidArgumentError, match="at most"):
        repo.rollouts().start("app", "prod", 2, steps="10,100", check="true", **option)
    alias = repo.get_alias("app", "prod")
    assert (alias.version, alias.secondary_version, alias.revision) == ("1", None, 1)
    assert repo.rollouts().list("app", "prod") == []
