"""The test harness itself: moto is started only by its launcher and reached on loopback
only, and nothing leaves the machine."""

from __future__ import annotations

import os
import re
import socket
import urllib.request
from pathlib import Path

import pytest


def test_moto_session_environment(moto_endpoint: str) -> None:
    assert moto_endpoint.startswith("http://127.0.0.1:")
    assert os.environ["AWS_ENDPOINT_URL"] == moto_endpoint
    assert os.environ["AWS_ACCESS_KEY_ID"] == os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    with urllib.request.urlopen(f"{moto_endpoint}/moto-api/", timeout=5) as answer:
        assert answer.status == 200


@pytest.mark.parametrize("address", [("192.0.2.1", 443), ("169.254.169.254", 80)])
def test_non_loopback_connections_are_refused(address: tuple[str, int]) -> None:
    with pytest.raises(RuntimeError, match="non-loopback"):
        socket.create_connection(address, timeout=1)


#: what starting or embedding moto looks like in Python source
_STARTS_MOTO = re.compile(
    r"""^\s*(from|import)\s+moto\b|["']moto\.server["']|mock_aws|ThreadedMotoServer""",
    re.MULTILINE,
)


def test_the_launcher_is_the_one_place_that_starts_moto() -> None:
    root = Path(__file__).resolve().parents[1]
    allowed = {root / "tools" / "moto_server.py", Path(__file__).resolve()}
    sources = [
        path
        for folder in ("src", "tools", "tests", "scripts")
        for path in sorted((root / folder).rglob("*.py"))
        if path.resolve() not in allowed
    ]
    assert len(sources) > 10
    offenders = [
        str(path.relative_to(root)) for path in sources if _STARTS_MOTO.search(path.read_text())
    ]
    assert offenders == [], "start moto through tools/moto_server.py"
