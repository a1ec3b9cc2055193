"""Where one repository lives on AWS (bucket, prefix, table) and the requests every part makes."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...arguments import version_to_key
from .calls import AwsClients, Refused, call
from .items import item_key, page_start

#: ``head_object`` of a missing key answers 404 (no body, so no error code).
MISSING_OBJECT = ("404", "NoSuchKey")
#: A conditional S3 request whose condition did not hold.
PRECONDITION_FAILED = ("PreconditionFailed", "412")


def request_token(actions: list[dict[str, Any]]) -> str:
    """A ``ClientRequestToken`` (at most 36 characters) that only these actions produce."""
    encoded = json.dumps(actions, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()[:36]


@dataclass
class S3Place:
    """A repository's bucket, prefix, table and suffix, with the request helpers."""

    clients: AwsClients
    bucket: str
    prefix: str
    table: str
    suffix: str
    #: How long a put's (or a purge's, or gc's) hold on LATEST lasts unless renewed.
    lease_seconds: float

    def key(self, name: str, version: int | None) -> str:
        """The object key of a version (``prefix/name/000005{suffix}``)."""
        return f"{self.prefix}/{name}/{version_to_key(version)}{self.suffix}"

    def uri(self, key: str) -> str:
        """The ``s3://`` address of an object key."""
        return f"s3://{self.bucket}/{key}"

    def ddb(self, operation: str, *, expect: tuple[str, ...] = (), **params: Any) -> Any:
        """One DynamoDB request on the repository's table (see :func:`calls.call`)."""
        return call(self.clients.dynamodb, operation, expect=expect, TableName=self.table, **params)

    def s3(self, operation: str, *, expect: tuple[str, ...] = (), **params: Any) -> Any:
        """One S3 request on the repository's bucket (see :func:`calls.call`)."""
        return call(self.clients.s3, operation, expect=expect, Bucket=self.bucket, **params)

    def transact(self, actions: list[dict[str, Any]]) -> None:
        """One TransactWriteItems, applied at most once however often it is sent.

        Raises Refused (``TransactionCanceledException``: its ``CancellationReasons`` say
        which condition failed) and what :func:`calls.call` does.

        The ``ClientRequestToken`` is derived from the actions themselves: sending the same
        transaction again (botocore's retry after a lost answer, or a later call after
        botocore gave up) within DynamoDB's 10 minutes is answered as applied instead of
        being cancelled by its own writes, and any other transaction gets another token.
        Callers must therefore never send the very same actions as two distinct changes;
        alias changes cannot, as each writes a history entry keyed by its revision.
        """
        call(
            self.clients.dynamodb,
            "transact_write_items",
            expect=("TransactionCanceledException",),
            TransactItems=actions,
            ClientRequestToken=request_token(actions),
        )

    def get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The item (strongly consistent), or None."""
        item: dict[str, Any] | None = self.ddb(
            "get_item", Key=item_key(pk, sk), ConsistentRead=True
        ).get("Item")
        return item

    def query_all(self, pk: str, **extra: Any) -> Iterator[dict[str, Any]]:
        """Every item of a partition (strongly consistent), page by page."""
        start: dict[str, Any] | None = None
        while True:
            page = self.ddb(
                "query",
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ConsistentRead=True,
                **page_start("ExclusiveStartKey", start),
                **extra,
            )
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object under ``prefix`` (key, ETag, LastModified, size), page by page."""
        token: str | None = None
        while True:
            page = self.s3(
                "list_objects_v2", Prefix=prefix, **page_start("ContinuationToken", token)
            )
            yield from page.get("Contents", [])
            token = page.get("NextContinuationToken")
            if not token:
                return

    def head(self, key: str) -> dict[str, Any] | None:
        """HeadObject's answer, or None when there is no such object."""
        try:
            answer: dict[str, Any] = self.s3("head_object", expect=MISSING_OBJECT, Key=key)
        except Refused:
            return None
        return answer

    def delete_if_unchanged(self, key: str, etag: str, s3: Any = None) -> bool:
        """Delete the object only if it still has ``etag``; True when it was deleted.

        Every byte delete goes through here: an object replaced since it was looked at
        belongs to someone else now and is left alone. ``s3``: the client to use from a
        worker thread (threads do not inherit the repository's session).
        """
        try:
            call(
                s3 or self.clients.s3,
                "delete_object",
                expect=(*PRECONDITION_FAILED, *MISSING_OBJECT),
                Bucket=self.bucket,
                Key=key,
                IfMatch=etag,
            )
        except Refused:
            return False
        return True

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload (best effort): its Complete can then never land."""
        with contextlib.suppress(Exception):
            self.s3("abort_multipart_upload", Key=key, UploadId=upload_id)
