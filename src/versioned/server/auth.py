"""Who may write, and where the server may listen.

A server started without a token is read-only: every write answers 403 ``ReadOnly``.
With tokens (one, or several named ones: see :mod:`.tokens`), a write must carry
``Authorization: Bearer <token>`` (401 ``Unauthorized`` otherwise, compared in constant
time); the token's name is recorded as who made the change. Reads never need a token.

A server without a token listens only on a loopback address: anyone who can reach a
public address could read every artifact, so :func:`check_binding` refuses that.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.requests import Request

from ..exc import InvalidArgumentError
from .errors import ApiError
from .tokens import Writers

#: where ``versioned serve`` takes its token from when ``--token`` is not given
TOKEN_ENV = "VERSIONED_SERVER_TOKEN"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_binding(host: str, token: str | None) -> None:
    """Refuse to listen on ``host`` when it is not loopback and there is no token.

    Raises InvalidArgumentError saying how to proceed.
    """
    if token is not None and not token:
        raise InvalidArgumentError("the token is empty: give a secret, or none")
    if not is_loopback(host) and token is None:
        raise InvalidArgumentError(
            f"refusing to listen on {host}, which is not a loopback address, without a "
            f"token: give --token or ${TOKEN_ENV} (writes will need it), or listen on "
            "127.0.0.1"
        )


def require_writer(request: Request, writers: Writers) -> str:
    """The name of the token the request carries (see :mod:`.tokens`), or raise ApiError
    (403 on a read-only server, 401 without a token that matches).

    The header is compared with every token, in constant time each and without stopping
    at a match, so the time taken tells neither whether nor which token matched.
    """
    if not writers:
        raise ApiError(
            403,
            "this server is read-only: start it with --token (or "
            f"${TOKEN_ENV}, or --tokens-file) to allow alias changes",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # latin-1: the header's bytes as sent (Starlette decoded them so)
    offered = given.strip().encode("latin-1")
    matched = [hmac.compare_digest(offered, token.encode()) for _, token in writers]
    if scheme.lower() != "bearer" or True not in matched:
        raise ApiError(
            401,
            "this write needs the header 'Authorization: Bearer <token>' with one of the "
            "server's tokens",
            headers={"WWW-Authenticate": 'Bearer realm="versioned"'},
        )
    return writers[matched.index(True)][0]
