"""The server while the backend hangs on one alias (moto behind the fault proxy, which
holds that alias's read): requests for it wait without holding a worker thread and get
504 with Retry-After after a bounded time, or the last good answer marked stale; the
other aliases and ``/healthz`` keep answering fast."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.faults.conftest import fault_proxy, make_faulty_repo  # noqa: F401
from tests.faults.proxy import FaultProxy, Hold
from tests.helpers import Repository
from tests.server.conftest import Live, fill
from versioned.server import ServerSettings

pytestmark = pytest.mark.timeout(180)

WAITERS = 100
WAIT_SECONDS = 5.0
#: the bound on the answers that must not wait for the hung read
P99_SECONDS = 0.050


def resolve_path(alias: str) -> str:
    return f"/api/artifacts/model/aliases/{alias}/resolve?key=k"


def p99(live: Live, path: str, count: int = 200) -> float:
    """The 99th percentile of ``count`` sequential GETs of ``path`` (each must be 200)."""
    took = []
    for _ in range(count):
        began = time.perf_counter()
        answer = live.client.get(path)
        took.append(time.perf_counter() - began)
        assert answer.status_code == 200, (path, answer.text)
    return sorted(took)[int(count * 0.99) - 1]


def hung_server(
    make_faulty_repo: Callable[..., tuple[Repository, Any]],  # noqa: F811
    serve: Callable[..., Live],
    ttl: float,
) -> Live:
    repo, _ = make_faulty_repo()
    fill(repo)
    repo.put_alias("model", "other", 2)
    return serve(repo, ServerSettings(resolver_ttl_seconds=ttl, resolver_wait_seconds=WAIT_SECONDS))


def test_a_hung_alias_holds_up_neither_healthz_nor_other_aliases(
    make_faulty_repo: Callable[..., tuple[Repository, Any]],  # noqa: F811
    fault_proxy: FaultProxy,  # noqa: F811
    serve: Callable[..., Live],
) -> None:
    live = hung_server(make_faulty_repo, serve, ttl=600.0)
    assert live.client.get(resolve_path("other")).status_code == 200  # cached from now on
    fault_proxy.arm(None, Hold(operation="GetItem"))  # the next alias read hangs
    try:
        with ThreadPoolExecutor(WAITERS) as pool:
            began = time.monotonic()
            waiting = [
                pool.submit(httpx.get, live.url + resolve_path("prod")[1:], timeout=60)
                for _ in range(WAITERS)
            ]
            assert fault_proxy.wait_held(30), "the read of prod never reached the backend"
            time.sleep(0.5)  # every waiter has connected and is waiting now
            healthz = p99(live, "/healthz")
            other = p99(live, resolve_path("other"))
            assert not any(w.done() for w in waiting), "a waiter gave up too early"
            answers = [w.result() for w in waiting]
            took = time.monotonic() - began
        print(
            f"\np99 while {WAITERS} wait: /healthz {healthz * 1000:.1f} ms, "
            f"another alias {other * 1000:.1f} ms"
        )
        assert healthz < P99_SECONDS and other < P99_SECONDS
        assert {a.status_code for a in answers} == {504}
        assert {a.headers.get("retry-after") for a in answers} == {"1"}
        error = answers[0].json()["error"]
        assert (error["kind"], error["name"], error["alias"]) == (
            "AliasResolveTimeoutError",
            "model",
            "prod",
        )
        assert WAIT_SECONDS <= took < WAIT_SECONDS + 20
        assert fault_proxy.operations() == ["GetItem"]  # one read for them all
    finally:
        fault_proxy.release()
    deadline = time.monotonic() + 30
    while (answer := live.client.get(resolve_path("prod"))).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)
    assert answer.json()["version"] in ("1", "2")


def test_a_hung_refresh_serves_the_last_answer_stale_at_once(
    make_faulty_repo: Callable[..., tuple[Repository, Any]],  # noqa: F811
    fault_proxy: FaultProxy,  # noqa: F811
    serve: Callable[..., Live],
) -> None:
    live = hung_server(make_faulty_repo, serve, ttl=0.3)
    good = live.client.get(resolve_path("prod")).json()
    assert good["stale"] is False
    fault_proxy.arm(None, Hold(operation="GetItem"))
    time.sleep(0.4)  # expired: the next ask starts the refresh that hangs
    try:
        first = live.client.get(resolve_path("prod"))
        assert fault_proxy.wait_held(30)
        answers = [first] + [live.client.get(resolve_path("prod")) for _ in range(50)]
        assert {a.status_code for a in answers} == {200}
        assert {(a.json()["stale"], a.json()["revision"]) for a in answers} == {
            (True, good["revision"])
        }
        assert max(a.elapsed.total_seconds() for a in answers) < 1.0
        assert fault_proxy.operations() == ["GetItem"]  # one refresh, not one a request
    finally:
        fault_proxy.release()


def test_a_hung_rollout_read_holds_up_neither_healthz_nor_resolving(
    make_faulty_repo: Callable[..., tuple[Repository, Any]],  # noqa: F811
    fault_proxy: FaultProxy,  # noqa: F811
    serve: Callable[..., Live],
) -> None:
    """An incident: one rollout status read hangs in the backend while people keep asking;
    the health check, the cached resolve and the other status reads still answer."""
    live = hung_server(make_faulty_repo, serve, ttl=600.0)
    assert live.client.get(resolve_path("other")).status_code == 200  # cached from now on
    fault_proxy.arm(None, Hold(operation="Query"))  # the rollout record's read hangs
    try:
        with ThreadPoolExecutor(8) as pool:
            waiting = [
                pool.submit(
                    httpx.get, live.url + "api/artifacts/model/aliases/other/rollout", timeout=15
                )
                for _ in range(8)
            ]
            assert fault_proxy.wait_held(30), "the rollout read never reached the backend"
            time.sleep(0.5)
            healthz = p99(live, "/healthz")
            other = p99(live, resolve_path("other"))
            # the held read keeps one request waiting; the others are answered meanwhile
            assert sum(not w.done() for w in waiting) == 1
            answered = [w.result().status_code for w in waiting if w.done()]
        shown = f"/healthz {healthz * 1000:.1f} ms, resolve {other * 1000:.1f} ms"
        print(f"\np99 while a rollout read hangs: {shown}")
    finally:
        fault_proxy.release()
    assert healthz < P99_SECONDS and other < P99_SECONDS
    assert set(answered) == {404}  # no rollout on "other": answered while one read hangs
