"""A store that cannot fence is refused: the probe of ``bootstrap`` and of a first write.

SeaweedFS enforces every condition the fencing needs; s3rver answers 200 to every
conditional request, so it is the negative control: ``init`` and writes must refuse it
with one line naming the missing condition, unless the repository is opened for a
single writer.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from tools import real_servers

from tests.cli.conftest import child_environment, versioned_command
from tests.helpers import REGION, STACK, S3Backend, raises_versioned, unique
from versioned import exc
from versioned.stores.s3.probe import STORE_PK, STORE_SK

pytestmark = pytest.mark.skipif(STACK == "moto", reason="probes the real engines")
#: s3rver's fixed credentials (DynamoDB Local keeps a separate database per key: fine).
_S3RVER_KEY = "S3RVER"


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """s3rver on a loopback port, for this module."""
    server = real_servers.start_s3rver(tmp_path_factory.mktemp("s3rver"))
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def on_s3rver(
    s3rver: str, s3_client: Any, dynamodb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """S3 requests of this test go to s3rver (DynamoDB stays on DynamoDB Local). The
    session's raw clients are made first, with the session's credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3rver)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", _S3RVER_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", _S3RVER_KEY)
    return s3rver


def _repository(bucket: str, table: str, **options: Any) -> Any:
    from versioned.s3_and_dynamodb_backend import Repository

    return Repository(aws_region=REGION, s3_bucket=bucket, dynamodb_table_name=table, **options)


def _recorded(table: str) -> dict[str, Any]:
    # a new session: boto3's default one keeps the credentials it first found
    client = boto3.session.Session().client("dynamodb", region_name=REGION)
    item: dict[str, Any] = client.get_item(
        TableName=table, Key={"pk": {"S": STORE_PK}, "sk": {"S": STORE_SK}}
    )["Item"]
    return {k: v.get("BOOL") for k, v in item.items() if "BOOL" in v}


def test_bootstrap_refuses_a_store_that_ignores_conditions(on_s3rver: str) -> None:
    table = unique("vt-probe")
    repo = _repository(unique("vt-probe"), table)
    with raises_versioned(exc.UnsafeStoreError) as info:
        repo.bootstrap()
    message = str(info.value)
    assert "\n" not in message
    assert "If-None-Match" in message and "single_writer" in message
    assert _recorded(table)["put_if_none_match"] is False
    with raises_versioned(exc.UnsafeStoreError):
        repo.put_artifact("app", b"x")
    # another process (a fresh object) reads the record and refuses too, writing nothing
    fresh = _repository(repo.s3_bucket, table)
    with raises_versioned(exc.UnsafeStoreError):
        fresh.put_artifact("app", b"x")
    assert fresh.list_artifact_names() == []


def test_a_single_writer_may_use_such_a_store(on_s3rver: str) -> None:
    repo = _repository(unique("vt-probe"), unique("vt-probe"), single_writer=True)
    repo.bootstrap()
    repo.put_artifact("app", b"one")
    assert repo.publish_artifact_version("app").get_content() == b"one"


def test_init_on_such_a_store_says_what_is_missing_in_one_line(
    on_s3rver: str, tmp_path: Path
) -> None:
    def init() -> list[str]:
        table, bucket = unique("vt-probe"), unique("vt-probe")
        uri = f"s3://{bucket}/versioned-artifacts?table={table}&region={REGION}"
        return [versioned_command(), "--repo", uri, "init"]

    refused = subprocess.run(
        init(), cwd=tmp_path, env=child_environment(), capture_output=True, text=True
    )
    assert refused.returncode == 1, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "If-None-Match" in refused.stderr and "Traceback" not in refused.stderr
    allowed = subprocess.run(
        init(),
        cwd=tmp_path,
        env=child_environment({"VERSIONED_SINGLE_WRITER": "1"}),
        capture_output=True,
        text=True,
    )
    assert allowed.returncode == 0, allowed.stderr


def test_a_fencing_store_is_recorded_and_the_probe_leaves_nothing(s3_backend: S3Backend) -> None:
    assert _recorded(s3_backend.table) == {
        "put_if_none_match": True,
        "put_if_match": True,
        "copy_if_none_match": True,
        "keeps_empty_prefixes": True,  # SeaweedFS keeps a folder after its last object
    }
    assert s3_backend.objects() == {}
    assert s3_backend.repo.list_artifact_names() == []


def test_the_first_write_of_a_process_probes_a_store_never_probed(
    s3_backend: S3Backend,
) -> None:
    key = {"pk": {"S": STORE_PK}, "sk": {"S": STORE_SK}}
    s3_backend.dynamodb.delete_item(TableName=s3_backend.table, Key=key)
    repo = s3_backend.new_repository()
    repo.put_artifact("app", b"x")
    assert _recorded(s3_backend.table)["put_if_match"] is True
    assert repo.list_artifact_names() == ["app"]


def test_a_multipart_complete_with_a_stale_if_match_is_refused(s3_backend: S3Backend) -> None:
    """What a put's multipart upload relies on once another writer's bytes landed: its
    Complete carries ``If-Match`` with the ETag its lease saw, and the engine refuses it
    (moto completes it anyway). Nothing lands at the key."""
    s3, bucket, key = s3_backend.s3, s3_backend.bucket, s3_backend.key("app", None)
    s3.put_object(Bucket=bucket, Key=key, Body=b"the other writer's")
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"mine")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            IfMatch='"0123456789abcdef0123456789abcdef"',
        )
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"the other writer's"
