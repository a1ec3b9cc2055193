"""``repo.alias_resolver()`` on both backends: many threads, one backend request per alias
per TTL (counted on the store, and on S3 as HTTP requests too); stale-while-error with
moto behind the fault proxy (S3) and a failing store (local). Fake clocks, no sleeps;
refreshes run in the asking thread (``spawn=at_once``) so that they land in order."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.conftest import fast_retries, fault_proxy, make_faulty_repo  # noqa: F401
from tests.faults.proxy import Fault, FaultProxy
from tests.helpers import LocalBackend, Repository, S3Backend
from tests.requests.test_request_counts import Counter as RequestCounter
from tests.test_resolver import FakeClock, at_once, run_threads
from versioned import exc

TTL = 30.0
THREADS = 16


class CountingStore:
    """Stands in for a store: counts each ``get_alias`` and can make it fail."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.get_alias_calls: Counter[tuple[str, str]] = Counter()
        self.failure: Exception | None = None
        self._lock = threading.Lock()

    def get_alias(self, name: str, alias: str) -> Any:
        with self._lock:
            self.get_alias_calls[name, alias] += 1
        if self.failure is not None:
            raise self.failure
        return self._store.get_alias(name, alias)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def counted_store(repo: Repository) -> CountingStore:
    """Route ``repo``'s store operations through a :class:`CountingStore`."""
    holder: list[CountingStore] = []

    def wrap(store: Any) -> Any:
        holder.append(CountingStore(store))
        return holder[0]

    repo._trace(wrap)
    return holder[0]


def two_aliases(repo: Repository) -> None:
    for content in (b"one", b"two"):
        repo.put_artifact("app", content)
        repo.publish_artifact_version("app")
    repo.put_alias("app", "prod", 1, secondary_version=2, secondary_version_weight=25)
    repo.put_alias("app", "dev", 2)


def hammer(resolver: Any, seen: list[tuple[str, str]]) -> Callable[[int], None]:
    """Each thread asks for both aliases many times and routes a key."""

    def ask(index: int) -> None:
        for round_ in range(20):
            for alias in ("prod", "dev"):
                resolved = resolver.get("app", alias)
                assert not resolved.stale
                seen.append((alias, resolved.alias.version))
            resolver.route("app", "prod", f"user-{index}-{round_}")

    return ask


def test_threads_share_one_request_per_alias_per_ttl(repo: Repository) -> None:
    two_aliases(repo)
    store = counted_store(repo)
    clock = FakeClock()
    resolver = repo.alias_resolver(ttl_seconds=TTL, jitter=0.1, clock=clock, spawn=at_once)
    seen: list[tuple[str, str]] = []
    run_threads(THREADS, hammer(resolver, seen))
    assert store.get_alias_calls == {("app", "prod"): 1, ("app", "dev"): 1}
    assert set(seen) == {("prod", "1"), ("dev", "2")}

    repo.put_alias("app", "dev", 1)
    clock.now = TTL * 1.1  # past every jittered expiry
    for alias in ("prod", "dev"):  # the first ask refreshes; meanwhile it would be stale
        resolver.get("app", alias)
    seen.clear()
    run_threads(THREADS, hammer(resolver, seen))
    assert store.get_alias_calls == {("app", "prod"): 2, ("app", "dev"): 2}
    assert set(seen) == {("prod", "1"), ("dev", "1")}


def test_on_s3_that_is_one_get_item_per_alias(s3_backend: S3Backend) -> None:
    repo = s3_backend.repo
    two_aliases(repo)
    counter = RequestCounter(repo)
    resolver = repo.alias_resolver(ttl_seconds=TTL, clock=FakeClock(), spawn=at_once)
    sent = counter.during(lambda: run_threads(THREADS, hammer(resolver, [])))
    assert sent == ["GetItem", "GetItem"]


def test_local_store_failing_serves_stale(local_backend: LocalBackend) -> None:
    repo = local_backend.repo
    two_aliases(repo)
    store = counted_store(repo)
    clock = FakeClock()
    resolver = repo.alias_resolver(
        ttl_seconds=TTL, jitter=0.0, stale_seconds=60, clock=clock, spawn=at_once
    )
    good = resolver.get("app", "prod").alias
    store.failure = exc.BackendError("disk I/O error")
    clock.now = TTL + 1
    resolver.get("app", "prod")  # the failed refresh (meanwhile, stale without an error)
    seen: list[Any] = []
    run_threads(THREADS, lambda i: seen.append(resolver.get("app", "prod")))
    assert all(r.stale and r.alias == good for r in seen)
    assert all(isinstance(r.error, exc.BackendError) for r in seen)
    assert store.get_alias_calls["app", "prod"] == 2
    clock.now = TTL + 61
    with pytest.raises(exc.BackendError, match="disk I/O"):
        resolver.get("app", "prod")
    store.failure = None
    clock.now += TTL
    assert not resolver.get("app", "prod").stale


def test_s3_failing_behind_the_proxy_serves_stale(
    make_faulty_repo: Callable[..., tuple[Repository, Any]],  # noqa: F811
    fault_proxy: FaultProxy,  # noqa: F811
    fast_retries: None,  # noqa: F811
) -> None:
    repo, _ = make_faulty_repo(retry_attempts=2)
    two_aliases(repo)
    clock = FakeClock()
    resolver = repo.alias_resolver(
        ttl_seconds=TTL, jitter=0.0, stale_seconds=60, clock=clock, spawn=at_once
    )
    good = resolver.get("app", "prod").alias
    fault_proxy.arm(Fault(at=1, kind="throttle", persistent=True))
    clock.now = TTL + 1
    resolver.get("app", "prod")  # the failed refresh (meanwhile, stale without an error)
    seen: list[Any] = []
    run_threads(THREADS, lambda i: seen.append(resolver.get("app", "prod")))
    assert all(r.stale and r.alias == good and r.age_seconds == TTL + 1 for r in seen)
    assert all(isinstance(r.error, exc.BackendError) for r in seen)
    # one refresh, retried by botocore once: never a request per thread
    assert fault_proxy.operations() == ["GetItem", "GetItem"]
    clock.now = TTL + 61
    with pytest.raises(exc.BackendError):
        resolver.get("app", "prod")
    fault_proxy.arm(None)
    clock.now += TTL
    fresh = resolver.get("app", "prod")
    assert not fresh.stale and fresh.alias.version == "1"
    assert fault_proxy.operations() == ["GetItem"]
