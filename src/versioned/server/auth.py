"""Who may write, and where the server may listen.

A server started without a token is read-only: every write answers 403 ``ReadOnly``.
With a token, a write must carry ``Authorization: Bearer <token>`` (401 ``Unauthorized``
otherwise, compared in constant time). Reads never need the token.

A server without a token listens only on a loopback address: anyone who can reach a
public address could read every artifact, so :func:`check_binding` refuses that.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.requests import Request

from ..exc import InvalidArgumentError
from .errors import ApiError

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


def require_writer(request: Request, token: str | None) -> None:
    """Let the request write, or raise ApiError (403 read-only server, 401 bad token)."""
    if token is None:
        raise ApiError(
            403,
            "this server is read-only: start it with --token (or "
            f"${TOKEN_ENV}) to allow alias changes",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise ApiError(
            401,
            "this write needs the header 'Authorization: Bearer <token>' with the server's token",
            headers={"WWW-Authenticate": 'Bearer realm="versioned"'},
        )
