"""Which ``Host`` a request may name: on loopback, only loopback names.

A server on 127.0.0.1 is out of reach of other machines, but not of a web page that a
browser on the same machine opens: with DNS rebinding, ``evil.example`` can come to
resolve to 127.0.0.1, and the page's scripts could then read the API as same-origin. Such
requests carry ``Host: evil.example``, so a server on loopback answers only requests that
name a loopback host (``localhost``, ``127.0.0.1``, ``[::1]``) or a name allowed
explicitly (``--allow-host``, for a reverse proxy that passes its own name on). Others
get 400 ``BadHost``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import body

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
#: how many distinct ``Host`` headers to remember the answer for
SEEN = 256


def host_name(header: str) -> str | None:
    """The host in a ``Host`` header, without port or brackets, lowercase; None if unreadable."""
    try:
        return urlsplit(f"//{header.strip()}").hostname
    except ValueError:
        return None


def _loopback_address(name: str | None) -> bool:
    try:
        return name is not None and ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name, not an address


class AllowedHosts:
    """ASGI middleware answering 400 to a request whose ``Host`` is not allowed."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = {name.lower().strip("[]") for name in allowed}
        #: the answer for each ``Host`` header seen, as a server hears only a few
        self._seen: dict[bytes, bool] = {}

    def allows(self, header: bytes) -> bool:
        """Whether a request whose ``Host`` header is ``header`` is answered."""
        allowed = self._seen.get(header)
        if allowed is None:
            name = host_name(header.decode("latin-1"))
            allowed = name in self.allowed or _loopback_address(name)
            if len(self._seen) >= SEEN:
                self._seen.clear()  # many distinct headers: someone probing; start over
            self._seen[header] = allowed
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = b""
            for key, value in scope.get("headers", ()):
                if key == b"host":
                    header = value
            if not self.allows(header):
                refusal = body(
                    400,
                    "BadHost",
                    f"this server answers only for {', '.join(sorted(self.allowed))} "
                    "(start it with --allow-host NAME to add one)",
                )
                await JSONResponse(refusal, 400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
