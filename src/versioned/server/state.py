"""The server's settings and the objects every request shares (repository, resolver,
checked local blobs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .blobs import VerifiedBlobs
from .records import KeptRecords


@dataclass(frozen=True)
class ServerSettings:
    """How the server behaves.

    ``token``: writes need ``Authorization: Bearer <token>``, recorded as made by
    ``token:default``; ``tokens``: more tokens, as ``(name, token)`` pairs, each recorded
    as ``token:NAME`` (see :mod:`.tokens`); with neither the server is read-only.
    ``presign_seconds``: how long an S3 download link stays valid.
    ``resolver_ttl_seconds``: how old a cached alias may get before the resolver reads it
    again (``resolve`` and alias downloads answer from that cache).
    ``resolver_wait_seconds``: how long such a request waits for an alias with nothing
    cached (its first read is in flight) before it is answered 504 with ``Retry-After``.
    ``allowed_hosts``: the only ``Host`` names requests may carry (see :mod:`.hosts`);
    None accepts any.
    """

    token: str | None = None
    tokens: tuple[tuple[str, str], ...] = ()
    presign_seconds: int = 300
    resolver_ttl_seconds: float = 5.0
    resolver_wait_seconds: float = 5.0
    allowed_hosts: tuple[str, ...] | None = None


@dataclass
class ServerState:
    """What the routes share: built once by :func:`versioned.server.create_app`."""

    repo: Any
    settings: ServerSettings
    resolver: Any
    #: local repositories: their blobs, checked once; None on S3 (downloads redirect)
    blobs: VerifiedBlobs | None
    #: local repositories: version records kept while the database is unchanged
    records: KeptRecords | None = None
    #: S3 repositories: ``presign(uri, seconds, filename)`` makes a GET URL; None locally
    presign: Callable[[str, int, str], str] | None = None
    #: who may write: ``(name, token)`` pairs, checked at start-up (empty: read-only)
    writers: tuple[tuple[str, str], ...] = ()


def state_of(request: Request) -> ServerState:
    """The state of the app serving ``request``."""
    found: ServerState = request.app.state.versioned
    return found
