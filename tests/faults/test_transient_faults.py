"""Every request of every S3 + DynamoDB write, failed in turn, every way (invariant 5).

For each write operation the test first records the requests it makes, then, for each of
those requests, starts from the same state on a fresh artifact, fails that request (once,
or every time it is retried) and checks that:

- the call either succeeded or raised a ``versioned.exc`` error (never a botocore one);
- every storage invariant holds right away (an in-doubt put may hold LATEST's lease);
- the same call, retried with faults off, succeeds, and its effect is visible.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.faults.conftest import call_with_fault
from tests.faults.proxy import Fault, FaultProxy
from tests.helpers import Repository, raises_versioned
from tests.invariants import S3RawStore, assert_sound
from versioned import exc

V1, V2, V3 = b"one" * 100, b"two" * 100, b"three" * 100


@dataclass(frozen=True)
class Scenario:
    """A write to fault: the state before it, the call, and what must hold after a retry."""

    #: extra set-up after the common one (LATEST=V3, versions 1=V1, 2=V2, prod -> 1)
    prepare: Callable[[Repository, str], None]
    call: Callable[[Repository, str], object]
    check: Callable[[Repository, str], None]
    #: a count the call must raise by exactly one when it succeeds (None: not counted)
    effect: Callable[[Repository, str], int] | None = None


def _nothing(repo: Repository, name: str) -> None:
    return None


def _latest_is(content: bytes | None) -> Callable[[Repository, str], None]:
    def check(repo: Repository, name: str) -> None:
        expected = content if content is not None else NEW_CONTENT[name]
        assert repo.get_artifact_version(name).get_content() == expected

    return check


NEW_CONTENT: dict[str, bytes] = {}


def _put_new(repo: Repository, name: str) -> object:
    return repo.put_artifact(name, NEW_CONTENT.setdefault(name, os.urandom(300)))


def _published_latest(repo: Repository, name: str) -> None:
    newest = repo.list_artifact_versions(name)[1]
    assert int(newest.version) >= 3
    assert newest.get_content() == V3


def _canary_set(repo: Repository, name: str) -> None:
    alias = repo.get_alias(name, "canary")
    assert (alias.version, alias.secondary_version, alias.secondary_version_weight) == (
        "2",
        "1",
        20,
    )
    assert alias.get_secondary_version_content() == V1


def _gone(version: int) -> Callable[[Repository, str], None]:
    def check(repo: Repository, name: str) -> None:
        with raises_versioned(exc.ArtifactNotFoundError):
            repo.get_artifact_version(name, version)

    return check


def _v2_back(repo: Repository, name: str) -> None:
    assert repo.get_artifact_version(name, 2).get_content() == V2


def _purged(repo: Repository, name: str) -> None:
    assert repo.list_artifact_versions(name) == []
    assert repo.list_aliases(name) == []
    assert name not in repo.list_artifact_names()


SCENARIOS: dict[str, Scenario] = {
    "put_new": Scenario(_nothing, _put_new, _latest_is(None)),
    "put_identical": Scenario(_nothing, lambda r, n: r.put_artifact(n, V3), _latest_is(V3)),
    "publish": Scenario(
        _nothing,
        lambda r, n: r.publish_artifact_version(n),
        _published_latest,
        effect=lambda r, n: len(r.list_artifact_versions(n)),
    ),
    "put_alias_split": Scenario(
        _nothing,
        lambda r, n: r.put_alias(n, "canary", 2, secondary_version=1, secondary_version_weight=20),
        _canary_set,
    ),
    "delete_version": Scenario(_nothing, lambda r, n: r.delete_artifact_version(n, 2), _gone(2)),
    "restore_version": Scenario(
        lambda r, n: r.delete_artifact_version(n, 2),
        lambda r, n: r.restore_artifact_version(n, 2),
        _v2_back,
    ),
    "purge_versions": Scenario(
        _nothing,
        lambda r, n: r.purge_artifact_versions(n, keep_last_n=0, purge_older_than_secs=0),
        _gone(2),
    ),
    "purge_artifact": Scenario(_nothing, lambda r, n: r.purge_artifact(n), _purged),
}

#: (kind, persistent): every kind of fault is injected; the two connection faults (never
#: applied / applied but unanswered) both ways. 500 vs 503 and the two DynamoDB throttling
#: errors take the same path in botocore, so each pair is split between the two ways.
FAULT_MODES = [(kind, False) for kind in ("503", "throttle", "drop", "lost")]
FAULT_MODES += [(kind, True) for kind in ("500", "throughput", "drop", "lost")]

_counter = itertools.count()


def prepare(repo: Repository, proxy: FaultProxy, scenario: Scenario) -> str:
    """A fresh artifact in the common starting state, made with faults off."""
    proxy.arm(None)
    name = f"art{next(_counter)}"
    repo.put_artifact(name, V1)
    repo.publish_artifact_version(name)
    repo.put_artifact(name, V2)
    repo.publish_artifact_version(name)
    repo.put_artifact(name, V3)
    repo.put_alias(name, "prod", 1)
    scenario.prepare(repo, name)
    return name


def record_requests(repo: Repository, proxy: FaultProxy, scenario: Scenario) -> list[str]:
    """The operations the scenario's call makes when nothing fails."""
    name = prepare(repo, proxy, scenario)
    proxy.arm(None)
    scenario.call(repo, name)
    operations = proxy.operations()
    scenario.check(repo, name)
    return operations


