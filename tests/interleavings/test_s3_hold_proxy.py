"""The holding proxy does what the interleaving tests rely on (plain boto3 through it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.faults.proxy import DYNAMODB_WRITES, Fault, FaultProxy, Hold
from tests.helpers import REGION, Engines, S3Backend
from tests.interleavings.s3_explorer import Worker, World, hold_proxy
from versioned.stores.s3.lease import HEARTBEAT_UPDATE


@pytest.fixture(scope="module")
def proxy(engines: Engines) -> Iterator[FaultProxy]:
    with hold_proxy(engines) as held:
        yield held


@pytest.fixture
def table(make_s3_backend: Callable[[], S3Backend]) -> tuple[str, Any]:
    backend = make_s3_backend()
    return backend.table, backend.dynamodb


def _through(proxy: FaultProxy) -> Any:
    config = Config(retries={"total_max_attempts": 3, "mode": "standard"})  # type: ignore[typeddict-item]
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=proxy.url, config=config)


def _put(client: Any, table: str, sk: str) -> Callable[[], object]:
    item = {"pk": {"S": "p"}, "sk": {"S": sk}}
    return lambda: client.put_item(TableName=table, Item=item)


def _exists(direct: Any, table: str, sk: str) -> bool:
    key = {"pk": {"S": "p"}, "sk": {"S": sk}}
    return "Item" in direct.get_item(TableName=table, Key=key, ConsistentRead=True)


@pytest.mark.parametrize("mode, applied_while_held", [("before", False), ("lost", True)])
def test_a_held_request_lands_when_its_mode_says(
    proxy: FaultProxy, table: tuple[str, Any], mode: str, applied_while_held: bool
) -> None:
    name, direct = table
    client = _through(proxy)
    proxy.arm(None, Hold(operation="PutItem", mode=mode))
    worker = Worker(_put(client, name, "a"))
    worker.start()
    assert proxy.wait_held(10)
    assert _exists(direct, name, "a") == applied_while_held
    assert worker.is_alive(), "the client got an answer while its request was held"
    proxy.release()
    worker.join(30)
    assert worker.error is None and _exists(direct, name, "a")
    # a lost answer makes botocore send the request again; the resend is not held
    assert proxy.operations() == ["PutItem"] * (2 if mode == "lost" else 1)


def test_freeze_holds_every_later_request_and_die_drops_them(
    proxy: FaultProxy, table: tuple[str, Any]
) -> None:
    name, direct = table
    client = _through(proxy)
    proxy.arm(None, Hold(operation=DYNAMODB_WRITES, after="GetItem", mode="freeze", die=True))
    client.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "x"}})
    first, second = Worker(_put(client, name, "b")), Worker(_put(client, name, "c"))
    first.start()
    assert proxy.wait_held(10) and proxy.held_operation == "PutItem"
    second.start()
    second.join(0.5)
    assert second.is_alive(), "a later request of a frozen client went through"
    proxy.release()
    first.join(60)
    second.join(60)
    assert _exists(direct, name, "b"), "the held request was on the wire: it lands"
    assert not _exists(direct, name, "c"), "a dead client's later request landed"
    for worker in (first, second):
        assert isinstance(worker.error, (BotoCoreError, ClientError)), worker.error


def _beat(client: Any, table: str) -> Callable[[], object]:
    """The request the lease heartbeat sends (its update expression, to the letter)."""
    return lambda: client.update_item(
        TableName=table,
        Key={"pk": {"S": "p"}, "sk": {"S": "beat"}},
        UpdateExpression=HEARTBEAT_UPDATE,
        ExpressionAttributeValues={":beat": {"N": "1"}},
    )


def test_lease_beats_are_never_counted_faulted_or_held(
    proxy: FaultProxy, table: tuple[str, Any]
) -> None:
    """How many beats a call sends depends on the machine's speed, so a call recorded on a
    slow machine must point at the same requests as on a fast one."""
    name, direct = table
    client = _through(proxy)
    proxy.arm(Fault(at=1, kind="500", persistent=True), Hold(operation="UpdateItem"))
    _beat(client, name)()  # neither failed nor held, though it is "request 1"
    assert proxy.operations() == [] and proxy.beats() == 1 and not proxy.is_held()
    with pytest.raises(ClientError):
        _put(client, name, "d")()  # the first counted request is the one failed
    assert proxy.injected() == [("PutItem", "500")] * 3
    assert _exists(direct, name, "beat") and not _exists(direct, name, "d")


def test_a_renewal_that_is_a_step_of_a_write_is_counted(
    make_s3_backend: Callable[[], S3Backend], engines: Engines
) -> None:
    """A put whose conditional PutObject is refused renews its lease to learn whether it
    still holds it: a fixed step, not a timed beat, so holds and faults must reach it."""
    with hold_proxy(engines) as held_proxy:
        world = World.make(make_s3_backend(), held_proxy)
        world.direct.put_artifact("app", b"x" * 300)
        held_proxy.arm(None, Hold(operation="PutObject"))
        put = Worker(lambda: world.held.put_artifact("app", b"y" * 300))
        put.start()
        assert held_proxy.wait_held(10)
        # bytes land behind the put's back: its PutObject is refused, then it renews
        world.s3.put_object(Bucket=world.backend.bucket, Key=world.key("app", None), Body=b"z")
        held_proxy.release()
        put.join(30)
        assert held_proxy.beats() == 0
        assert held_proxy.operations()[:4] == [
            "UpdateItem",
            "PutObject",
            "UpdateItem",
            "HeadObject",
        ]


def test_a_frozen_client_s_beats_freeze_with_it(proxy: FaultProxy, table: tuple[str, Any]) -> None:
    name, direct = table
    client = _through(proxy)
    proxy.arm(None, Hold(operation="PutItem", mode="freeze"))
    first = Worker(_put(client, name, "e"))
    first.start()
    assert proxy.wait_held(10)
    beat = Worker(_beat(client, name))
    beat.start()
    beat.join(0.5)
    assert beat.is_alive() and not _exists(direct, name, "beat"), "a frozen beat went out"
    proxy.release()
    for worker in (first, beat):
        worker.join(30)
        assert worker.error is None
    assert _exists(direct, name, "beat") and proxy.operations() == ["PutItem"]
