"""A resolver for long-running clients: alias answers cached per process, shared by threads.

``repo.alias_resolver(ttl_seconds=30.0, jitter=0.1, stale_seconds=300.0)`` makes one. It
promises, per alias (an artifact name and an alias name):

- **one request per TTL**: the backend is asked at most once per (jittered) TTL, however
  many threads ask; while one thread's request is in flight the others wait for its
  answer instead of sending their own. This holds when the backend fails too (a failed
  refresh is tried again one jittered TTL later, not on the next call), so a fleet never
  piles onto a struggling table;
- **jittered expiry**: each answer is kept for ``ttl * (1 + u)`` with ``u`` drawn
  uniformly from ``[-jitter, +jitter]``, so processes started together drift apart
  instead of refreshing in lockstep;
- **stale-while-error**: when a refresh fails with a :class:`~versioned.exc.BackendError`,
  the last good answer keeps being served for up to ``stale_seconds`` past its expiry,
  marked ``stale=True`` with the error; after that the error is raised. An alias found
  missing is an answer, not an error: AliasNotFoundError is raised (and cached for a TTL)
  and any older answer is forgotten.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from . import arguments as args
from .exc import AliasNotFoundError, BackendError, InvalidArgumentError, VersionedError
from .model import Alias

__all__ = ["AliasResolver", "Resolved"]

AliasT = TypeVar("AliasT", bound=Alias)
Clock = Callable[[], float]


@dataclass(frozen=True)
class Resolved(Generic[AliasT]):
    """An alias as the resolver answers it.

    ``age_seconds``: how long ago the answer was read from the backend. ``stale``: the
    last refresh failed and this is the last good answer, past its expiry; ``error`` is
    that refresh's error (``None`` when ``stale`` is False).
    """

    alias: AliasT
    stale: bool
    age_seconds: float
    error: VersionedError | None = None


class _Entry(Generic[AliasT]):
    """What the resolver knows about one alias; guarded by the resolver's lock."""

    def __init__(self) -> None:
        self.alias: AliasT | None = None  # the last good answer
        self.fetched_at = 0.0  # when it arrived
        self.good_until = 0.0  # when it expires
        self.next_refresh = float("-inf")  # no request before this time
        self.error: VersionedError | None = None  # the last refresh's error, if it failed
        self.refreshing = False


class AliasResolver(Generic[AliasT]):
    """Resolves aliases through ``fetch(name, alias)`` with the promises of this module.

    Safe to share between threads. ``clock`` (monotonic seconds) and ``rng`` are for
    tests and simulations; the defaults are ``time.monotonic`` and a private
    ``random.Random``. Raises InvalidArgumentError / InvalidArgumentTypeError for a
    ``ttl_seconds`` not above 0, a ``jitter`` outside ``[0, 1)`` or a negative
    ``stale_seconds``.
    """

    def __init__(
        self,
        fetch: Callable[[str, str], AliasT],
        ttl_seconds: float = 30.0,
        jitter: float = 0.1,
        stale_seconds: float = 300.0,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.ttl_seconds = args.check_seconds(ttl_seconds, "ttl_seconds", positive=True)
        self.jitter = args.check_seconds(jitter, "jitter")
        if self.jitter >= 1:
            raise InvalidArgumentError(f"jitter must be below 1, got {jitter!r}")
        self.stale_seconds = args.check_seconds(stale_seconds, "stale_seconds")
        self._fetch = fetch
        self._clock = clock or time.monotonic
        self._rng = rng or random.Random()
        self._lock = threading.Condition()
        self._entries: dict[tuple[str, str], _Entry[AliasT]] = {}

    def get(self, name: str, alias: str) -> Resolved[AliasT]:
        """Return the alias, from the cache while it is fresh, else asking the backend.

        Raises InvalidArgumentError / InvalidArgumentTypeError for a bad name or alias,
        AliasNotFoundError if the backend said the alias does not exist, BackendError if
        the backend failed and no good answer is at most ``stale_seconds`` past expiry.
        """
        key = (args.check_name(name), args.check_alias(alias))
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            while True:
                if entry.refreshing:
                    self._lock.wait()  # another thread's request answers us too
                    continue
                now = self._clock()
                if now < entry.next_refresh:
                    return self._answer(entry, now)
                entry.refreshing = True
                break
        return self._refresh(entry, key)

    def route(self, name: str, alias: str, key: str) -> str:
        """Return the version ``key`` gets under the alias (``Alias.route`` on :meth:`get`'s
        answer, stale or not). Raises as ``Alias.route`` (checked first) and :meth:`get`."""
        args.check_route_key(key)
        return self.get(name, alias).alias.route(key)

    def _refresh(self, entry: _Entry[AliasT], key: tuple[str, str]) -> Resolved[AliasT]:
        """Ask the backend (this thread holds the entry's refresh), record the outcome."""
        fetched: AliasT | None = None
        error: VersionedError | None = None
        try:
            fetched = self._fetch(*key)
        except (AliasNotFoundError, BackendError) as failure:
            error = failure
        except BaseException:
            # not an answer about the alias (a bug, an interrupt): nothing to cache
            with self._lock:
                entry.refreshing = False
                self._lock.notify_all()
            raise
        with self._lock:
            now = self._clock()
            entry.next_refresh = now + self._lifetime()
            entry.error = error
            if fetched is not None:
                entry.alias, entry.fetched_at, entry.good_until = (
                    fetched,
                    now,
                    entry.next_refresh,
                )
            elif isinstance(error, AliasNotFoundError):
                entry.alias = None
            entry.refreshing = False
            self._lock.notify_all()
            return self._answer(entry, now)

    def _lifetime(self) -> float:
        """A TTL with this resolver's jitter applied."""
        return self.ttl_seconds * (1 + self._rng.uniform(-self.jitter, self.jitter))

    def _answer(self, entry: _Entry[AliasT], now: float) -> Resolved[AliasT]:
        """What a caller gets from ``entry`` at ``now``, outside a refresh."""
        error = entry.error
        if entry.alias is not None:
            age = now - entry.fetched_at
            if error is None:
                return Resolved(entry.alias, False, age)
            if now <= entry.good_until + self.stale_seconds:
                return Resolved(entry.alias, True, age, error)
        assert error is not None
        raise _again(error)


def _again(error: VersionedError) -> VersionedError:
    """A new error like ``error`` (caused by it), for one more caller: raising the very
    same object from many threads would tangle their tracebacks."""
    copy: VersionedError
    if isinstance(error, AliasNotFoundError):
        copy = AliasNotFoundError(str(error), name=error.name, alias=error.alias)
    else:
        copy = type(error)(str(error))
    copy.__cause__ = error
    return copy
