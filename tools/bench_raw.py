"""The raw boto3 baselines ``tools/bench.py`` times each S3 + DynamoDB operation beside:
one S3 request of each kind, and our own DynamoDB requests sent again as we sent them
(reads exactly; writes replayed, moved to partitions of their own: :class:`Replay`)."""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable
from functools import partial
from typing import Any

from botocore import xform_name


def raw_requests(dynamodb: Any, s3: Any) -> dict[str, Callable[[], object]]:
    """One raw boto3 request of each kind our operations send.

    moto answers a conditional UpdateItem or a CopyObject more slowly than a GetItem, so
    next to "requests x GetItem" each operation is also shown next to the very same
    requests made with raw boto3: that ratio is what this library adds.
    """
    table, bucket = "bench", "bench-raw-requests"
    s3.create_bucket(Bucket=bucket)
    body = b"x" * 64
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="source", Body=body)
    item = {"pk": {"S": "raw-bench"}, "sk": {"S": "LATEST"}}
    dynamodb.put_item(TableName=table, Item={**item, "n": {"N": "0"}})
    serial = [0]

    def fresh_key() -> dict[str, Any]:
        serial[0] += 1
        return {"pk": {"S": "raw-bench"}, "sk": {"S": f"{serial[0]:06d}"}}

    update = {
        "TableName": table,
        "Key": item,
        "UpdateExpression": "SET n = n + :one",
        "ConditionExpression": "attribute_exists(n)",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
        "ReturnValues": "ALL_NEW",
    }
    requests: dict[str, Callable[[], object]] = {
        "GetItem": lambda: dynamodb.get_item(TableName=table, Key=item, ConsistentRead=True),
        "Query": lambda: dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "raw-bench"}},
            ConsistentRead=True,
        ),
        "UpdateItem": lambda: dynamodb.update_item(**update),
        "PutItem": lambda: dynamodb.put_item(
            TableName=table,
            Item=fresh_key(),
            ConditionExpression="attribute_not_exists(sk)",
        ),
        "TransactWriteItems": lambda: dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": fresh_key()}},
                {"Update": {k: v for k, v in update.items() if k != "ReturnValues"}},
            ]
        ),
        "PutObject": lambda: s3.put_object(
            Bucket=bucket, Key="target", Body=body, ChecksumSHA256=checksum
        ),
        "CopyObject": lambda: s3.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": "source"},
            ChecksumAlgorithm="SHA256",
        ),
        "GetObject": lambda: s3.get_object(Bucket=bucket, Key="source")["Body"].read(),
        "HeadObject": lambda: s3.head_object(Bucket=bucket, Key="source"),
    }
    return requests


#: DynamoDB reads the baseline sends exactly as we sent them: a read changes nothing, so
#: the same request reads the same rows every time (a Query of another partition, with
#: other items in it, would measure the data and not what this library adds).
EXACT_READS = ("GetItem", "Query", "BatchGetItem")


def exact_read(dynamodb: Any, read: tuple[str, dict[str, Any]]) -> Callable[[], object]:
    """The raw boto3 call of one read we sent, with the same parameters."""
    operation, params = read
    method = getattr(dynamodb, xform_name(operation))
    return lambda: method(**params)


#: the partition a replay writes in, beside the one we wrote in
MOVED = "replay#"


def partitions_of(requests: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """Every ``pk`` the requests' keys and items name."""
    found = set()
    for operation, params in requests:
        for body in _bodies(operation, params):
            for field in ("Key", "Item"):
                if field in body:
                    found.add(body[field]["pk"]["S"])
    return found


def read_partitions(dynamodb: Any, table: str, partitions: set[str]) -> dict[str, list[Any]]:
    """Every item of each partition, as stored now."""
    items: dict[str, list[Any]] = {}
    for pk in partitions:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        )
        items[pk] = [item for page in pages for item in page["Items"]]
    return items


class Replay:
    """Our DynamoDB writes of one operation, sent again exactly (same operation,
    expressions, values and items) and in order, with every ``pk`` moved to
    ``replay#<pk>`` in the same table; :meth:`prepare` (not timed) first makes those moved
    partitions hold what ours held before our requests (``before``: every item of each
    partition they touch). So each replayed request meets the state ours met, does the
    same work, and must succeed as ours did; and it never changes what the library reads.
    """

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        before: dict[str, list[Any]],
        requests: list[tuple[str, dict[str, Any]]],
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._before = {
            MOVED + pk: [_moved(item) for item in items] for pk, items in before.items()
        }
        self._sends = []
        for operation, params in requests:
            moved = copy.deepcopy(params)
            # a token of its own each time, as ours had (botocore makes one when absent):
            # a resent token is answered from the first call's result, or refused
            moved.pop("ClientRequestToken", None)
            for body in _bodies(operation, moved):
                for field in ("Key", "Item"):
                    if field in body:
                        body[field] = _moved(body[field])
            self._sends.append(partial(getattr(dynamodb, xform_name(operation)), **moved))

    def prepare(self) -> None:
        """The moved partitions back to what ours held before our requests."""
        now = read_partitions(self._dynamodb, self._table, set(self._before))
        for items in now.values():
            for item in items:
                key = {"pk": item["pk"], "sk": item["sk"]}
                self._dynamodb.delete_item(TableName=self._table, Key=key)
        for items in self._before.values():
            for item in items:
                self._dynamodb.put_item(TableName=self._table, Item=item)

    def __call__(self) -> None:
        for send in self._sends:
            send()


def _bodies(operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    if operation == "TransactWriteItems":
        return [next(iter(action.values())) for action in params["TransactItems"]]
    return [params]


def _moved(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "pk": {"S": MOVED + item["pk"]["S"]}}


def one_after_another(
    sends: list[Callable[[], object]], prepare: Callable[[], object] | None = None
) -> Callable[[], None]:
    """One call that sends each of ``sends`` in order; ``prepare``, if given, is what
    :func:`tools.bench.paired_timings` runs (not timed) before each call."""

    def send_all() -> None:
        for send in sends:
            send()

    send_all.prepare = prepare  # type: ignore[attr-defined]
    return send_all
