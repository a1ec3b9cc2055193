"""Model-based test: random operation sequences on each backend against an in-memory model.

After every step the backend's result (or the type of error it raised) must equal what
the model of the rules (docs/api.md, design.md) predicts, and so must the listing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.helpers import BACKENDS, Repository, new_backend
from versioned import exc

NAMES = st.sampled_from(["a", "b"])
ALIASES = st.sampled_from(["prod", "dev"])
VERSIONS = st.sampled_from([None, 1, 2, 3])
CONTENTS = st.sampled_from([b"x", b"y" * 10, b"z" * 100])
LATEST = None


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shown(version: int | None) -> str:
    return "LATEST" if version is None else str(version)


class Model:
    """The rules, in memory: versions (LATEST is None) with deleted flags, and aliases."""

    def __init__(self) -> None:
        self.versions: dict[str, dict[int | None, tuple[bytes, bool]]] = {}
        self.aliases: dict[str, dict[str, tuple[int | None, int | None, int | None]]] = {}
        #: every state each alias had, in order (None: deleted), for what retention keeps
        self.history: dict[str, dict[str, list[tuple[int | None, int | None, int | None] | None]]]
        self.history = {}

    def live(self, name: str, version: int | None) -> bytes:
        """The content of a live version; raises ArtifactNotFoundError."""
        found = self.versions.get(name, {}).get(version)
        if found is None or found[1]:
            raise exc.ArtifactNotFoundError("model", name=name)
        return found[0]

    def put(self, name: str, data: bytes) -> tuple[str, str]:
        self.versions.setdefault(name, {})[LATEST] = (data, False)
        return "LATEST", sha(data)

    def publish(self, name: str) -> tuple[str, str]:
        data = self.live(name, LATEST)
        numbers = [v for v in self.versions[name] if v is not None]
        number = max(numbers, default=0) + 1
        self.versions[name][number] = (data, False)
        return str(number), sha(data)

    def users(self, name: str, version: int | None) -> list[str]:
        return [a for a, state in self.aliases.get(name, {}).items() if version in targets(state)]

    def rollback_targets(self, name: str) -> set[int | None]:
        """What retention keeps (keep_rollback_targets=1): each alias's current targets,
        those of the revision before, and those a rollback would restore; a deleted
        alias's too (its current one is the delete)."""
        kept: set[int | None] = set()
        for states in self.history.get(name, {}).values():
            for state in states[-2:]:
                kept.update(targets(state))
            kept.update(targets(rule_target(states)))
        return kept

    def delete(self, name: str, version: int | None) -> None:
        found = self.versions.get(name, {}).get(version)
        if found is None or found[1]:
            return  # idempotent, as in 1.0.1: nothing to delete
        if self.users(name, version):
            raise exc.VersionInUseError("model", name=name, version="", aliases=[])
        self.versions[name][version] = (found[0], True)

    def restore(self, name: str, version: int | None) -> tuple[str, str]:
        found = self.versions.get(name, {}).get(version)
        if found is None:
            raise exc.ArtifactNotFoundError("model", name=name)
        self.versions[name][version] = (found[0], False)
        return shown(version), sha(found[0])

    def put_alias(
        self, name: str, alias: str, version: int | None, secondary: int | None, weight: int | None
    ) -> tuple[str, str | None, int | None]:
        self.live(name, version)
        if secondary is not None:
            self.live(name, secondary)
        self.aliases.setdefault(name, {})[alias] = (version, secondary, weight)
        self.history.setdefault(name, {}).setdefault(alias, []).append((version, secondary, weight))
        return shown(version), None if secondary is None else shown(secondary), weight

    def purge_versions(self, name: str, keep: int) -> list[str]:
        published = sorted(
            (v for v, (_, deleted) in self.versions.get(name, {}).items() if v and not deleted),
            reverse=True,
        )
        gone = [v for v in published[keep:] if v not in self.rollback_targets(name)]
        for number in gone:
            self.versions[name][number] = (self.versions[name][number][0], True)
        return [str(v) for v in gone]

    def listing(self, name: str) -> list[tuple[str, str]]:
        live = [v for v, (_, deleted) in self.versions.get(name, {}).items() if not deleted]
        ordered = sorted(live, key=lambda v: (v is not None, -(v or 0)))
        return [(shown(v), sha(self.versions[name][v][0])) for v in ordered]


def rule_target(
    states: list[tuple[int | None, int | None, int | None] | None],
) -> tuple[int | None, int | None, int | None] | None:
    """Where a rollback would go (no rollbacks in this model's histories): on the history
    where a change that sets a state one of the 20 changes before it set goes back to
    that state (the changes between undone), the newest earlier state serving none of
    the versions the current one introduced; for a deleted alias, its last state."""
    effective: list[tuple[int | None, int | None, int | None] | None] = []
    for index, state in enumerate(states):
        returns = state is not None and state in states[max(0, index - 20) : index]
        if returns and state in effective:
            del effective[len(effective) - effective[::-1].index(state) :]
        else:
            effective.append(state)
    if not effective:
        return None
    *earlier, now = effective
    if now is None:
        return next((s for s in reversed(earlier) if s is not None), None)
    current = set(targets(now))
    new: set[int | None] = set()
    for state in reversed(earlier):
        present = set(targets(state))
        new = new or current - present
        if new and state is not None and not present & new:
            return state
    return None