def run_with_fault(
    repo: Repository, raw: S3RawStore, proxy: FaultProxy, scenario: Scenario, fault: Fault
) -> str:
    """Run the scenario with ``fault`` armed and check invariant 5; return what happened."""
    name = prepare(repo, proxy, scenario)
    before = scenario.effect(repo, name) if scenario.effect else 0
    outcome, injected = call_with_fault(proxy, fault, lambda: scenario.call(repo, name))
    where = f"after {fault} on {injected[0][0]} ({outcome})"
    assert_sound(raw, names=[name], context=where)
    if scenario.effect and outcome == "succeeded":
        done = scenario.effect(repo, name) - before
        assert done == 1, f"one successful call had {done} effects {where}"
    scenario.call(repo, name)
    scenario.check(repo, name)
    assert_sound(raw, names=[name], context=f"after retrying, {where}")
    return outcome


CASES = [
    pytest.param(
        kind,
        persistent,
        scenario,
        id=f"{scenario}-{kind}-{'persistent' if persistent else 'once'}",
    )
    for kind, persistent in FAULT_MODES
    for scenario in sorted(SCENARIOS)
]


@pytest.mark.parametrize(("kind", "persistent", "scenario_name"), CASES)
def test_each_request_failed_in_turn(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]],
    fault_proxy: FaultProxy,
    fast_retries: None,
    scenario_name: str,
    kind: str,
    persistent: bool,
) -> None:
    scenario = SCENARIOS[scenario_name]
    # persistent faults fail every attempt: two are enough to show it, and quicker
    repo, raw = make_faulty_repo(retry_attempts=2 if persistent else 3)
    operations = record_requests(repo, fault_proxy, scenario)
    assert operations, f"{scenario_name} made no requests"
    outcomes: dict[str, str] = {}
    for index, operation in enumerate(operations, start=1):
        fault = Fault(at=index, kind=kind, persistent=persistent)
        outcomes[f"{index}:{operation}"] = run_with_fault(repo, raw, fault_proxy, scenario, fault)
    if not persistent:
        # one failure is retried by botocore: every call must simply succeed
        assert set(outcomes.values()) == {"succeeded"}, outcomes


def test_retry_attempts_one_surfaces_a_single_503(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]], fault_proxy: FaultProxy
) -> None:
    repo, _ = make_faulty_repo(retry_attempts=1)
    repo.put_artifact("one", V1)
    fault_proxy.arm(Fault(at=1, kind="503"))
    with raises_versioned(exc.BackendError) as info:
        repo.get_artifact_version("one")
    assert fault_proxy.injected() == [("GetItem", "503")]
    assert info.value.__cause__ is not None
    fault_proxy.arm(None)
    assert repo.get_artifact_version("one").get_content() == V1


@pytest.mark.parametrize("mode", ["standard", "adaptive", "legacy"])
def test_default_attempts_retry_a_503_transparently(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]],
    fault_proxy: FaultProxy,
    fast_retries: None,
    mode: str,
) -> None:
    repo, _ = make_faulty_repo(retry_mode=mode)
    repo.put_artifact("one", V1)
    fault_proxy.arm(Fault(at=1, kind="503"))
    assert repo.get_artifact_version("one").get_content() == V1
    assert fault_proxy.operations() == ["GetItem", "GetItem", "GetObject"]
    assert fault_proxy.injected() == [("GetItem", "503")]


@pytest.mark.parametrize("attempts", [2, 4])
def test_retry_attempts_bounds_the_requests(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]],
    fault_proxy: FaultProxy,
    fast_retries: None,
    attempts: int,
) -> None:
    repo, _ = make_faulty_repo(retry_attempts=attempts)
    repo.put_artifact("one", V1)
    fault_proxy.arm(Fault(at=1, kind="500", persistent=True))
    with raises_versioned(exc.BackendError):
        repo.get_artifact_version("one")
    assert fault_proxy.operations() == ["GetItem"] * attempts


def test_s3_operations_are_named(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]], fault_proxy: FaultProxy
) -> None:
    """The proxy names the requests its rules select (so the rules can be trusted)."""
    repo, _ = make_faulty_repo()
    fault_proxy.arm(None)
    repo.put_artifact("named", V1)
    repo.publish_artifact_version("named")
    repo.list_artifact_names()
    repo.purge_artifact("named")
    seen = set(fault_proxy.operations())
    expected = {"UpdateItem", "PutObject", "CopyObject", "PutItem", "ListObjectsV2"}
    assert expected | {"Query", "BatchWriteItem", "DeleteObject"} <= seen, seen


def test_lost_lease_answer_does_not_stall_the_put(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]],
    fault_proxy: FaultProxy,
    fast_retries: None,
) -> None:
    """A put whose lease request was applied but unanswered must not wait out its own lease."""
    repo, raw = make_faulty_repo(lease_seconds=8.0)
    repo.put_artifact("stall", V1)
    fault_proxy.arm(Fault(at=1, kind="lost"))
    started = time.monotonic()
    repo.put_artifact("stall", V2)
    elapsed = time.monotonic() - started
    assert fault_proxy.injected() == [("UpdateItem", "lost")]
    assert elapsed < 4.0, f"the put waited {elapsed:.1f} s for the lease it already held"
    assert repo.get_artifact_version("stall").get_content() == V2
    assert_sound(raw, names=["stall"])
