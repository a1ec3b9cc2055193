"""Access logs in the Combined Log Format (Apache's and nginx's default), one line a
request, on the logger ``versioned.server.access``::

    127.0.0.1 - - [26/Nov/2026:11:30:00 +0000] "GET /api/artifacts HTTP/1.1" 200 512 "-"
    "curl/8.5.0" 0.0012

(one line in the log).

The last field (the time taken, in seconds) is an addition log readers tolerate. The
``Authorization`` header is never logged.

A request only notes what its line needs; one writer thread makes and logs the lines in
batches, each within about :data:`LOG_SECONDS` of its request's end, in the order the
requests ended. Making and writing them on the event loop cost a 1 MiB download about
13 % of its rate, and the writer's system calls now overlap with the loop's. Should the
log fall :data:`BEHIND` lines behind (a stream nobody reads), a request logs its own line
at once, ahead of those, and so waits on the stream as it did before: memory and threads
stay bounded. :func:`write_noted` logs what is held (``versioned serve`` calls it once its
last request has ended, as uvicorn ends the process on SIGTERM right after; an exit
handler calls it too).
"""

from __future__ import annotations

import atexit
import logging
import os
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
#: how long :func:`write_noted` waits for a drain under way (one stuck on its stream)
WAIT_SECONDS = 5.0

#: what a line is made from: scope, status, bytes sent, seconds taken, when it ended
_Noted = tuple[Scope, int, int, float, float]


#: lines to log, in the order their requests ended (one queue for the process)
_noted: deque[_Noted] = deque()
#: set when lines are waiting for the writer
_waiting = threading.Event()
#: held for a whole drain, so lines go out in order and a drain waits for another
_draining = threading.Lock()
_starting = threading.Lock()
_writer: threading.Thread | None = None


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
    if len(_noted) >= BEHIND:
        log.info(line(*noted))
        return
    _noted.append(noted)
    if _writer is None:
        _start_writer()
    if not _waiting.is_set():
        _waiting.set()


def _start_writer() -> None:
    global _writer
    with _starting:
        if _writer is None:
            atexit.register(write_noted)
            _writer = threading.Thread(target=_write, name="versioned-access-log", daemon=True)
            _writer.start()


def _forget_writer() -> None:
    # a forked child has none of its parent's threads, and none of its locks may be held
    global _writer, _draining, _starting
    _writer = None
    _draining, _starting = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_forget_writer)


def _write() -> None:
    while True:
        _waiting.wait()
        time.sleep(LOG_SECONDS)  # gather a batch
        _waiting.clear()  # lines noted from here on set it again
        write_noted()


def write_noted(wait: float = WAIT_SECONDS) -> None:
    """Log every line noted so far, in order, now; if another drain is under way, after it
    (giving up after ``wait`` seconds: a stream that blocks)."""
    if not _draining.acquire(timeout=wait):
        return
    try:
        while True:
            try:
                noted = _noted.popleft()
            except IndexError:
                return
            log.info(line(*noted))
    finally:
        _draining.release()


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
