"""The ``Host`` check (:class:`versioned.server.hosts.AllowedHosts`) gives the same answer
for a header however often it comes, and however many distinct headers came before."""

from __future__ import annotations

import pytest

from versioned.server.hosts import SEEN, AllowedHosts

pytestmark = pytest.mark.timeout(60)


async def _inner(scope: object, receive: object, send: object) -> None:
    raise AssertionError("never called")


def test_each_header_gets_the_same_answer_every_time() -> None:
    hosts = AllowedHosts(_inner, allowed=("localhost", "artifacts.internal"))
    cases = {
        b"localhost:8000": True,
        b"artifacts.internal": True,
        b"127.0.0.1:9": True,
        b"[::1]:80": True,
        b"evil.example": False,
        b"127.0.0.1.evil.example": False,
        b"": False,
    }
    for _ in range(3):
        for header, allowed in cases.items():
            assert hosts.allows(header) is allowed, header


def test_many_distinct_headers_change_no_answer() -> None:
    hosts = AllowedHosts(_inner, allowed=("localhost",))
    for number in range(SEEN * 3):
        assert not hosts.allows(f"probe{number}.example".encode())
        assert hosts.allows(b"localhost")
    assert len(hosts._seen) <= SEEN
