"""Alias changes and their history under failed requests (issue #10, item 7).

Each alias change (a set, a compare-and-set, a delete, a rollback) is one DynamoDB
transaction holding the alias write and its history entry. Every request the change makes
is failed in turn, every way (an error, throttling, a dropped connection, an answer lost
after the request was applied; once, which botocore retries, or on every attempt), from a
repository object that knows the alias (one request) and from one that does not (two).
Afterwards, on raw storage: the history chain is intact and agrees with the alias item
(no change without its entry, no entry without its change), the change was applied at
most once, and exactly once when the call said it succeeded. A lost answer that botocore
sends again must not turn into a revision mismatch: the resend recognises its own entry.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.alias_chain import history_problems
from tests.faults.conftest import LEASE_SECONDS, call_with_fault
from tests.faults.proxy import Fault, FaultProxy
from tests.helpers import REGION, Repository
from tests.invariants import S3RawStore, assert_sound

_MODES = [(kind, False) for kind in ("503", "throttle", "drop", "lost")]
_MODES += [(kind, True) for kind in ("500", "throughput", "drop", "lost")]
#: A lost answer is the case that matters here (applied, then sent again); the other
#: kinds never reach DynamoDB or are refused before applying, and run with the slow tests.
FAULT_MODES = [
    pytest.param(kind, persistent, marks=() if kind == "lost" else pytest.mark.slow)
    for kind, persistent in _MODES
]


@dataclass(frozen=True)
class Change:
    """An alias change, and where ``prod`` must point once it is applied."""

    call: Callable[[Repository, str], object]
    after: str | None  # prod's version afterwards (None: deleted)


CHANGES: dict[str, Change] = {
    "set": Change(lambda r, n: r.put_alias(n, "prod", 3, reason="deploy"), "3"),
    "compare_and_set": Change(lambda r, n: r.put_alias(n, "prod", 3, expected_revision=2), "3"),
    "delete": Change(lambda r, n: r.delete_alias(n, "prod", expected_revision=2), None),
    "rollback": Change(lambda r, n: r.rollback_alias(n, "prod", reason="bad deploy"), "1"),
}

_names = itertools.count()


def _prepare(repo: Repository, proxy: FaultProxy) -> str:
    """Versions 1-3; prod at revision 2 (on 1, then 2). Made with faults off."""
    proxy.arm(None)
    name = f"hist{next(_names)}"
    for number in range(3):
        repo.put_artifact(name, f"{name} {number}".encode())
        repo.publish_artifact_version(name)
    repo.put_alias(name, "prod", 1)
    repo.put_alias(name, "prod", 2)
    return name


def _entries(raw: S3RawStore, name: str) -> list[dict[str, Any]]:
    return [i for i in raw.partition(f"__{name}-alias#history") if "#" in i["sk"]["S"]]


def _prod(raw: S3RawStore, name: str) -> str | None:
    items = raw.partition(f"__{name}-alias")
    return str(int(items[0]["version"]["S"])) if items else None


def _cold_twin(repo: Repository, retry_attempts: int) -> Repository:
    """Another repository object on the same storage, knowing nothing yet."""
    from versioned.s3_and_dynamodb_backend import Repository as S3Repository

    return S3Repository(
        aws_region=REGION,
        s3_bucket=repo.s3_bucket,
        dynamodb_table_name=repo.dynamodb_table_name,
        lease_seconds=LEASE_SECONDS,
        retry_attempts=retry_attempts,
    )


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
@pytest.mark.parametrize(("kind", "persistent"), FAULT_MODES)
@pytest.mark.parametrize("change_name", sorted(CHANGES))
def test_a_change_and_its_entry_land_together_or_not_at_all(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]],
    fault_proxy: FaultProxy,
    fast_retries: None,
    change_name: str,
    kind: str,
    persistent: bool,
    cold: bool,
) -> None:
    change = CHANGES[change_name]
    attempts = 2 if persistent else 3
    repo, raw = make_faulty_repo(retry_attempts=attempts)
    # what the change sends when nothing fails
    name = _prepare(repo, fault_proxy)
    caller = _cold_twin(repo, attempts) if cold else repo
    fault_proxy.arm(None)
    change.call(caller, name)
    operations = fault_proxy.operations()
    assert operations[-1] == "TransactWriteItems", operations
    outcomes: dict[str, str] = {}
    for index, operation in enumerate(operations, start=1):
        name = _prepare(repo, fault_proxy)
        caller = _cold_twin(repo, attempts) if cold else repo
        if not cold:
            repo.get_alias(name, "prod")  # (faults off) the caller knows prod's state
        fault = Fault(at=index, kind=kind, persistent=persistent)
        call = functools.partial(change.call, caller, name)
        outcome, _ = call_with_fault(fault_proxy, fault, call)
        where = f"{kind} on {index}:{operation} ({outcome})"
        outcomes[f"{index}:{operation}"] = outcome
        assert history_problems(raw.dynamodb, raw.table, name) == [], where
        assert_sound(raw, names=[name], context=where)
        applied = len(_entries(raw, name)) - 2
        assert applied in (0, 1), f"{applied} entries added by one call, {where}"
        assert _prod(raw, name) == (change.after if applied else "2"), where
        if outcome == "succeeded":
            assert applied == 1, f"succeeded without its entry, {where}"
        check = repo.verify_alias_history(name, "prod")
        assert check.ok and check.entries == 2 + applied, (check, where)
    if not persistent:
        # botocore retries one failure, a lost answer included: every call succeeds
        assert set(outcomes.values()) == {"succeeded"}, outcomes
    else:
        assert set(outcomes.values()) <= {"succeeded", "BackendError"}, outcomes
