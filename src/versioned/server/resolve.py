"""Which version an alias sends a caller to, answered from the cached resolver.

The server keeps one :meth:`alias_resolver` for the repository: however many clients
ask, each alias costs at most one backend read per TTL, and when the backend fails the
last good answer is served for a bounded time, marked stale. A caller's ``key`` (a user
id, a host name) picks the version with the alias's sticky routing
(:meth:`versioned.Alias.route`): the same key gets the same version on every server.
Without a key, each request is a fresh weighted draw.

Nothing here holds a worker thread while the backend is slow: the answer is taken from
the resolver's cache on the event loop (:meth:`~versioned.AliasResolver.get_nowait`), and
a request with nothing cached awaits the resolver's refresh, which runs in the resolver's
own thread, for at most the resolver's ``wait_seconds``; then it is answered 504 with
``Retry-After``. However many requests wait on a hung alias, the other routes, other
aliases and ``/healthz`` keep their threads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..model import Alias
from ..resolver import Resolved


@dataclass(frozen=True)
class Choice:
    """The version chosen for one request, and how fresh the alias behind it is."""

    alias: Alias
    key: str | None
    version: str
    #: the chosen version's sha256 when the alias record carries it (published targets)
    sha256: str | None
    stale: bool
    age_seconds: float


async def resolved(resolver: Any, name: str, alias: str) -> Resolved[Alias]:
    """The resolver's answer for ``alias`` of ``name``, awaited without holding a thread.

    Raises AliasNotFoundError, InvalidArgumentError, BackendError (no answer to fall back
    on), AliasResolveTimeoutError (none came within the resolver's ``wait_seconds``).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + resolver.wait_seconds
    while True:
        found = resolver.get_nowait(name, alias)
        if isinstance(found, Resolved):
            return found
        try:
            # shielded: giving up must not cancel the refresh the other requests await
            await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(found)), max(0.0, deadline - loop.time())
            )
        except asyncio.TimeoutError:
            raise resolver.timed_out(name, alias) from None


async def choose(resolver: Any, name: str, alias: str, key: str | None) -> Choice:
    """The version ``alias`` of ``name`` sends ``key`` to (a weighted draw without a key).

    Raises as :func:`resolved`.
    """
    answer = await resolved(resolver, name, alias)
    found: Alias = answer.alias
    version = found.route(key) if key is not None else found.random_version()
    return Choice(
        alias=found,
        key=key,
        version=version,
        sha256=found.target_sha256(version),
        stale=bool(answer.stale),
        age_seconds=float(answer.age_seconds),
    )
