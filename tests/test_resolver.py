"""``AliasResolver`` on a scripted backend and a fake clock: one request per alias per
TTL however many threads ask, jittered expiry, stale-while-error. No test sleeps."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from versioned import Alias, AliasResolver, Resolved, exc

TTL, STALE = 30.0, 300.0
WAIT = 10.0  # a bound on waiting for another thread; never reached when all is well


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_alias(name: str = "app", alias: str = "prod", version: str = "1") -> Alias:
    return Alias(
        name=name,
        alias=alias,
        update_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        version=version,
        secondary_version=None,
        secondary_version_weight=None,
        version_uri=f"file:///{name}/{version}",
        secondary_version_uri=None,
    )


class ScriptedBackend:
    """``fetch(name, alias)``: answers from ``answers``, or raises ``failure``; counts calls."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.answers: dict[tuple[str, str], Alias] = {}
        self.failure: BaseException | None = None
        self.hook: Callable[[str, str], None] | None = None
        self._lock = threading.Lock()

    def __call__(self, name: str, alias: str) -> Alias:
        with self._lock:
            self.calls[name, alias] += 1
        if self.hook is not None:
            self.hook(name, alias)
        if self.failure is not None:
            raise self.failure
        found = self.answers.get((name, alias))
        if found is None:
            raise exc.AliasNotFoundError("not found", name=name, alias=alias)
        return found


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend() -> ScriptedBackend:
    scripted = ScriptedBackend()
    scripted.answers["app", "prod"] = make_alias(version="1")
    return scripted


def resolver(
    backend: ScriptedBackend, clock: FakeClock, jitter: float = 0.0, seed: int = 1
) -> AliasResolver[Alias]:
    # refreshes run in the asking thread, so that each test sees them land in order
    return AliasResolver(
        backend, TTL, jitter, STALE, clock=clock, rng=random.Random(seed), spawn=at_once
    )


def at_once(job: Callable[[], None]) -> None:
    job()


def run_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive(), "a thread is stuck"
    assert not errors, errors


def test_many_threads_one_request_per_ttl(backend: ScriptedBackend, clock: FakeClock) -> None:
    threads = 24
    arrived = threading.Semaphore(0)

    def slow_answer(name: str, alias: str) -> None:
        # keep the first request in flight until every thread has started asking
        for _ in range(threads - 1):
            assert arrived.acquire(timeout=WAIT)

    backend.hook = slow_answer
    cache = resolver(backend, clock)
    answers: list[str] = []

    def ask(index: int) -> None:
        if index:
            arrived.release()
        for _ in range(50):
            answers.append(cache.get("app", "prod").alias.version)

    run_threads(threads, ask)
    assert backend.calls["app", "prod"] == 1
    assert set(answers) == {"1"} and len(answers) == threads * 50

    backend.hook = None
    backend.answers["app", "prod"] = make_alias(version="2")
    clock.now = TTL - 0.001
    run_threads(8, lambda i: answers.append(cache.get("app", "prod").alias.version))
    assert backend.calls["app", "prod"] == 1 and answers[-1] == "1"  # not expired yet
    # expired: one thread refreshes; while its request is in flight the others get the
    # last answer, marked stale, without waiting for it
    clock.now = TTL
    in_flight, go_on = threading.Event(), threading.Event()

    def held(name: str, alias: str) -> None:
        in_flight.set()
        assert go_on.wait(WAIT)

    backend.hook = held
    refresher = threading.Thread(
        target=lambda: answers.append(cache.get("app", "prod").alias.version)
    )
    refresher.start()
    assert in_flight.wait(WAIT)
    during: list[Resolved[Alias]] = []
    run_threads(threads, lambda i: during.append(cache.get("app", "prod")))
    assert {(r.alias.version, r.stale) for r in during} == {("1", True)}
    go_on.set()
    refresher.join(WAIT)
    assert backend.calls["app", "prod"] == 2
    run_threads(threads, lambda i: answers.append(cache.get("app", "prod").alias.version))
    assert answers[-threads - 1 :] == ["2"] * (threads + 1)


