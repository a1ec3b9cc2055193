"""How many HTTP requests each S3 + DynamoDB operation sends (design.md's targets).

Requests are counted on the repository's own boto3 clients with botocore's
``before-send`` event, which fires once per HTTP attempt (retries included).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import S3Backend


class Counter:
    """The operations sent through a repository's clients, in order."""

    def __init__(self, repo: Any) -> None:
        self.sent: list[str] = []
        for client in (repo._clients.s3, repo._clients.dynamodb):
            client.meta.events.register("before-send", self._record)

    def _record(self, event_name: str, **_: Any) -> None:
        self.sent.append(event_name.rsplit(".", 1)[-1])

    def during(self, action: Any) -> list[str]:
        """The operations ``action()`` sent."""
        self.sent.clear()
        action()
        return list(self.sent)


@pytest.fixture
def counted(s3_backend: S3Backend) -> Iterator[tuple[Any, Counter]]:
    repo = s3_backend.repo
    yield repo, Counter(repo)


def test_each_operation_sends_the_fewest_requests(counted: tuple[Any, Counter]) -> None:
    repo, counter = counted
    # the first put creates the item; steady state starts with the second
    repo.put_artifact("app", b"v0")
    assert counter.during(lambda: repo.put_artifact("app", b"v1")) == [
        "UpdateItem", "PutObject", "UpdateItem",
    ]  # fmt: skip
    # this object saw LATEST name these bytes (its own put): one conditional update that
    # holds only while no write is under way and the item records its object's ETag
    assert counter.during(lambda: repo.put_artifact("app", b"v1")) == ["UpdateItem"]
    # one that has not seen them looks at the object too: the item alone may be wrong
    # (design.md, fencing and "Identical put")
    repo._engine.backend.writer._seen.clear()
    assert counter.during(lambda: repo.put_artifact("app", b"v1")) == [
        "UpdateItem", "HeadObject", "UpdateItem",
    ]  # fmt: skip
    assert counter.during(lambda: repo.put_artifact("app", b"v1")) == ["UpdateItem"]
    # the number, then its key claimed before any byte is copied, the copy, the commit
    assert counter.during(lambda: repo.publish_artifact_version("app")) == [
        "UpdateItem", "PutItem", "CopyObject", "UpdateItem",
    ]  # fmt: skip
    assert counter.during(lambda: repo.get_artifact_version("app", 1)) == ["GetItem"]
    assert counter.during(lambda: repo.get_artifact_version("app")) == ["GetItem"]
    assert counter.during(lambda: repo.list_artifact_versions("app")) == ["Query"]
    assert counter.during(lambda: repo.put_alias("app", "prod", 1)) == ["TransactWriteItems"]
    assert counter.during(lambda: repo.get_alias("app", "prod")) == ["GetItem"]
    assert counter.during(lambda: repo.list_aliases("app")) == ["Query"]
    artifact = repo.get_artifact_version("app", 1)
    assert counter.during(artifact.get_content) == ["GetObject"]


def test_first_publish_of_data_written_by_1_0_1(
    counted: tuple[Any, Counter], s3_backend: S3Backend
) -> None:
    # 1.0.1 keeps no counter: the first publish finds the highest number with one query
    # and starts the counter there (two requests more than steady state, never again)
    repo, counter = counted
    repo.put_artifact("old", b"one")
    repo.publish_artifact_version("old")
    repo.put_artifact("old", b"two")
    s3_backend.dynamodb.update_item(
        TableName=s3_backend.table,
        Key={"pk": {"S": "old"}, "sk": {"S": "LATEST"}},
        UpdateExpression="REMOVE last_version, object_size",
    )
    assert counter.during(lambda: repo.publish_artifact_version("old")) == [
        "UpdateItem", "Query", "UpdateItem", "PutItem", "CopyObject", "UpdateItem",
    ]  # fmt: skip
    assert [a.version for a in repo.list_artifact_versions("old")] == ["LATEST", "2", "1"]
    assert counter.during(lambda: repo.publish_artifact_version("old")) == [
        "UpdateItem", "PutItem", "CopyObject", "UpdateItem",
    ]  # fmt: skip


