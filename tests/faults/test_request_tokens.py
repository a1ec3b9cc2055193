"""Every TransactWriteItems carries our ClientRequestToken, so a resend is applied once.

A request whose answer is lost (the connection dropped after it arrived) is sent again.
A transaction's conditions are usually about what it writes itself
(``attribute_not_exists`` on a new item), so without a token the resend of a transaction
that was applied meets its own writes and is cancelled. With a token, DynamoDB answers
the resend with the first one's success and applies nothing. botocore fills in a fresh
token per call, which covers its own retries; ours is derived from the transaction, so
the same transaction sent again by a later call (after botocore gave up) is recognised
too. moto ignores tokens; DynamoDB Local honours them, so these run on the real stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.proxy import Fault, FaultProxy
from tests.helpers import STACK, Repository
from tests.invariants import S3RawStore
from versioned import exc
from versioned.stores.s3.place import S3Place

pytestmark = pytest.mark.skipif(STACK == "moto", reason="moto ignores ClientRequestToken")


def _mine(raw: S3RawStore, table: str) -> list[str]:
    """The sort keys of this test's items."""
    found = raw.dynamodb.scan(TableName=table)["Items"]
    return sorted(i["sk"]["S"] for i in found if i["pk"]["S"] == "token-test")


def _place(repo: Repository) -> S3Place:
    place: S3Place = repo._store.place
    return place


def _new_item(table: str, sk: str) -> list[dict[str, Any]]:
    return [
        {
            "Put": {
                "TableName": table,
                "Item": {"pk": {"S": "token-test"}, "sk": {"S": sk}},
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }
    ]


def test_a_transaction_whose_answer_was_lost_is_applied_once(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]],
    fault_proxy: FaultProxy,
    fast_retries: None,
) -> None:
    repo, raw = make_faulty_repo()
    place = _place(repo)
    fault_proxy.arm(Fault(at=1, kind="lost"))
    place.transact(_new_item(place.table, "one"))  # the resend is answered as applied
    assert fault_proxy.injected() == [("TransactWriteItems", "lost")]
    assert fault_proxy.operations() == ["TransactWriteItems", "TransactWriteItems"]
    fault_proxy.arm(None)
    assert _mine(raw, place.table) == ["one"]


def test_a_transaction_sent_again_after_botocore_gave_up_is_applied_once(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]], fault_proxy: FaultProxy
) -> None:
    repo, raw = make_faulty_repo(retry_attempts=1)  # botocore sends each request once
    place = _place(repo)
    actions = _new_item(place.table, "one")
    fault_proxy.arm(Fault(at=1, kind="lost"))
    with pytest.raises(exc.BackendError):
        place.transact(actions)  # applied, but its answer never came
    fault_proxy.arm(None)
    place.transact(actions)  # the same transaction again: answered as applied, not cancelled
    assert _mine(raw, place.table) == ["one"]


def test_each_transaction_gets_its_own_token(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]], fault_proxy: FaultProxy
) -> None:
    """Two different transactions are never mistaken for a resend of each other."""
    repo, raw = make_faulty_repo()
    place = _place(repo)
    place.transact(_new_item(place.table, "one"))
    place.transact(_new_item(place.table, "two"))
    assert _mine(raw, place.table) == ["one", "two"]


def test_an_alias_change_whose_answer_was_lost_lands_once(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]],
    fault_proxy: FaultProxy,
    fast_retries: None,
) -> None:
    repo, _ = make_faulty_repo()
    repo.put_artifact("app", b"one")
    repo.publish_artifact_version("app")
    fault_proxy.arm(Fault(at=1, kind="lost"))
    repo.put_alias("app", "prod", 1)
    injected = fault_proxy.injected()
    fault_proxy.arm(None)
    assert injected and injected[0][1] == "lost"
    history = repo.list_alias_history("app", "prod")
    assert [change.revision for change in history] == [1]
