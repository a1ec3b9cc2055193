"""What only the S3 + DynamoDB backend has: S3 paths, bootstrap, object attributes, ``bsm=``."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.exceptions
import pytest
from boto_session_manager.api import BotoSesManager

from tests.helpers import (
    REGION,
    Engines,
    S3Backend,
    endpoint_variables,
    raises_versioned,
    unique,
    versions_of,
)
from versioned import exc

NAME = "my-app"
T = TypeVar("T")


def s3_repository(bucket: str, table: str, **options: Any) -> Any:
    from versioned.s3_and_dynamodb_backend import Repository

    return Repository(aws_region=REGION, s3_bucket=bucket, dynamodb_table_name=table, **options)


def test_s3dir_artifact_store(s3_backend: S3Backend) -> None:
    store = s3_backend.repo.s3dir_artifact_store
    assert store.uri == f"s3://{s3_backend.bucket}/versioned-artifacts/"


def test_s3dir_with_custom_prefix(make_s3_backend: Any) -> None:
    backend: S3Backend = make_s3_backend(prefix="team/artifacts")
    assert backend.repo.s3dir_artifact_store.uri == f"s3://{backend.bucket}/team/artifacts/"
    artifact = backend.repo.put_artifact(NAME, b"x")
    assert artifact.uri == f"s3://{backend.bucket}/team/artifacts/{NAME}/LATEST"
    assert backend.repo.list_artifact_names() == [NAME]


@pytest.mark.parametrize(
    ("version", "key"),
    [
        ("LATEST", "LATEST"),
        (None, "LATEST"),
        ("5", "000005"),
        (5, "000005"),
        ("000012", "000012"),
        (1234567, "1234567"),
    ],
)
def test_get_artifact_s3path(s3_backend: S3Backend, version: Any, key: str) -> None:
    path = s3_backend.repo.get_artifact_s3path(NAME, version)
    assert path.uri == f"s3://{s3_backend.bucket}/versioned-artifacts/{NAME}/{key}"


def test_artifact_s3_attributes(s3_backend: S3Backend) -> None:
    repo = s3_backend.repo
    repo.put_artifact(NAME, b"content")
    for artifact in (repo.get_artifact_version(NAME), repo.publish_artifact_version(NAME)):
        assert artifact.s3uri == artifact.uri
        assert artifact.s3path.uri == artifact.uri
        assert artifact.uri == repo.get_artifact_s3path(NAME, artifact.version).uri
    assert repo.get_artifact_version(NAME, 1).uri.endswith(f"/{NAME}/000001")


def test_alias_s3_attributes(s3_backend: S3Backend) -> None:
    repo = s3_backend.repo
    for content in (b"one", b"two"):
        repo.put_artifact(NAME, content)
        repo.publish_artifact_version(NAME)
    alias = repo.put_alias(
        NAME, "prod", version=1, secondary_version=2, secondary_version_weight=40
    )
    assert alias.version_s3uri == alias.version_uri == repo.get_artifact_version(NAME, 1).uri
    assert alias.secondary_version_s3uri == alias.secondary_version_uri
    assert alias.secondary_version_uri == repo.get_artifact_version(NAME, 2).uri
    assert alias.s3path_version.uri == alias.version_uri
    assert alias.s3path_secondary_version.uri == alias.secondary_version_uri
    single = repo.put_alias(NAME, "stable", version=2)
    assert single.secondary_version_s3uri is None
    with raises_versioned(ValueError):
        _ = single.s3path_secondary_version


def test_object_attributes(s3_backend: S3Backend) -> None:
    repo = s3_backend.repo
    repo.put_artifact(
        NAME,
        b"zip bytes",
        content_type="application/zip",
        metadata={"build_id": "12345"},
        tags={"team": "backend"},
    )
    head = s3_backend.s3.head_object(Bucket=s3_backend.bucket, Key=s3_backend.key(NAME, None))
    assert head["ContentType"] == "application/zip"
    assert head["Metadata"]["build_id"] == "12345"
    tagging = s3_backend.s3.get_object_tagging(
        Bucket=s3_backend.bucket, Key=s3_backend.key(NAME, None)
    )
    assert {t["Key"]: t["Value"] for t in tagging["TagSet"]} == {"team": "backend"}


def test_bootstrap_is_idempotent(s3_backend: S3Backend) -> None:
    repo = s3_backend.repo
    repo.put_artifact(NAME, b"kept")
    repo.publish_artifact_version(NAME)
    before = s3_backend.state()
    repo.bootstrap()
    s3_backend.new_repository().bootstrap()
    assert s3_backend.state() == before
    assert repo.get_artifact_version(NAME, 1).get_content() == b"kept"


def test_bootstrap_creates_on_demand_table(s3_backend: S3Backend) -> None:
    table = s3_backend.dynamodb.describe_table(TableName=s3_backend.table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]) == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "pk": "S",
        "sk": "S",
    }
    s3_backend.s3.head_bucket(Bucket=s3_backend.bucket)


def test_bootstrap_with_capacity(s3_client: Any, dynamodb_client: Any) -> None:
    bucket, table = unique("vt-bucket"), unique("vt-table")
    repo = s3_repository(bucket, table)
    repo.bootstrap(dynamodb_write_capacity_units=3, dynamodb_read_capacity_units=7)
    described = dynamodb_client.describe_table(TableName=table)["Table"]
    billing = described.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    assert billing == "PROVISIONED"
    throughput = described["ProvisionedThroughput"]
    assert (throughput["WriteCapacityUnits"], throughput["ReadCapacityUnits"]) == (3, 7)
    repo.put_artifact(NAME, b"works")
    assert repo.publish_artifact_version(NAME).get_content() == b"works"


def test_missing_bucket_and_table(engines: Engines) -> None:
    repo = s3_repository(unique("vt-missing"), unique("vt-missing"))
    with raises_versioned(exc.RepositoryNotReadyError):
        repo.put_artifact(NAME, b"x")
    with raises_versioned(exc.RepositoryNotReadyError):
        repo.get_artifact_version(NAME)
    assert issubclass(exc.RepositoryNotReadyError, exc.BackendError)


def sessions() -> list[Any]:
    return [
        pytest.param(lambda: BotoSesManager(region_name=REGION), id="BotoSesManager"),
        pytest.param(lambda: boto3.Session(region_name=REGION), id="boto3.Session"),
    ]


def count_requests(session_like: Any) -> list[str]:
    """Record every HTTP request sent by clients made from this session (or its BotoSesManager)."""
    session = getattr(session_like, "boto_ses", session_like)
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request.url)

    session.events.register("before-send", record)
    return sent


@pytest.mark.parametrize("make_session", sessions())
def test_every_method_takes_bsm(engines: Engines, make_session: Any, tmp_path: Path) -> None:
    bsm = make_session()
    sent = count_requests(bsm)

    def via_bsm(call: Callable[[], T]) -> T:
        before = len(sent)
        result = call()
        assert len(sent) > before, "the call did not go through the given session"
        served = tuple(engines.upstreams().values())
        assert all(url.startswith(served) for url in sent[before:]), sent[before:]
        return result

    repo = s3_repository(unique("vt-bucket"), unique("vt-table"))
    via_bsm(lambda: repo.bootstrap(bsm=bsm))
    via_bsm(lambda: repo.bootstrap(bsm))
    via_bsm(lambda: repo.put_artifact(NAME, b"one", bsm=bsm))
    assert via_bsm(lambda: repo.publish_artifact_version(NAME, bsm=bsm)).version == "1"
    via_bsm(lambda: repo.put_artifact(NAME, b"two", bsm=bsm))
    via_bsm(lambda: repo.publish_artifact_version(NAME, bsm=bsm))
    artifact = via_bsm(lambda: repo.get_artifact_version(NAME, 1, bsm=bsm))
    assert via_bsm(lambda: artifact.get_content(bsm)) == b"one"
    assert via_bsm(lambda: artifact.get_content(bsm=bsm)) == b"one"
    via_bsm(lambda: artifact.download(tmp_path / "one", bsm=bsm))
    assert (tmp_path / "one").read_bytes() == b"one"
    listed = via_bsm(lambda: repo.list_artifact_versions(NAME, bsm=bsm))
    assert [a.version for a in listed] == ["LATEST", "2", "1"]
    assert via_bsm(lambda: repo.list_artifact_names(bsm=bsm)) == [NAME]
    alias = via_bsm(lambda: repo.put_alias(NAME, "prod", 1, 2, 10, bsm=bsm))
    assert via_bsm(lambda: alias.get_version_content(bsm)) == b"one"
    assert via_bsm(lambda: alias.get_secondary_version_content(bsm)) == b"two"
    assert via_bsm(lambda: repo.get_alias(NAME, "prod", bsm=bsm)).version == "1"
    assert [a.alias for a in via_bsm(lambda: repo.list_aliases(NAME, bsm=bsm))] == ["prod"]
    via_bsm(lambda: repo.delete_alias(NAME, "prod", bsm=bsm))
    via_bsm(lambda: repo.delete_artifact_version(NAME, 1, bsm=bsm))
    assert via_bsm(lambda: repo.restore_artifact_version(NAME, 1, bsm=bsm)).version == "1"
    _, deleted = via_bsm(
        lambda: repo.purge_artifact_versions(NAME, 0, 0, bsm=bsm, keep_rollback_targets=0)
    )
    assert sorted(a.version for a in deleted) == ["1", "2"]
    assert via_bsm(lambda: repo.gc(bsm=bsm)) == []
    via_bsm(lambda: repo.purge_artifact(NAME, bsm=bsm))
    assert versions_of(repo, NAME) == []
    via_bsm(lambda: repo.put_artifact("other", b"x", bsm=bsm))
    via_bsm(lambda: repo.purge_all(bsm=bsm))
    assert repo.list_artifact_names() == []


def closed_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.mark.parametrize("failure", ["unreachable", "no-credentials"])
def test_service_failures_are_backend_errors(
    s3_backend: S3Backend, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    s3_backend.repo.put_artifact(NAME, b"x")
    if failure == "unreachable":
        closed = f"http://127.0.0.1:{closed_loopback_port()}"
        for variable, url in endpoint_variables(closed).items():
            monkeypatch.setenv(variable, url)
    else:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    repo = s3_repository(s3_backend.bucket, s3_backend.table, retry_attempts=1)
    with raises_versioned(exc.BackendError) as info:
        repo.get_artifact_version(NAME)
    assert info.value.__cause__ is not None
    with raises_versioned(exc.BackendError):
        repo.put_artifact(NAME, b"y")


def _latest_item(backend: S3Backend, name: str) -> dict[str, Any]:
    item: dict[str, Any] = backend.dynamodb.get_item(
        TableName=backend.table,
        Key={"pk": {"S": name}, "sk": {"S": "LATEST"}},
        ConsistentRead=True,
    )["Item"]
    return item


def test_failed_first_put_releases_its_lease(s3_backend: S3Backend) -> None:
    """A brand-new artifact has no object yet: the failed put must still end its lease,
    or the same call retried would wait the whole lease out."""
    repo = s3_repository(s3_backend.bucket, s3_backend.table, retry_attempts=1)
    repo.list_artifact_names()  # make the clients

    def refuse(**_: Any) -> None:
        raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    repo._clients.s3.meta.events.register("before-send.s3.PutObject", refuse)
    with raises_versioned(exc.BackendError):
        repo.put_artifact("fresh", b"payload")
    repo._clients.s3.meta.events.unregister("before-send.s3.PutObject", refuse)
    item = _latest_item(s3_backend, "fresh")
    assert "lease_token" not in item and "lease_until" not in item
    assert repo.put_artifact("fresh", b"payload").get_content() == b"payload"


def test_purge_removes_the_counter_last(s3_backend: S3Backend) -> None:
    """LATEST holds the version counter (and the purge's fence): a purge cut short must not
    leave numbered items behind a counter that would start again at 1."""
    repo = s3_backend.repo
    for content in (b"one", b"two"):
        repo.put_artifact("app", content)
        repo.publish_artifact_version("app")
    repo.put_alias("app", "prod", 1)
    deleted: list[tuple[str, str]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        if "Key" in params:  # DeleteItem
            deleted.append((params["Key"]["pk"]["S"], params["Key"]["sk"]["S"]))
        for request in params.get("RequestItems", {}).get(s3_backend.table, []):
            key = request["DeleteRequest"]["Key"]
            deleted.append((key["pk"]["S"], key["sk"]["S"]))

    events = repo._store.clients.dynamodb.meta.events
    events.register("provide-client-params.dynamodb.DeleteItem", record)
    events.register("provide-client-params.dynamodb.BatchWriteItem", record)
    repo.purge_artifact("app")
    assert deleted[-1] == ("app", "LATEST")
    assert set(deleted) == {
        ("__app-alias", "prod"),
        ("__app-alias#history", "prod"),  # the alias's history: its head and its entry
        ("__app-alias#history", "prod#0000000001"),
        ("app", "000001"),
        ("app", "000002"),
        ("app", "LATEST"),
    }