def _write_versions(backend: S3Backend, name: str, numbers: range, padding: int) -> None:
    """Committed version items written raw, ``padding`` bytes each, 25 per batch."""
    items = [
        {
            "pk": {"S": name},
            "sk": {"S": str(n).zfill(6)},
            "update_at": {"S": "2024-01-01T00:00:00.000000+0000"},
            "is_deleted": {"BOOL": False},
            "sha256": {"S": f"{n:064x}"},
            "pad": {"S": "x" * padding},
        }
        for n in numbers
    ]
    for start in range(0, len(items), 25):
        backend.dynamodb.batch_write_item(
            RequestItems={
                backend.table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            }
        )


def test_listing_pages_past_one_megabyte_one_request_per_page(
    counted: tuple[Any, Counter], s3_backend: S3Backend
) -> None:
    repo, counter = counted
    _write_versions(s3_backend, "wide", range(1, 61), padding=50_000)  # ~3 MB: 3+ pages
    sent = counter.during(lambda: repo.list_artifact_versions("wide"))
    assert len(sent) >= 3 and set(sent) == {"Query"}, sent
    assert [a.version for a in repo.list_artifact_versions("wide")] == [
        str(n) for n in range(60, 0, -1)
    ]


def test_versions_past_999999_order_by_number(s3_backend: S3Backend) -> None:
    repo = s3_backend.repo
    repo.put_artifact("many", b"content")
    _write_versions(s3_backend, "many", range(999_997, 999_999), padding=0)
    s3_backend.dynamodb.update_item(
        TableName=s3_backend.table,
        Key={"pk": {"S": "many"}, "sk": {"S": "LATEST"}},
        UpdateExpression="SET last_version = :n",
        ExpressionAttributeValues={":n": {"N": "999998"}},
    )
    assert repo.publish_artifact_version("many").version == "999999"
    assert repo.publish_artifact_version("many").version == "1000000"
    assert repo.publish_artifact_version("many").version == "1000001"
    assert [a.version for a in repo.list_artifact_versions("many")] == [
        "LATEST", "1000001", "1000000", "999999", "999998", "999997",
    ]  # fmt: skip
    assert repo.get_artifact_version("many", 1000000).get_content() == b"content"
    assert repo.put_alias("many", "prod", "1000000").version == "1000000"


# --- aliases: revisions and history (issue #10), alias -> content (issue #9) ---------------
def _published(repo: Any, name: str, count: int) -> None:
    for number in range(count):
        repo.put_artifact(name, f"{name} content {number}".encode())
        repo.publish_artifact_version(name)


def test_alias_changes_are_one_transaction_when_the_state_is_known(
    counted: tuple[Any, Counter],
) -> None:
    repo, counter = counted
    _published(repo, "svc", 3)  # publish told this repository object the hashes
    one = ["TransactWriteItems"]
    # a new alias: the guess "no such alias, no history" is checked by the transaction
    assert counter.during(lambda: repo.put_alias("svc", "prod", 1)) == one
    assert counter.during(lambda: repo.put_alias("svc", "prod", 2, expected_revision=1)) == one
    assert (
        counter.during(
            lambda: repo.put_alias(
                "svc", "prod", 2, secondary_version=3, secondary_version_weight=10
            )
        )
        == one
    )
    assert counter.during(lambda: repo.delete_alias("svc", "prod", expected_revision=3)) == one
    assert [c.revision for c in repo.list_alias_history("svc", "prod")] == [4, 3, 2, 1]


def test_alias_reads_and_history_pages(counted: tuple[Any, Counter]) -> None:
    repo, counter = counted
    _published(repo, "web", 2)
    for number in range(5):
        repo.put_alias("web", "prod", 1 + number % 2, reason=f"deploy {number}")
    alias = repo.get_alias("web", "prod")
    assert counter.during(lambda: repo.get_alias("web", "prod")) == ["GetItem"]
    # the alias item carries its target's sha256: alias -> verified content in 2 requests
    assert counter.during(alias.get_version_content) == ["GetObject"]
    assert alias.get_version_content() == b"web content 0"
    page: list[Any] = []
    assert counter.during(lambda: page.extend(repo.list_alias_history("web", "prod", limit=2))) == [
        "Query"
    ]
    assert [c.revision for c in page] == [5, 4]
    more = lambda: page.extend(  # noqa: E731
        repo.list_alias_history("web", "prod", limit=2, before_revision=page[-1].revision)
    )
    assert counter.during(more) == ["Query"]
    assert [c.revision for c in page] == [5, 4, 3, 2]
    assert counter.during(lambda: repo.list_aliases("web")) == ["Query"]


