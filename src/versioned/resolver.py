"""A resolver for long-running clients: alias answers cached per process, shared by threads.

``repo.alias_resolver(ttl_seconds=30.0, jitter=0.1, stale_seconds=300.0)`` makes one. It
promises, per alias (an artifact name and an alias name):

- **one request per TTL**: the backend is asked at most once per (jittered) TTL, however
  many threads ask. This holds when the backend fails too (a failed refresh is tried
  again one jittered TTL later, not on the next call), so a fleet never piles onto a
  struggling table;
- **jittered expiry**: each answer is kept for ``ttl * (1 + u)`` with ``u`` drawn
  uniformly from ``[-jitter, +jitter]``, so processes started together drift apart
  instead of refreshing in lockstep;
- **refresh in the background, stale while it runs**: a refresh runs in a thread of its
  own (one per alias at a time, at most ``max_refreshes`` at once), never in the caller's.
  While it runs, callers get the last good answer at once, marked ``stale=True``: a hung
  backend read never holds up an answer the cache can give;
- **stale-while-error**: when a refresh fails with a :class:`~versioned.exc.BackendError`,
  the last good answer keeps being served for up to ``stale_seconds`` past its expiry,
  marked ``stale=True`` with the error; after that the error is raised. An alias found
  missing is an answer, not an error: AliasNotFoundError is raised (and cached for at
  most ``missing_seconds``, shorter than a TTL: such names are often typos or probes)
  and any older answer is forgotten;
- **bounded waits**: a caller with nothing to be served (the alias's first read, or
  its last good answer is too old) waits for the refresh in flight at most
  ``wait_seconds``, then gets AliasResolveTimeoutError; so does a caller whose alias
  needs a refresh when ``max_refreshes`` are already in flight. :meth:`get` waits in the
  calling thread; :meth:`get_nowait` never waits but hands back the refresh's future, for
  an event loop to await without holding a thread (``versioned serve`` does);
- **bounded memory**: at most ``max_entries`` aliases are remembered, the least recently
  asked for forgotten first; errors are kept without their traceback or cause (a
  backend's traceback holds its whole stack, tens of KB), so a flood of requests for
  distinct missing aliases costs at most ``max_entries`` small entries.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, TypeVar

from . import arguments as args
from .exc import (
    AliasNotFoundError,
    AliasResolveTimeoutError,
    BackendError,
    InvalidArgumentError,
    VersionedError,
)
from .model import Alias

__all__ = ["AliasResolver", "Resolved"]

AliasT = TypeVar("AliasT", bound=Alias)
Clock = Callable[[], float]
#: starts a refresh: called with the job, which it must run exactly once, now or soon
Spawn = Callable[[Callable[[], None]], None]

MAX_ENTRIES = 10_000
MAX_REFRESHES = 16


@dataclass(frozen=True)
class Resolved(Generic[AliasT]):
    """An alias as the resolver answers it.

    ``age_seconds``: how long ago the answer was read from the backend. ``stale``: the
    answer is past its expiry (a refresh is in flight, or the last one failed); ``error``
    is the failed refresh's error, without its traceback (``None`` while no refresh of
    this answer has failed).
    """

    alias: AliasT
    stale: bool
    age_seconds: float
    error: VersionedError | None = None


class _Entry(Generic[AliasT]):
    """What the resolver knows about one alias; guarded by the resolver's lock."""

    __slots__ = ("alias", "error", "fetched_at", "good_until", "next_refresh", "pending")

    def __init__(self) -> None:
        self.alias: AliasT | None = None  # the last good answer
        self.fetched_at = 0.0  # when it arrived
        self.good_until = 0.0  # when it expires
        self.next_refresh = float("-inf")  # no request before this time
        self.error: VersionedError | None = None  # the last refresh's error, if it failed
        self.pending: Future[None] | None = None  # the refresh in flight


def _in_a_thread(job: Callable[[], None]) -> None:
    # a daemon thread: a backend read hung past its timeouts must not keep the process up
    threading.Thread(target=job, name="versioned-resolver-refresh", daemon=True).start()