def test_aliases_refresh_independently(backend: ScriptedBackend, clock: FakeClock) -> None:
    # one alias's slow request must not hold up another's: each waits for the other here
    backend.answers["app", "dev"] = make_alias(alias="dev", version="3")
    started = {alias: threading.Event() for alias in ("prod", "dev")}

    def meet(name: str, alias: str) -> None:
        started[alias].set()
        other = "dev" if alias == "prod" else "prod"
        assert started[other].wait(WAIT), "the other alias's request never started"

    backend.hook = meet
    cache = resolver(backend, clock)
    run_threads(2, lambda i: cache.get("app", ("prod", "dev")[i]))
    assert backend.calls == {("app", "prod"): 1, ("app", "dev"): 1}


def test_age_counts_from_the_answer(backend: ScriptedBackend, clock: FakeClock) -> None:
    cache = resolver(backend, clock)
    clock.now = 100.0
    first = cache.get("app", "prod")
    assert (first.stale, first.age_seconds, first.error) == (False, 0.0, None)
    clock.now = 112.5
    assert cache.get("app", "prod").age_seconds == 12.5


def test_expiry_is_spread_by_the_jitter(clock: FakeClock) -> None:
    backend = ScriptedBackend()
    names = [f"app{i}" for i in range(200)]
    for name in names:
        backend.answers[name, "prod"] = make_alias(name)
    cache = resolver(backend, clock, jitter=0.1, seed=7)
    refreshed_at: dict[str, float] = {}
    step = 0.05
    for tick in range(int(40 / step)):
        clock.now = tick * step
        for name in names:
            cache.get(name, "prod")
            if backend.calls[name, "prod"] == 2 and name not in refreshed_at:
                refreshed_at[name] = clock.now
    assert set(refreshed_at) == set(names)
    times = sorted(refreshed_at.values())
    # each answer lived ttl * (1 +- jitter): 27 to 33 s, and the fleet drifted apart
    assert times[0] >= 27.0 and times[-1] <= 33.0 + step
    assert times[0] < 28.0 and times[-1] > 32.0
    assert len(set(times)) > 50


def test_without_jitter_every_answer_lives_exactly_the_ttl(
    backend: ScriptedBackend, clock: FakeClock
) -> None:
    cache = resolver(backend, clock, jitter=0.0)
    for now in (0.0, 29.999, 30.0, 59.999, 60.0):
        clock.now = now
        cache.get("app", "prod")
    assert backend.calls["app", "prod"] == 3


def test_stale_while_error_then_the_error(backend: ScriptedBackend, clock: FakeClock) -> None:
    cache = resolver(backend, clock)
    good = cache.get("app", "prod").alias
    backend.failure = exc.BackendError("DynamoDB throttled us")
    clock.now = 31.0
    stale = cache.get("app", "prod")
    assert stale.stale and stale.alias is good and stale.age_seconds == 31.0
    assert isinstance(stale.error, exc.BackendError)
    assert "throttled" in str(stale.error)
    assert backend.calls["app", "prod"] == 2
    # a failed refresh is retried one TTL later, not by every call in between
    for now in (35.0, 50.0, 60.9):
        clock.now = now
        assert cache.get("app", "prod").stale
    assert backend.calls["app", "prod"] == 2
    clock.now = 61.0
    assert cache.get("app", "prod").stale
    assert backend.calls["app", "prod"] == 3
    # served up to stale_seconds past the good answer's expiry (30 + 300), no longer
    clock.now = 30.0 + STALE
    assert cache.get("app", "prod").stale
    clock.now = 30.0 + STALE + 1
    with pytest.raises(exc.BackendError, match="throttled"):
        cache.get("app", "prod")
    calls = backend.calls["app", "prod"]
    with pytest.raises(exc.BackendError):
        cache.get("app", "prod")  # still the cached failure: no request
    assert backend.calls["app", "prod"] == calls
    # the backend recovers: the next refresh answers fresh
    backend.failure = None
    backend.answers["app", "prod"] = make_alias(version="2")
    clock.now += TTL
    fresh = cache.get("app", "prod")
    assert (fresh.stale, fresh.error, fresh.alias.version) == (False, None, "2")


