"""Access logs in the Combined Log Format (Apache's and nginx's default), one line a
request, on the logger ``versioned.server.access``::

    127.0.0.1 - - [26/Nov/2026:11:30:00 +0000] "GET /api/artifacts HTTP/1.1" 200 512 "-"
    "curl/8.5.0" 0.0012

(one line in the log).

The last field (the time taken, in seconds) is an addition log readers tolerate. The
``Authorization`` header is never logged.

A request only notes what its line needs; the lines are made and logged in batches on a
thread of their own, each within :data:`LOG_SECONDS` of its request's end, in the order
the requests ended. Making and writing them on the event loop cost a 1 MiB download about
13 % of its rate, and the writer's system calls now overlap with the loop's. Should the
log fall :data:`BEHIND` lines behind (a stream nobody reads), requests log their own lines
again, so memory stays bounded. The thread is not a daemon: lines still held when the
process ends are written before it exits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("versioned.server.access")

#: the longest a line waits before it is logged
LOG_SECONDS = 0.1
#: this many lines waiting: requests log their own instead of queueing more
BEHIND = 10_000

#: what a line is made from: scope, status, bytes sent, seconds taken, when it ended
_Noted = tuple[Scope, int, int, float, float]


#: lines to log, in the order their requests ended (one queue for the process)
_noted: deque[_Noted] = deque()
_lock = threading.Lock()
_writer: threading.Timer | None = None


class AccessLog:
    """ASGI middleware logging one Combined Log Format line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen = [500, 0]  # status, bytes

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen[0] = message["status"]
            elif message["type"] == "http.response.body":
                seen[1] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            _note((scope, seen[0], seen[1], time.perf_counter() - started, time.time()))


def _note(noted: _Noted) -> None:
    global _writer
    if len(_noted) >= BEHIND:
        log.info(line(*noted))
        return
    _noted.append(noted)
    if _writer is None:
        with _lock:
            if _writer is None:
                _writer = threading.Timer(LOG_SECONDS, write_noted)
                _writer.start()


def write_noted() -> None:
    """Log every line noted so far, now (the writer thread calls this too)."""
    global _writer
    with _lock:
        writer, _writer = _writer, None
    if writer is not None and writer is not threading.current_thread():
        writer.cancel()  # called from outside: the lines go now, the timer need not wait
    while True:
        try:
            noted = _noted.popleft()
        except IndexError:  # another thread took the last one
            return
        log.info(line(*noted))


def line(scope: Scope, status: int, size: int, seconds: float, ended: float | None = None) -> str:
    """The log line of one request (that ended at ``ended``, seconds since the epoch; now
    by default)."""
    client = scope.get("client")
    host = client[0] if client else "-"
    referer = agent = "-"
    for key, value in scope.get("headers", ()):
        if key == b"referer":
            referer = value.decode("latin-1")
        elif key == b"user-agent":
            agent = value.decode("latin-1")
    target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    request = f"{scope['method']} {target} HTTP/{scope.get('http_version', '1.1')}"
    return (
        f'{host} - - [{_stamp(time.time() if ended is None else ended)}] "{_quoted(request)}" '
        f'{status} {size or "-"} "{_quoted(referer)}" "{_quoted(agent)}" {seconds:.4f}'
    )


_last_stamp: tuple[int, str] = (0, "")


def _stamp(moment: float) -> str:
    # the same text for a whole second: formatting it per line cost more than the rest
    global _last_stamp
    second = int(moment)
    if _last_stamp[0] != second:
        when = datetime.fromtimestamp(second, timezone.utc)
        _last_stamp = (second, when.strftime("%d/%b/%Y:%H:%M:%S %z"))
    return _last_stamp[1]


def _quoted(text: str) -> str:
    # a quote or a line break in a header must not forge another field or line
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
