"""Fixtures for fault injection: a proxy in front of the engines, and repositories that use it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import botocore.retries.standard
import pytest

from tests.faults.proxy import Fault, FaultProxy
from tests.helpers import REGION, Engines, Repository, endpoint_variables, unique
from tests.invariants import S3RawStore
from versioned import exc

#: Short enough that an in-doubt put's lease expires quickly, long enough for a put.
LEASE_SECONDS = 1.0
#: Cap on botocore's retry delay in these tests (throttling backs off ~1 s otherwise).
MAX_RETRY_DELAY = 0.02


@pytest.fixture(scope="session")
def fault_proxy(engines: Engines) -> Iterator[FaultProxy]:
    """One fault proxy per test session (worker) in front of the session's engines."""
    proxy = FaultProxy(engines.upstreams())
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep botocore's standard/adaptive retry delays tiny so many faults fit in a test."""
    original = botocore.retries.standard.ExponentialBackoff.delay_amount

    def capped(self: Any, context: Any) -> float:
        return min(float(original(self, context)), MAX_RETRY_DELAY)

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", capped)


@pytest.fixture
def make_faulty_repo(
    fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, s3_client: Any, dynamodb_client: Any
) -> Callable[..., tuple[Repository, S3RawStore]]:
    """Build ``(repository through the proxy, raw store read directly from the engines)``.

    The bucket and table are made through the disarmed proxy; keyword arguments go to the
    S3 ``Repository`` (``retry_attempts``, ``retry_mode``...). The proxy starts disarmed.
    """
    from versioned.s3_and_dynamodb_backend import Repository as S3Repository

    for variable, url in endpoint_variables(fault_proxy.url).items():
        monkeypatch.setenv(variable, url)
    fault_proxy.arm(None)

    def make(**options: Any) -> tuple[Repository, S3RawStore]:
        bucket, table = unique("vt-fault"), unique("vt-fault")
        options.setdefault("lease_seconds", LEASE_SECONDS)
        repo = S3Repository(
            aws_region=REGION, s3_bucket=bucket, dynamodb_table_name=table, **options
        )
        repo.bootstrap()  # through the proxy, disarmed
        raw = S3RawStore(s3=s3_client, dynamodb=dynamodb_client, bucket=bucket, table=table)
        return repo, raw

    return make


def call_with_fault(
    proxy: FaultProxy, fault: Fault, call: Callable[[], object]
) -> tuple[str, list[tuple[str, str]]]:
    """Run ``call`` with ``fault`` armed; return "succeeded" or the name of the
    ``versioned.exc`` error it raised (anything else propagates), and the faults the proxy
    injected (operation, kind). The proxy is disarmed afterwards; AssertionError if the
    fault was never injected."""
    proxy.arm(fault)
    try:
        call()
        outcome = "succeeded"
    except exc.VersionedError as error:
        outcome = type(error).__name__
    injected = proxy.injected()
    proxy.arm(None)
    assert injected, f"{fault} injected nothing"
    return outcome, injected