class AliasResolver(Generic[AliasT]):
    """Resolves aliases through ``fetch(name, alias)`` with the promises of this module.

    Safe to share between threads. ``clock`` (monotonic seconds), ``rng`` and ``spawn``
    (how a refresh job is started: a daemon thread by default; a test may run it at once)
    are for tests and simulations. Raises InvalidArgumentError / InvalidArgumentTypeError
    for a ``ttl_seconds`` not above 0, a ``jitter`` outside ``[0, 1)``, a negative
    ``stale_seconds``, ``missing_seconds`` or ``wait_seconds``, or a ``max_entries`` /
    ``max_refreshes`` below 1.
    """

    def __init__(
        self,
        fetch: Callable[[str, str], AliasT],
        ttl_seconds: float = 30.0,
        jitter: float = 0.1,
        stale_seconds: float = 300.0,
        *,
        missing_seconds: float = 5.0,
        wait_seconds: float = 10.0,
        max_entries: int = MAX_ENTRIES,
        max_refreshes: int = MAX_REFRESHES,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        self.ttl_seconds = args.check_seconds(ttl_seconds, "ttl_seconds", positive=True)
        self.jitter = args.check_seconds(jitter, "jitter")
        if self.jitter >= 1:
            raise InvalidArgumentError(f"jitter must be below 1, got {jitter!r}")
        self.stale_seconds = args.check_seconds(stale_seconds, "stale_seconds")
        self.missing_seconds = args.check_seconds(missing_seconds, "missing_seconds")
        self.wait_seconds = args.check_seconds(wait_seconds, "wait_seconds")
        self.max_entries = args.check_non_negative_int(max_entries, "max_entries")
        self.max_refreshes = args.check_non_negative_int(max_refreshes, "max_refreshes")
        if not (self.max_entries and self.max_refreshes):
            raise InvalidArgumentError(
                f"max_entries and max_refreshes must be 1 or more, got {max_entries!r} "
                f"and {max_refreshes!r}"
            )
        self._fetch = fetch
        self._clock = clock or time.monotonic
        self._rng = rng or random.Random()
        self._spawn = spawn or _in_a_thread
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], _Entry[AliasT]] = OrderedDict()
        self._refreshing = 0

    def __len__(self) -> int:
        """How many aliases the resolver remembers now (at most ``max_entries``)."""
        with self._lock:
            return len(self._entries)

    def get(self, name: str, alias: str) -> Resolved[AliasT]:
        """Return the alias from the cache, fresh or stale; with nothing to serve, wait at
        most ``wait_seconds`` (in this thread) for the refresh in flight.

        Raises InvalidArgumentError / InvalidArgumentTypeError for a bad name or alias,
        AliasNotFoundError if the backend said the alias does not exist, BackendError if
        the backend failed and no good answer is at most ``stale_seconds`` past expiry,
        AliasResolveTimeoutError when no answer came in time; an unexpected error of the
        fetch (a bug) is raised to the callers that waited for it and not cached.
        """
        deadline = time.monotonic() + self.wait_seconds
        while True:
            found = self.get_nowait(name, alias)
            if isinstance(found, Resolved):
                return found
            try:
                found.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                raise self.timed_out(name, alias) from None

    def get_nowait(self, name: str, alias: str) -> Resolved[AliasT] | Future[None]:
        """The answer the cache can give now (starting a refresh when one is due), or,
        when it has none, the future of the refresh to wait for (its result is None or
        the fetch's unexpected error; then ask again). Never blocks on the backend.

        Raises as :meth:`get`, AliasResolveTimeoutError at once when a refresh is due
        but ``max_refreshes`` are in flight and nothing can be served meanwhile.
        """
        key = (args.check_name(name), args.check_alias(alias))
        with self._lock:
            entry = self._entry(key)
            started = self._start_if_due(entry)
        if started is not None:
            self._spawn(lambda: self._refresh(entry, key, started))
        with self._lock:
            answer = self._answer(entry, self._clock())
            if answer is not None:
                return answer
            waiting = entry.pending or started
        if waiting is None:
            raise AliasResolveTimeoutError(
                f"no answer for alias {key[1]!r} of {key[0]!r}: {self.max_refreshes} "
                "backend reads are already in flight; try again shortly",
                name=key[0],
                alias=key[1],
            )
        return waiting

    def timed_out(self, name: str, alias: str) -> AliasResolveTimeoutError:
        """The error for a caller that waited ``wait_seconds`` for the alias in vain."""
        return AliasResolveTimeoutError(
            f"no answer for alias {alias!r} of {name!r} within {self.wait_seconds:g} s: "
            "the backend has not answered yet; try again shortly",
            name=name,
            alias=alias,
        )

    def route(self, name: str, alias: str, key: str) -> str:
        """Return the version ``key`` gets under the alias (``Alias.route`` on :meth:`get`'s
        answer, stale or not). Raises as ``Alias.route`` (checked first) and :meth:`get`."""
        args.check_route_key(key)
        return self.get(name, alias).alias.route(key)

    def _entry(self, key: tuple[str, str]) -> _Entry[AliasT]:
        """The alias's entry, made if new and marked most recently used; the least
        recently used beyond ``max_entries`` are forgotten (caller holds the lock)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        entry = self._entries[key] = _Entry()
        while len(self._entries) > self.max_entries:
            # a forgotten entry's refresh in flight still answers its own waiters
            self._entries.popitem(last=False)
        return entry

    def _start_if_due(self, entry: _Entry[AliasT]) -> Future[None] | None:
        """Mark a refresh of ``entry`` started and return its future when one is due,
        none is in flight and fewer than ``max_refreshes`` are (caller holds the lock)."""
        if entry.pending is not None or self._clock() < entry.next_refresh:
            return None
        if self._refreshing >= self.max_refreshes:
            return None
        future: Future[None] = Future()
        # running from the start: a waiter giving up (an event loop cancelling its
        # wrapper on a timeout) then cannot cancel it for the other waiters
        future.set_running_or_notify_cancel()
        entry.pending = future
        self._refreshing += 1
        return future

    def _refresh(self, entry: _Entry[AliasT], key: tuple[str, str], future: Future[None]) -> None:
        """Ask the backend and record the outcome in ``entry``; then complete ``future``."""
        fetched: AliasT | None = None
        error: VersionedError | None = None
        try:
            fetched = self._fetch(*key)
        except (AliasNotFoundError, BackendError) as failure:
            error = _bare(failure)
        except BaseException as bug:
            # not an answer about the alias (a bug, an interrupt): nothing to cache, but
            # the callers waiting for this refresh get it
            with self._lock:
                entry.pending = None
                self._refreshing -= 1
            future.set_exception(bug)
            return
        with self._lock:
            now = self._clock()
            life = self._lifetime()
            if isinstance(error, AliasNotFoundError):
                life = min(life, self.missing_seconds)
                entry.alias = None
            entry.next_refresh = now + life
            entry.error = error
            if fetched is not None:
                entry.alias, entry.fetched_at, entry.good_until = fetched, now, now + life
            entry.pending = None
            self._refreshing -= 1
        future.set_result(None)

    def _lifetime(self) -> float:
        """A TTL with this resolver's jitter applied."""
        return self.ttl_seconds * (1 + self._rng.uniform(-self.jitter, self.jitter))

    def _answer(self, entry: _Entry[AliasT], now: float) -> Resolved[AliasT] | None:
        """What a caller gets from ``entry`` at ``now``: an answer, a raised error, or
        None when there is nothing to serve until a refresh lands (caller holds the lock)."""
        error = entry.error
        if entry.alias is not None:
            age = now - entry.fetched_at
            if error is None and now < entry.good_until:
                return Resolved(entry.alias, False, age)
            if now <= entry.good_until + self.stale_seconds:
                return Resolved(entry.alias, True, age, error)
            if entry.pending is not None or error is None:
                return None  # too old to serve: wait for the refresh
            raise _again(error)
        if isinstance(error, AliasNotFoundError):
            raise _again(error)  # an answer, served while it is refreshed too
        if error is not None and entry.pending is None:
            raise _again(error)  # the backend failed; tried again after the TTL
        return None


def _bare(error: VersionedError) -> VersionedError:
    """A copy of ``error`` without traceback, cause or context, to keep in the cache: the
    original holds every frame of the failed request (tens of KB each)."""
    copy: VersionedError
    if isinstance(error, AliasNotFoundError):
        copy = AliasNotFoundError(str(error), name=error.name, alias=error.alias)
    else:
        copy = type(error)(str(error))
    return copy


def _again(error: VersionedError) -> VersionedError:
    """A new error like ``error`` (caused by it), for one more caller: raising the very
    same object from many threads would tangle their tracebacks."""
    copy = _bare(error)
    copy.__cause__ = error
    return copy
