"""Listening: check the address, bind it, say where, and run the app under uvicorn.

The socket is bound here (not by uvicorn) so that ``--port 0`` works: the line on
standard error names the port the system picked. Access logs go to standard error in the
Combined Log Format; uvicorn's own access log is off (it would log each request twice).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import sys
from typing import Any, TextIO

import uvicorn

from .access_log import write_noted
from .app import create_app
from .auth import check_binding, is_loopback
from .hosts import LOOPBACK_NAMES
from .state import ServerSettings
from .tokens import writers_of


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (IPv6 when ``host`` is). Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # they are TCP, and with Nagle on, every answer with a body waits ~40 ms for an ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port/`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn's server, writing the access lines still held once the last request ended
    (uvicorn ends the process on SIGTERM right after, without waiting for threads)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
        finally:
            write_noted()


def _log_to(stream: TextIO) -> None:
    handler = logging.StreamHandler(stream)  # no formatter: each message alone on its line
    # the lines name no source line, thread or process: don't look them up per request
    # (the documented switches; this process is the server's own)
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in ("versioned.server.access", "versioned.server"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def serve(
    repo: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: ServerSettings | None = None,
    *,
    access_log: bool = True,
    stream: TextIO = sys.stderr,
) -> None:
    """Serve ``repo`` until interrupted.

    Raises InvalidArgumentError for a non-loopback ``host`` without a token or a token
    that could never match, OSError when the address cannot be bound.
    """
    settings = settings or ServerSettings()
    writers = writers_of(settings.token, settings.tokens)  # bad tokens: refused before binding
    check_binding(host, writers[0][1] if writers else None)
    if is_loopback(host):
        # reached from this machine only: refuse other Host names (DNS rebinding)
        extra = settings.allowed_hosts or ()
        settings = dataclasses.replace(settings, allowed_hosts=(*LOOPBACK_NAMES, host, *extra))
    app = create_app(repo, settings)
    sock = bind(host, port)
    names = ", ".join(name for name, _ in writers)
    mode = f"writes need a token: {names}" if writers else "read-only (no token)"
    print(f"versioned: serving {repo.uri} at {url_of(sock)} ({mode})", file=stream, flush=True)
    config = uvicorn.Config(
        app,
        access_log=False,
        log_level="warning",
        server_header=False,
        # the uvloop/httptools fast paths when installed, the pure-Python ones otherwise
        loop="auto",
        http="auto",
    )
    if access_log:
        _log_to(stream)  # after uvicorn's Config, whose logging set-up closes earlier handlers
    server = _Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