def test_route_serves_the_stale_answer(backend: ScriptedBackend, clock: FakeClock) -> None:
    backend.answers["app", "prod"] = Alias(
        **{**make_alias().__dict__, "secondary_version": "2", "secondary_version_weight": 50}
    )
    cache = resolver(backend, clock)
    keys = [f"user-{i}" for i in range(20)]
    before = [cache.route("app", "prod", k) for k in keys]
    backend.failure = exc.BackendError("down")
    clock.now = 100.0
    assert [cache.route("app", "prod", k) for k in keys] == before
    assert set(before) == {"1", "2"}


def test_a_first_failure_raises_and_is_retried_after_a_ttl(
    backend: ScriptedBackend, clock: FakeClock
) -> None:
    backend.failure = exc.BackendError("no table")
    cache = resolver(backend, clock)
    for _ in range(3):
        with pytest.raises(exc.BackendError):
            cache.get("app", "prod")
    assert backend.calls["app", "prod"] == 1
    backend.failure = None
    clock.now = TTL
    assert not cache.get("app", "prod").stale


def test_a_missing_alias_is_an_answer(backend: ScriptedBackend, clock: FakeClock) -> None:
    cache = resolver(backend, clock)
    for _ in range(3):
        with pytest.raises(exc.AliasNotFoundError) as info:
            cache.get("app", "dev")
        assert (info.value.name, info.value.alias) == ("app", "dev")
    assert backend.calls["app", "dev"] == 1
    # an alias deleted since the last answer is not served stale: it is gone
    cache.get("app", "prod")
    del backend.answers["app", "prod"]
    clock.now = TTL
    with pytest.raises(exc.AliasNotFoundError):
        cache.get("app", "prod")
    backend.failure = exc.BackendError("down")
    clock.now = 2 * TTL
    with pytest.raises(exc.BackendError):
        cache.get("app", "prod")


def test_other_errors_are_not_cached(backend: ScriptedBackend, clock: FakeClock) -> None:
    backend.failure = RuntimeError("a bug, not an answer")
    cache = resolver(backend, clock)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            cache.get("app", "prod")
    assert backend.calls["app", "prod"] == 2
    backend.failure = None
    assert cache.get("app", "prod").alias.version == "1"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"ttl_seconds": 0}, exc.InvalidArgumentError),
        ({"ttl_seconds": float("inf")}, exc.InvalidArgumentError),
        ({"ttl_seconds": "30"}, exc.InvalidArgumentTypeError),
        ({"jitter": 1.0}, exc.InvalidArgumentError),
        ({"jitter": -0.1}, exc.InvalidArgumentError),
        ({"stale_seconds": -1}, exc.InvalidArgumentError),
        ({"stale_seconds": True}, exc.InvalidArgumentTypeError),
    ],
)
def test_bad_settings_are_refused(options: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        AliasResolver(ScriptedBackend(), **options)  # type: ignore[arg-type]


def test_bad_arguments_raise_before_any_request(backend: ScriptedBackend, clock: FakeClock) -> None:
    cache = resolver(backend, clock)
    with pytest.raises(exc.InvalidArgumentError):
        cache.get("app", "pr-od")
    with pytest.raises(exc.InvalidArgumentError):
        cache.get("__app", "prod")
    with pytest.raises(exc.InvalidArgumentError):
        cache.route("app", "prod", "")
    with pytest.raises(exc.InvalidArgumentTypeError):
        cache.route("app", "prod", None)  # type: ignore[arg-type]
    assert not backend.calls
