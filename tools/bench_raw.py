"""The raw boto3 baselines ``tools/bench.py`` times each S3 + DynamoDB operation beside:
one request of each kind, a transaction of the same actions, and our own reads sent again
exactly as we sent them."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
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


def raw_transaction(dynamodb: Any, table: str, actions: list[str]) -> Callable[[], object]:
    """A raw TransactWriteItems of the same actions (Put, Update, ConditionCheck, Delete),
    each on an item of its own in ``table``, rewriting the same items every time.

    moto copies the whole table once per action of a transaction, so its cost grows with
    the table and the number of actions: only a transaction of the same shape on the same
    table at the same time is a fair baseline.
    """
    partition = {"pk": {"S": "raw-transaction"}}
    checked = {**partition, "sk": {"S": "checked"}}
    dynamodb.put_item(TableName=table, Item=checked)

    def key(kind: str, index: int) -> dict[str, Any]:
        return {**partition, "sk": {"S": f"{kind}-{index}"}}

    shapes: dict[str, Callable[[int], dict[str, Any]]] = {
        "Put": lambda i: {"TableName": table, "Item": {**key("put", i), "n": {"N": "1"}}},
        "Update": lambda i: {
            "TableName": table,
            "Key": key("update", i),
            "UpdateExpression": "SET n = if_not_exists(n, :zero) + :one",
            "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
        },
        "ConditionCheck": lambda i: {
            "TableName": table,
            "Key": checked,
            "ConditionExpression": "attribute_exists(sk)",
        },
        "Delete": lambda i: {"TableName": table, "Key": key("delete", i)},
    }
    items = [{action: shapes[action](i)} for i, action in enumerate(actions)]
    return lambda: dynamodb.transact_write_items(TransactItems=items)


def one_after_another(sends: list[Callable[[], object]]) -> Callable[[], None]:
    """One call that sends each of ``sends`` in order."""

    def send_all() -> None:
        for send in sends:
            send()

    return send_all
