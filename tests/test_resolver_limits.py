"""``AliasResolver`` when the backend hangs or is flooded: refreshes run in a thread of
their own and the last answer is served meanwhile, waits for a first answer are bounded,
and memory is bounded (LRU entries; not-found answers short-lived, kept without their
traceback). Real threads, a scripted backend; nothing waits longer than a bound."""

from __future__ import annotations

import threading
import time

import pytest

from tests.test_resolver import WAIT, FakeClock, ScriptedBackend, at_once, make_alias
from versioned import Alias, AliasResolver, exc


def hanging(backend: ScriptedBackend, alias: str) -> tuple[threading.Event, threading.Event]:
    """Make the backend's reads of ``alias`` hang until the second event is set; the
    first is set when such a read starts."""
    started, release = threading.Event(), threading.Event()

    def hook(name: str, asked: str) -> None:
        if asked == alias:
            started.set()
            assert release.wait(WAIT)

    backend.hook = hook
    return started, release


@pytest.fixture
def backend() -> ScriptedBackend:
    scripted = ScriptedBackend()
    scripted.answers["app", "prod"] = make_alias(version="1")
    scripted.answers["app", "dev"] = make_alias(alias="dev", version="7")
    return scripted


def test_a_hung_refresh_never_holds_up_the_cached_answer(backend: ScriptedBackend) -> None:
    clock = FakeClock()
    cache: AliasResolver[Alias] = AliasResolver(backend, 30.0, 0.0, 300.0, clock=clock)
    assert cache.get("app", "prod").alias.version == "1"
    started, release = hanging(backend, "prod")
    backend.answers["app", "prod"] = make_alias(version="2")
    clock.now = 31.0
    try:
        began = time.monotonic()
        answers = [cache.get("app", "prod") for _ in range(100)]
        took = time.monotonic() - began
        assert started.wait(WAIT), "no refresh started"
        assert {(a.alias.version, a.stale, a.error) for a in answers} == {("1", True, None)}
        assert took < 1.0  # not one of them waited for the hung read
        assert backend.calls["app", "prod"] == 2  # one refresh in flight, not one a call
        assert cache.get("app", "dev").alias.version == "7"  # other aliases go on
    finally:
        release.set()
    deadline = time.monotonic() + WAIT
    while (found := cache.get("app", "prod")).stale:
        assert time.monotonic() < deadline, "the refresh never landed"
        time.sleep(0.01)
    assert found.alias.version == "2"


def test_a_first_read_is_waited_for_at_most_wait_seconds(backend: ScriptedBackend) -> None:
    cache: AliasResolver[Alias] = AliasResolver(backend, wait_seconds=0.2)
    started, release = hanging(backend, "prod")
    try:
        began = time.monotonic()
        with pytest.raises(exc.AliasResolveTimeoutError, match="'prod' of 'app'") as info:
            cache.get("app", "prod")
        assert 0.2 <= time.monotonic() - began < 2.0
        assert started.is_set()
        assert (info.value.name, info.value.alias) == ("app", "prod")
        assert isinstance(info.value, exc.BackendError)
        pending = cache.get_nowait("app", "prod")
        assert not isinstance(pending, exc.VersionedError) and not pending.done()
        assert backend.calls["app", "prod"] == 1
    finally:
        release.set()
    assert cache.get("app", "prod").alias.version == "1"


def test_refreshes_in_flight_are_bounded(backend: ScriptedBackend) -> None:
    cache: AliasResolver[Alias] = AliasResolver(backend, wait_seconds=5.0, max_refreshes=1)
    started, release = hanging(backend, "prod")
    try:
        pending = cache.get_nowait("app", "prod")
        assert started.wait(WAIT)
        began = time.monotonic()
        with pytest.raises(exc.AliasResolveTimeoutError, match="in flight") as info:
            cache.get("app", "dev")  # answered at once, not after wait_seconds
        assert time.monotonic() - began < 1.0
        assert info.value.alias == "dev"
        assert backend.calls["app", "dev"] == 0
    finally:
        release.set()
    assert not isinstance(pending, exc.VersionedError)
    pending.result(WAIT)
    assert cache.get("app", "dev").alias.version == "7"


def test_memory_is_bounded_by_max_entries_least_recently_used_first(
    backend: ScriptedBackend,
) -> None:
    clock = FakeClock()
    cache: AliasResolver[Alias] = AliasResolver(
        backend, clock=clock, max_entries=100, spawn=at_once
    )
    cache.get("app", "prod")
    for n in range(1_000):
        with pytest.raises(exc.AliasNotFoundError):
            cache.get("app", f"miss{n}")
        cache.get("app", "prod")  # kept: used all along
    assert len(cache) == 100
    assert backend.calls["app", "prod"] == 1
    with pytest.raises(exc.AliasNotFoundError):
        cache.get("app", "miss0")  # forgotten: asked again
    assert backend.calls["app", "miss0"] == 2


def test_a_missing_alias_is_remembered_briefly_and_without_its_traceback(
    backend: ScriptedBackend,
) -> None:
    clock = FakeClock()
    cache: AliasResolver[Alias] = AliasResolver(
        backend, 30.0, 0.0, clock=clock, missing_seconds=5.0, spawn=at_once
    )
    with pytest.raises(exc.AliasNotFoundError) as info:
        cache.get("app", "typo")
    kept = info.value.__cause__
    assert isinstance(kept, exc.AliasNotFoundError)
    assert (kept.__traceback__, kept.__cause__, kept.__context__) == (None, None, None)
    clock.now = 4.9
    with pytest.raises(exc.AliasNotFoundError):
        cache.get("app", "typo")
    assert backend.calls["app", "typo"] == 1
    clock.now = 5.0
    with pytest.raises(exc.AliasNotFoundError):
        cache.get("app", "typo")
    assert backend.calls["app", "typo"] == 2


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_entries": 0}, exc.InvalidArgumentError),
        ({"max_refreshes": 0}, exc.InvalidArgumentError),
        ({"max_entries": 1.5}, exc.InvalidArgumentTypeError),
        ({"wait_seconds": -1}, exc.InvalidArgumentError),
        ({"missing_seconds": float("nan")}, exc.InvalidArgumentError),
    ],
)
def test_bad_limits_are_refused(options: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        AliasResolver(ScriptedBackend(), **options)  # type: ignore[arg-type]
