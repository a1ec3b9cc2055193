"""Which version an alias sends a caller to, answered from the cached resolver.

The server keeps one :meth:`alias_resolver` for the repository: however many clients
ask, each alias costs at most one backend read per TTL, and when the backend fails the
last good answer is served for a bounded time, marked stale. A caller's ``key`` (a user
id, a host name) picks the version with the alias's sticky routing
(:meth:`versioned.Alias.route`): the same key gets the same version on every server.
Without a key, each request is a fresh weighted draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import Alias


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


def choose(resolver: Any, name: str, alias: str, key: str | None) -> Choice:
    """The version ``alias`` of ``name`` sends ``key`` to (a weighted draw without a key).

    Raises AliasNotFoundError, InvalidArgumentError, BackendError (no answer to fall back
    on).
    """
    resolved = resolver.get(name, alias)
    found: Alias = resolved.alias
    version = found.route(key) if key is not None else found.random_version()
    return Choice(
        alias=found,
        key=key,
        version=version,
        sha256=found.target_sha256(version),
        stale=bool(resolved.stale),
        age_seconds=float(resolved.age_seconds),
    )
