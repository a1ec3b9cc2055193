"""Start moto's standalone server on a free loopback port (for the benchmark and tests).

``with moto_server() as endpoint:`` runs moto's server application as a child process
(this file, run as a script), waits until it answers, and stops it on exit.
:func:`moto_environment` gives the variables that point boto3 (and this library) at it
without touching real AWS.

Why not plain ``python -m moto.server``: its in-memory backends are not thread-safe, and
its threaded server lets concurrent requests interleave inside one operation (seen here:
500s such as "dictionary changed size during iteration" on concurrent S3 PUTs, and a
version counter handing one number to two conditional updates). AWS makes every single
request atomic; to model that, this launcher runs the same application and server but
lets one request at a time into moto's code. Each request's body is read in full before
that (:func:`read_body`), so a client that pauses mid-upload holds up only itself; the
answer is built inside, since moto may build it lazily. Connections and keep-alive stay
concurrent.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(url: str, server: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once ``url`` answers; False if the server exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    return False


def stop(server: subprocess.Popen[bytes]) -> None:
    """Terminate the server, killing it if it does not exit within 10 s."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def start(log_dir: Path, attempts: int = 3) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server and return it with its endpoint URL. Raises RuntimeError."""
    # a proxy variable would send loopback requests elsewhere
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for attempt in range(attempts):  # another process may take the port before we bind
        port = free_loopback_port()
        endpoint = f"http://127.0.0.1:{port}"
        with (log_dir / f"moto-server-{attempt}.log").open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, __file__, "127.0.0.1", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        if wait_until_answering(endpoint, server, timeout=30):
            return server, endpoint
        stop(server)
    raise RuntimeError(f"moto server did not start; see {log_dir}")


def moto_environment(endpoint: str, scratch: Path, region: str = "us-east-1") -> dict[str, str]:
    """Variables that point every AWS client at ``endpoint`` with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }


@contextmanager
def moto_server() -> Iterator[str]:
    """Run a moto server for the duration of the block; yield its endpoint URL.

    The process environment points at it inside the block (other AWS variables that
    could reach real AWS are removed) and is restored afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="moto-") as scratch:
        server, endpoint = start(Path(scratch))
        saved = dict(os.environ)
        for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_REGION"):
            os.environ.pop(name, None)
        os.environ.update(moto_environment(endpoint, Path(scratch)))
        try:
            yield endpoint
        finally:
            os.environ.clear()
            os.environ.update(saved)
            stop(server)


def read_body(environ: dict[str, Any]) -> bytes | None:
    """The whole body of the request ``environ`` describes, or None if it is incomplete.

    werkzeug's server hands the socket itself to the application for a Content-Length
    body (which must then be read exactly), and a de-chunking stream that ends at the
    last chunk for ``Transfer-Encoding: chunked`` (botocore's aws-chunked uploads travel
    that way; their inner framing is moto's to decode). None means the client went away
    mid-body, sent a broken chunk or an unreadable Content-Length.
    """
    stream = environ["wsgi.input"]
    try:
        if environ.get("wsgi.input_terminated"):
            whole: bytes = stream.read()
            return whole
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body: bytes = stream.read(length) if length > 0 else b""
    except (OSError, ValueError):
        return None
    return body if len(body) == length else None


def with_body(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    """``environ`` for the same request with ``body`` already read: a Content-Length request.

    The transfer encoding goes: it described the wire, and werkzeug ignores a
    Content-Length beside ``chunked``.
    """
    ready = {k: v for k, v in environ.items() if k != "HTTP_TRANSFER_ENCODING"}
    ready.pop("wsgi.input_terminated", None)
    ready["wsgi.input"] = io.BytesIO(body)
    ready["CONTENT_LENGTH"] = str(len(body))
    return ready


def serve(host: str, port: int) -> None:
    """Run moto's server application on ``host:port``, one request at a time inside moto."""
    import threading

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    application = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def atomic(environ: dict[str, Any], start_response: Callable[..., object]) -> list[bytes]:
        body = read_body(environ)  # outside the lock: the client sets the pace here
        if body is None:
            start_response("400 Bad Request", [("Content-Length", "0"), ("Connection", "close")])
            return []
        with one_at_a_time:
            # read the whole answer inside the lock: moto may build it lazily
            return list(application(with_body(environ, body), start_response))

    run_simple(host, port, atomic, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
