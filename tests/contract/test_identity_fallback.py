"""Where no STS answers, an alias change still lands and records who made it as unknown.

On a stack of S3-compatible engines nothing may serve STS: its endpoint may refuse
connections, or be a server that answers something else.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.helpers import S3Backend


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("sts", ["refused", "not sts"])
def test_an_alias_change_without_sts_records_an_unknown_caller(
    s3_backend: S3Backend, monkeypatch: pytest.MonkeyPatch, sts: str
) -> None:
    s3_backend.repo.put_artifact("app", b"one")
    s3_backend.repo.publish_artifact_version("app")
    if sts == "refused":
        endpoint = f"http://127.0.0.1:{_closed_port()}"
    else:  # the S3 engine: it answers, but not as STS
        endpoint = s3_backend.s3.meta.endpoint_url
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", endpoint)
    repo = s3_backend.new_repository()  # clients are made on first use, from the variables
    started = time.monotonic()
    repo.put_alias("app", "prod", 1)
    repo.put_alias("app", "prod", 1, reason="again")
    took = time.monotonic() - started
    history = repo.list_alias_history("app", "prod")
    assert [change.revision for change in history] == [2, 1]
    assert {change.who for change in history} == {history[0].who}
    assert "unknown" in history[0].who.lower(), history[0].who
    assert took < 10, f"two alias changes took {took:.1f} s without STS"