def test_a_cold_or_stale_repository_object_needs_one_request_more(
    counted: tuple[Any, Counter], s3_backend: S3Backend
) -> None:
    repo, _ = counted
    _published(repo, "api", 2)
    repo.put_alias("api", "prod", 1)
    cold = s3_backend.new_repository()
    counter = Counter(cold)
    # nothing known: the alias, its history's head and the target in one BatchGetItem
    assert counter.during(lambda: cold.put_alias("api", "prod", 2)) == [
        "BatchGetItem", "TransactWriteItems",
    ]  # fmt: skip
    # stale: the other object changed it since; the refusal's ALL_OLD answers tell how
    repo.put_alias("api", "prod", 1)
    assert counter.during(lambda: cold.put_alias("api", "prod", 2)) == [
        "TransactWriteItems", "TransactWriteItems",
    ]  # fmt: skip
    # a compare-and-set that the remembered state would refuse is checked by a read first
    repo.put_alias("api", "prod", 1)
    assert counter.during(lambda: cold.put_alias("api", "prod", 2, expected_revision=5)) == [
        "BatchGetItem", "TransactWriteItems",
    ]  # fmt: skip
    fresh = s3_backend.new_repository()
    counter = Counter(fresh)
    assert counter.during(lambda: fresh.delete_alias("api", "prod")) == [
        "BatchGetItem", "TransactWriteItems",
    ]  # fmt: skip
    # an alias known to be absent is looked at before "nothing to delete" is believed
    assert counter.during(lambda: fresh.delete_alias("api", "prod")) == ["BatchGetItem"]
    assert [c.action for c in repo.list_alias_history("api", "prod")] == ["delete"] + ["set"] * 6


def test_who_is_asked_of_sts_once_per_repository_object(
    s3_backend: S3Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    made: list[str] = []
    original = boto3.session.Session.client

    def client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service)
        return original(self, service, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", client)
    repo = s3_backend.new_repository()
    _published(repo, "who", 2)
    for version in (1, 2, 1):
        repo.put_alias("who", "prod", version)
    repo.delete_alias("who", "prod")
    assert made.count("sts") == 1
    assert {c.who for c in repo.list_alias_history("who", "prod")} == {
        "arn:aws:sts::123456789012:user/moto"
    }


def test_an_alias_written_without_history_costs_one_read_more(
    counted: tuple[Any, Counter], s3_backend: S3Backend
) -> None:
    repo, counter = counted
    _published(repo, "old", 1)
    repo.put_alias("old", "prod", 1)
    # as versioned 1.0.1 writes it: the whole item replaced, our attributes gone
    s3_backend.dynamodb.put_item(
        TableName=s3_backend.table,
        Item={
            "pk": {"S": "__old-alias"},
            "sk": {"S": "prod"},
            "update_at": {"S": "2026-01-01T00:00:00.000000+0000"},
            "version": {"S": "LATEST"},
        },
    )
    # its revision is one past its history's head, which takes a second GetItem
    assert counter.during(lambda: repo.get_alias("old", "prod")) == ["GetItem", "GetItem"]
    assert repo.get_alias("old", "prod").revision == 2


@pytest.mark.parametrize(("code", "asked_again"), [("Throttling", True), ("AccessDenied", False)])
def test_a_refused_identity_is_asked_again_only_when_the_refusal_may_pass(
    s3_backend: S3Backend, monkeypatch: pytest.MonkeyPatch, code: str, asked_again: bool
) -> None:
    """Throttling (or an expired token) passes: the next change asks STS again rather than
    signing every later entry "unknown"; a denied permission will keep being denied."""
    import boto3
    from botocore.exceptions import ClientError

    asked: list[str] = []
    original = boto3.session.Session.client

    def client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made = original(self, service, *args, **kwargs)
        if service == "sts":
            real = made.get_caller_identity

            def get_caller_identity() -> Any:
                asked.append(service)
                if len(asked) == 1:
                    raise ClientError({"Error": {"Code": code}}, "GetCallerIdentity")
                return real()

            made.get_caller_identity = get_caller_identity
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    repo = s3_backend.new_repository()
    _published(repo, "who", 2)
    for version in (1, 2, 1):
        repo.put_alias("who", "prod", version)
    whos = [c.who for c in reversed(repo.list_alias_history("who", "prod"))]
    arn = "arn:aws:sts::123456789012:user/moto"
    if asked_again:
        assert whos == ["unknown", arn, arn] and len(asked) == 2
    else:
        assert whos == ["unknown"] * 3 and len(asked) == 1
