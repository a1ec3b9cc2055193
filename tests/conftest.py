"""Fixtures shared by the whole suite.

S3 + DynamoDB are exercised on real engines: SeaweedFS for S3 and DynamoDB Local for
DynamoDB (``tools/real_servers.py``), started once per test session (once per xdist
worker) on free loopback ports and reached through botocore's per-service variables
``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL_DYNAMODB``, the way a real service is
reached: no in-process patching. moto's server runs beside them behind
``AWS_ENDPOINT_URL``: it answers STS (who made an alias change), and tests of moto's own
launcher use it. ``VERSIONED_TEST_STACK=moto`` runs the whole session on moto instead.
Child processes inherit the variables.

Tests marked ``aws`` (``tests/aws``) never see the server: they get the environment the
session started with, and only run with ``VERSIONED_TEST_AWS=1``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tools import moto_server, real_servers

from tests.helpers import (
    BACKENDS,
    REGION,
    STACK,
    Engines,
    LocalBackend,
    Repository,
    S3Backend,
    new_backend,
    unique,
)

#: Variables the moto session overrides; ``aws`` tests get their original values back.
_AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "NO_PROXY",
    "no_proxy",
)
ORIGINAL_AWS_ENVIRONMENT = {name: os.environ.get(name) for name in _AWS_VARIABLES}


def _moto_environment(endpoint: str, scratch: Path) -> dict[str, str | None]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_S3": None,
        "AWS_ENDPOINT_URL_DYNAMODB": None,
        "AWS_ENDPOINT_URL_STS": None,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": None,
        "AWS_SECURITY_TOKEN": None,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": None,
        "AWS_PROFILE": None,
        # never read the developer's own config: it could name other endpoints or profiles
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def _apply_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start moto's server on a free loopback port and point every AWS client at it."""
    scratch = tmp_path_factory.mktemp("moto")
    try:
        server, endpoint = moto_server.start(scratch)
    except RuntimeError as error:
        pytest.fail(str(error))
    _apply_environment(_moto_environment(endpoint, scratch))
    try:
        yield endpoint
    finally:
        _apply_environment(ORIGINAL_AWS_ENVIRONMENT)
        moto_server.stop(server)


@pytest.fixture(scope="session")
def engines(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    """The S3 and DynamoDB engines of this session, with every client pointed at them."""
    if STACK == "moto":
        yield Engines(s3=moto_endpoint, dynamodb=moto_endpoint, sts=moto_endpoint)
        return
    scratch = tmp_path_factory.mktemp("engines")
    try:
        s3, dynamodb = real_servers.start_both(scratch)
    except RuntimeError as error:
        pytest.fail(str(error))
    variables = real_servers.engine_environment(s3.endpoint, dynamodb.endpoint)
    _apply_environment(dict(variables))
    try:
        yield Engines(s3=s3.endpoint, dynamodb=dynamodb.endpoint, sts=moto_endpoint)
    finally:
        _apply_environment(dict.fromkeys(variables))
        s3.stop()
        dynamodb.stop()


@pytest.fixture(autouse=True)
def _loopback_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test (except real-AWS ones) whose process connects off this machine."""
    if request.node.get_closest_marker("aws") is not None:
        return
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise RuntimeError(f"test tried to connect to non-loopback address {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return original_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture
def real_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the moto session's variables for this test (real-AWS tier)."""
    for name, value in ORIGINAL_AWS_ENVIRONMENT.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def s3_client(engines: Engines) -> Any:
    """A raw boto3 S3 client on the session's S3 engine."""
    return boto3.client("s3", region_name=REGION, endpoint_url=engines.s3)


@pytest.fixture(scope="session")
def dynamodb_client(engines: Engines) -> Any:
    """A raw boto3 DynamoDB client on the session's DynamoDB engine."""
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=engines.dynamodb)


@pytest.fixture(scope="session")
def make_s3_backend(s3_client: Any, dynamodb_client: Any) -> Any:
    """Build a bootstrapped S3 + DynamoDB repository on a fresh bucket and table."""

    def make(suffix: str = "", prefix: str = "versioned-artifacts") -> S3Backend:
        return S3Backend(
            s3=s3_client,
            dynamodb=dynamodb_client,
            bucket=unique("vt-bucket"),
            table=unique("vt-table"),
            prefix=prefix,
            suffix=suffix,
        )

    return make


@pytest.fixture
def s3_backend(make_s3_backend: Any) -> S3Backend:
    backend: S3Backend = make_s3_backend()
    return backend


@pytest.fixture
def local_backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "repo")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> LocalBackend | S3Backend:
    """The repository under test, on each backend in turn, with raw access to its storage."""
    return new_backend(request, request.param)


@pytest.fixture
def repo(backend: LocalBackend | S3Backend) -> Repository:
    return backend.repo


@pytest.fixture
def repo_uri(backend: LocalBackend | S3Backend) -> str:
    """What ``versioned.open_repository`` takes to open ``repo`` (for child processes)."""
    return backend.uri
