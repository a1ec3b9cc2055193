"""Access logs in the Combined Log Format (Apache's and nginx's default), one line a
request, on the logger ``versioned.server.access``::

    127.0.0.1 - - [26/Nov/2026:11:30:00 +0000] "GET /api/artifacts HTTP/1.1" 200 512 "-"
    "curl/8.5.0" 0.0012

(one line in the log).

The last field (the time taken, in seconds) is an addition log readers tolerate. The
``Authorization`` header is never logged.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("versioned.server.access")


class AccessLog:
    """ASGI middleware writing one Combined Log Format line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 500, "bytes": 0}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            log.info(line(scope, seen["status"], seen["bytes"], time.perf_counter() - started))


def line(scope: Scope, status: int, size: int, seconds: float) -> str:
    """The log line of one request."""
    client = scope.get("client")
    host = client[0] if client else "-"
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
    target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    stamp = datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S %z")
    request = f"{scope['method']} {target} HTTP/{scope.get('http_version', '1.1')}"
    return (
        f'{host} - - [{stamp}] "{_quoted(request)}" {status} {size or "-"} '
        f'"{_quoted(headers.get("referer", "-"))}" "{_quoted(headers.get("user-agent", "-"))}" '
        f"{seconds:.4f}"
    )


def _quoted(text: str) -> str:
    # a quote or a line break in a header must not forge another field or line
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
