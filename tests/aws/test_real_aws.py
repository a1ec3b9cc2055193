"""A small tier against real AWS: only with ``VERSIONED_TEST_AWS=1`` (and credentials).

It never touches the moto server: the ``real_aws_environment`` fixture gives the test the
``AWS_*`` variables the session started with. It creates a bucket and a table with unique
names and deletes both at the end. Region: ``VERSIONED_TEST_AWS_REGION`` (default us-east-1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.helpers import raises_versioned, sha256_hex, unique, versions_of
from versioned import exc

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(
        os.environ.get("VERSIONED_TEST_AWS") != "1", reason="set VERSIONED_TEST_AWS=1 to run"
    ),
]

NAME = "real-aws-app"


@pytest.fixture
def real_repo(real_aws_environment: None) -> Iterator[Any]:
    from versioned.s3_and_dynamodb_backend import Repository

    assert "127.0.0.1" not in os.environ.get("AWS_ENDPOINT_URL", "")
    region = os.environ.get("VERSIONED_TEST_AWS_REGION", "us-east-1")
    bucket, table = unique("versioned-test"), unique("versioned-test")
    repo = Repository(aws_region=region, s3_bucket=bucket, dynamodb_table_name=table)
    repo.bootstrap()
    try:
        yield repo
    finally:
        repo.purge_all()
        session = boto3.Session(region_name=region)
        session.client("s3").delete_bucket(Bucket=bucket)
        session.client("dynamodb").delete_table(TableName=table)


def test_lifecycle_on_real_aws(real_repo: Any, tmp_path: Path) -> None:
    repo = real_repo
    repo.bootstrap()  # idempotent
    assert repo.put_artifact(NAME, b"one").sha256 == sha256_hex(b"one")
    assert repo.publish_artifact_version(NAME).version == "1"
    repo.put_artifact(NAME, b"two")
    assert repo.publish_artifact_version(NAME).version == "2"
    assert versions_of(repo, NAME) == ["LATEST", "2", "1"]
    alias = repo.put_alias(
        NAME, "prod", version=1, secondary_version=2, secondary_version_weight=20
    )
    assert alias.get_version_content() == b"one"
    assert alias.get_secondary_version_content() == b"two"
    with raises_versioned(exc.VersionInUseError):
        repo.delete_artifact_version(NAME, 1)
    repo.get_artifact_version(NAME, 2).download(tmp_path / "two")
    assert (tmp_path / "two").read_bytes() == b"two"
    repo.delete_alias(NAME, "prod")
    repo.delete_artifact_version(NAME, 1)
    assert versions_of(repo, NAME) == ["LATEST", "2"]
    repo.purge_artifact(NAME)
    assert repo.list_artifact_names() == []