def targets(state: tuple[int | None, int | None, int | None] | None) -> list[int | None]:
    """The versions an alias state points at (a secondary only with a weight)."""
    if state is None:
        return []
    version, secondary, weight = state
    return [version] if weight is None else [version, secondary]


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or the type of the ``versioned`` error it raised."""
    try:
        return call()
    except exc.VersionedError as error:
        return type(error)


def check_same(real: Callable[[], Any], model: Callable[[], Any]) -> None:
    """Run both; their results (or error types) must agree."""
    expected = outcome(model)
    actual = outcome(real)
    assert actual == expected, f"backend gave {actual!r}, model {expected!r}"


class RepositoryMachine(RuleBasedStateMachine):
    """One backend, one model, the same random operations on both."""

    make_repo: Callable[[], Repository]

    @initialize()
    def fresh(self) -> None:
        self.repo = type(self).make_repo()
        self.model = Model()

    @rule(name=NAMES, data=CONTENTS)
    def put(self, name: str, data: bytes) -> None:
        check_same(
            lambda: (lambda a: (a.version, a.sha256))(self.repo.put_artifact(name, data)),
            lambda: self.model.put(name, data),
        )

    @rule(name=NAMES)
    def publish(self, name: str) -> None:
        check_same(
            lambda: (lambda a: (a.version, a.sha256))(self.repo.publish_artifact_version(name)),
            lambda: self.model.publish(name),
        )

    @rule(name=NAMES, version=VERSIONS)
    def get(self, name: str, version: int | None) -> None:
        check_same(
            lambda: self.repo.get_artifact_version(name, version).get_content(),
            lambda: self.model.live(name, version),
        )

    @rule(name=NAMES, version=VERSIONS)
    def delete(self, name: str, version: int | None) -> None:
        check_same(
            lambda: self.repo.delete_artifact_version(name, version),
            lambda: self.model.delete(name, version),
        )

    @rule(name=NAMES, version=VERSIONS)
    def restore(self, name: str, version: int | None) -> None:
        check_same(
            lambda: (lambda a: (a.version, a.sha256))(
                self.repo.restore_artifact_version(name, version)
            ),
            lambda: self.model.restore(name, version),
        )

    @rule(
        name=NAMES,
        alias=ALIASES,
        version=VERSIONS,
        secondary=VERSIONS,
        weight=st.integers(0, 99),
        split=st.booleans(),
    )
    def put_alias(
        self,
        name: str,
        alias: str,
        version: int | None,
        secondary: int | None,
        weight: int,
        split: bool,
    ) -> None:
        if not split or secondary is None or secondary == version:
            secondary, weight_or_none = None, None
        else:
            weight_or_none = weight
        check_same(
            lambda: (lambda a: (a.version, a.secondary_version, a.secondary_version_weight))(
                self.repo.put_alias(name, alias, version, secondary, weight_or_none)
            ),
            lambda: self.model.put_alias(name, alias, version, secondary, weight_or_none),
        )

    @rule(name=NAMES, alias=ALIASES)
    def delete_alias(self, name: str, alias: str) -> None:
        self.repo.delete_alias(name, alias)
        if self.model.aliases.get(name, {}).pop(alias, None) is not None:
            self.model.history[name][alias].append(None)

    @rule(name=NAMES, keep=st.integers(0, 3))
    def purge_versions(self, name: str, keep: int) -> None:
        check_same(
            lambda: sorted(
                a.version
                for a in self.repo.purge_artifact_versions(
                    name, keep_last_n=keep, purge_older_than_secs=0
                )[1]
            ),
            lambda: sorted(self.model.purge_versions(name, keep)),
        )

    @rule(name=NAMES)
    def purge_artifact(self, name: str) -> None:
        self.repo.purge_artifact(name)
        self.model.versions.pop(name, None)
        self.model.aliases.pop(name, None)
        self.model.history.pop(name, None)

    @invariant()
    def listings_agree(self) -> None:
        if not hasattr(self, "repo"):
            return
        for name in ("a", "b"):
            listed = [(a.version, a.sha256) for a in self.repo.list_artifact_versions(name)]
            assert listed == self.model.listing(name), name
            aliases = {
                a.alias: (a.version, a.secondary_version, a.secondary_version_weight)
                for a in self.repo.list_aliases(name)
            }
            expected = {
                alias: (shown(v), None if s is None else shown(s), w)
                for alias, (v, s, w) in self.model.aliases.get(name, {}).items()
            }
            assert aliases == expected, name
        names = sorted(n for n, versions in self.model.versions.items() if versions)
        assert self.repo.list_artifact_names() == names


@pytest.mark.parametrize("kind", BACKENDS)
def test_backend_follows_the_model(request: pytest.FixtureRequest, kind: str) -> None:
    machine = type(
        f"{kind.title()}Machine",
        (RepositoryMachine,),
        {"make_repo": staticmethod(lambda: new_backend(request, kind).repo)},
    )
    machine.TestCase.settings = settings(
        max_examples=30 if kind == "local" else 20,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()
