"""A fault-injecting HTTP proxy for S3 + DynamoDB (stdlib only).

:class:`FaultProxy` listens on a free loopback port and forwards every request to the
server of its service (S3, DynamoDB or STS: :func:`service_of`, so one proxy fronts
SeaweedFS, DynamoDB Local and moto together), naming each one by its AWS operation
(:func:`operation_of`). Armed with a
:class:`Fault`, it fails chosen requests in one of the ways a real service or network does:

- ``500`` / ``503``: an internal error / SlowDown (S3 XML; DynamoDB JSON ``__type``);
- ``throttle``: DynamoDB 400 ``ThrottlingException``, S3 503 ``SlowDown``;
- ``throughput``: DynamoDB 400 ``ProvisionedThroughputExceededException`` (S3: SlowDown);
- ``drop``: the connection is closed before the request is forwarded (never applied);
- ``lost``: the request is forwarded and applied, then the connection is closed unanswered;
- ``conflict``: S3's 409 ``ConditionalRequestConflict`` (two conditional writes to one key
  at once), which AWS says to retry (DynamoDB: 400 ``TransactionConflictException``).

A fault hits the ``at``-th request (1-based) seen after arming; ``persistent`` faults then
keep failing every later request of that same operation, ``transient`` ones fail only that
request. Every request passing through is logged as ``(operation, failed_or_None)``.

Armed with a :class:`Hold`, it instead pauses one request of its client at a chosen point
until the test calls :meth:`FaultProxy.release` (a test gives the client it wants to pause a
proxy of its own and lets every other client talk to moto directly):

- ``before``: the request is held before it is forwarded, then forwarded and answered;
- ``lost``: it is forwarded and applied, held, then its connection is closed unanswered,
  so botocore sends it again (the resend passes);
- ``freeze``: it and every later request are held before being forwarded, as if the
  whole process stopped (its lease heartbeat included), then all go on.

With ``die`` the client is killed at the release: the held request still lands (it was
on the wire) but its answer is lost, and every later request is dropped unapplied.

A lease beat (the heartbeat's UpdateItem that only pushes ``lease_until`` on) is sent on a
timer, so how many of them a call sends depends on how fast the machine is. Beats are
forwarded (or frozen and dropped with their client) but never counted: ``at`` and
``occurrence`` skip them, no fault hits them, and :meth:`FaultProxy.operations` leaves them
out, so a call records the same requests on a slow machine as on a fast one.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from versioned.stores.s3.lease import HEARTBEAT_UPDATE

FAULT_KINDS = ("500", "503", "throttle", "throughput", "drop", "lost", "conflict")
HOLD_MODES = ("before", "lost", "freeze")
#: A held request is let go after this long even if the test never releases it.
MAX_HOLD_SECONDS = 120.0

_DYNAMODB_ERRORS = {
    "500": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    "503": (503, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"),
    "throttle": (400, "com.amazon.coral.availability#ThrottlingException"),
    "throughput": (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
    "conflict": (400, "com.amazonaws.dynamodb.v20120810#TransactionConflictException"),
}
_S3_ERRORS = {
    "500": (500, "InternalError"),
    "503": (503, "SlowDown"),
    "throttle": (503, "SlowDown"),
    "throughput": (503, "SlowDown"),
    "conflict": (409, "ConditionalRequestConflict"),
}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}
#: How the log marks a lease beat (see the module docstring).
BEAT = "beat"


def is_lease_beat(operation: str, body: bytes) -> bool:
    """Whether this request is the lease heartbeat renewing ``lease_until``."""
    if operation != "UpdateItem":
        return False
    try:
        return bool(json.loads(body).get("UpdateExpression") == HEARTBEAT_UPDATE)
    except ValueError:
        return False


_SIGNED_SERVICE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]+)/")


def service_of(headers: dict[str, str]) -> str:
    """The AWS service a request is for: the one its SigV4 signature names (``s3``,
    ``dynamodb``, ``sts``...); unsigned, ``dynamodb`` for a JSON target, else ``s3``."""
    found = _SIGNED_SERVICE.search(headers.get("authorization", ""))
    if found:
        return found.group(1)
    return "dynamodb" if "x-amz-target" in headers else "s3"


def operation_of(method: str, path: str, headers: dict[str, str]) -> str:
    """The AWS operation a request performs (path-style S3 addressing, DynamoDB JSON 1.0)."""
    target = headers.get("x-amz-target", "")
    if target:
        return target.rpartition(".")[2]
    parts = urlsplit(path)
    query = parse_qs(parts.query, keep_blank_values=True)
    has_key = "/" in parts.path.strip("/")
    if method == "PUT":
        if "x-amz-copy-source" in headers:
            return "UploadPartCopy" if "partNumber" in query else "CopyObject"
        if "partNumber" in query:
            return "UploadPart"
        return "PutObject" if has_key else "CreateBucket"
    if method == "POST":
        if "delete" in query:
            return "DeleteObjects"
        if "uploads" in query:
            return "CreateMultipartUpload"
        return "CompleteMultipartUpload" if "uploadId" in query else "S3Post"
    if method == "GET":
        if not has_key:
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        return "GetObject"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload"
        return "DeleteObject" if has_key else "DeleteBucket"
    return f"{method} {parts.path}"


@dataclass
class Fault:
    """Fail the ``at``-th request after arming, as ``kind``; ``persistent``: and its retries."""

    at: int
    kind: str
    persistent: bool = False


#: Every DynamoDB request that writes (for holds such as "its next write after X").
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


@dataclass
class Hold:
    """Which request to hold, how (``mode``: :data:`HOLD_MODES`), and whether the client
    dies at the release.

    Either ``at``: the at-th request after arming (1-based); or ``operation`` (one name
    or several): the ``occurrence``-th request of it, counted from the first request of
    ``after`` when that is given (e.g. the first DynamoDB write after the CopyObject).
    """

    at: int | None = None
    operation: str | tuple[str, ...] | None = None
    occurrence: int = 1
    after: str | None = None
    mode: str = "before"
    die: bool = False

    def matches(self, operations: list[str]) -> bool:
        """Whether the last of ``operations`` (every request since arming) is the one."""
        if self.operation is None:
            return len(operations) == self.at
        names = (self.operation,) if isinstance(self.operation, str) else self.operation
        if operations[-1] not in names:
            return False
        start = 0
        if self.after is not None:
            if self.after not in operations[:-1]:
                return False
            start = operations.index(self.after) + 1
        return sum(1 for op in operations[start:] if op in names) == self.occurrence


class FaultProxy:
    """The proxy server; ``url`` is where every endpoint variable should point
    (:func:`tests.helpers.endpoint_variables`).

    ``upstream``: one server for everything, or a server per service name (``*``, when
    given, serves the services not named; otherwise ``s3``'s does).
    """

    def __init__(self, upstream: str | Mapping[str, str]) -> None:
        routes = {"*": upstream} if isinstance(upstream, str) else dict(upstream)
        self._upstreams: dict[str, tuple[str, int]] = {}
        for service, url in routes.items():
            parts = urlsplit(url)
            self._upstreams[service] = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._default = self._upstreams.get("*") or self._upstreams["s3"]
        self._lock = threading.Lock()
        self.log: list[tuple[str, str | None]] = []
        self._fault: Fault | None = None
        self._failing_operation: str | None = None
        self._hold: Hold | None = None
        self._held = threading.Event()
        self._released = threading.Event()
        self._hold_hit = False
        self._dead = False
        #: the operation of the held request, once it is held
        self.held_operation: str | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # one buffered write per answer, sent at once: no delayed-ACK stalls
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                return

            def handle_expect_100(self) -> bool:
                # S3 uploads wait for "100 Continue": send it now, not when buffered
                answer = super().handle_expect_100()
                self.wfile.flush()
                return answer

            def _serve(self) -> None:
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()

    # --- arming --------------------------------------------------------------------------
    def arm(self, fault: Fault | None, hold: Hold | None = None) -> None:
        """Start a fresh log; fail requests according to ``fault`` and hold one according
        to ``hold`` (None: neither). A request still held from before is released."""
        if hold is not None and hold.mode not in HOLD_MODES:
            raise ValueError(f"unknown hold mode {hold.mode!r}")
        with self._lock:
            self._released.set()  # nothing from an earlier arming may stay blocked
            self.log = []
            self._fault = fault
            self._failing_operation = None
            self._hold = hold
            self._held = threading.Event()
            self._released = threading.Event()
            self._hold_hit = False
            self._dead = False
            self.held_operation = None

    def wait_held(self, timeout: float) -> bool:
        """Wait until the armed hold has caught its request; False after ``timeout`` s."""
        return self._held.wait(timeout)

    def is_held(self) -> bool:
        """Whether the armed hold has caught its request (released or not)."""
        return self._held.is_set()

    def release(self) -> None:
        """Let the held request (and, when freezing, every later one) go on."""
        with self._lock:
            if self._hold is not None and self._hold.die and self._hold_hit:
                self._dead = True
            self._released.set()

    def operations(self) -> list[str]:
        """The operations seen since arming, in order, lease beats left out."""
        with self._lock:
            return self._counted()

    def beats(self) -> int:
        """How many lease beats passed since arming."""
        with self._lock:
            return sum(1 for _, kind in self.log if kind == BEAT)

    def _counted(self) -> list[str]:
        """The operations a fault or hold may point at (caller holds the lock)."""
        return [operation for operation, kind in self.log if kind != BEAT]

    def injected(self) -> list[tuple[str, str]]:
        """The (operation, kind) of every request failed since arming."""
        with self._lock:
            return [
                (op, kind)
                for op, kind in self.log
                if kind is not None and kind != BEAT and not kind.startswith("hold:")
            ]

    def _hold_decision(self, operation: str, beat: bool) -> str | None:
        """What the armed hold does with this request (caller holds the lock):
        ``dead`` (drop it), a hold mode (this is the held request), ``frozen`` (a later
        request of a frozen client), or None. A beat is never the held request."""
        hold = self._hold
        if self._dead:
            return "dead"
        if hold is None:
            return None
        if not self._hold_hit:
            if not beat and hold.matches(self._counted()):
                self._hold_hit = True
                self.held_operation = operation
                return hold.mode
            return None
        if hold.mode == "freeze" and not self._released.is_set():
            return "frozen"
        return None

    def _decide(self, operation: str, beat: bool) -> str | None:
        with self._lock:
            fault = self._fault
            self.log.append((operation, BEAT if beat else None))
            index = len(self._counted())
            action = self._hold_decision(operation, beat)
            if action is not None:
                if not beat:
                    self.log[-1] = (operation, f"hold:{action}")
                return f"hold:{action}"
            if fault is None or beat:
                return None
            hit = index == fault.at or (fault.persistent and operation == self._failing_operation)
            if not hit:
                return None
            if fault.persistent:
                self._failing_operation = operation
            self.log[-1] = (operation, fault.kind)
            return fault.kind

    # --- serving -------------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Read one request, then fail it or forward it."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = _read_body(request, headers)
        operation = operation_of(request.command, request.path, headers)
        kind = self._decide(operation, is_lease_beat(operation, body))
        if kind is not None and kind.startswith("hold:"):
            self._serve_held(request, headers, body, kind[len("hold:") :])
            return
        if kind == "drop":
            request.close_connection = True
            return
        if kind in _S3_ERRORS:
            _answer_error(request, kind, is_dynamodb="x-amz-target" in headers)
            return
        status, reason, answer_headers, answer = self._forward(request, headers, body)
        if kind == "lost":
            request.close_connection = True
            return
        _answer(request, status, reason, answer_headers, answer)

    def _serve_held(
        self, request: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes, action: str
    ) -> None:
        """Serve a request the armed hold caught (see :meth:`_hold_decision`)."""
        if action == "dead":
            request.close_connection = True
            return
        released = self._released
        if action == "lost":
            self._forward(request, headers, body)
            self._held.set()
            released.wait(MAX_HOLD_SECONDS)
            request.close_connection = True
            return
        if action != "frozen":
            self._held.set()
        released.wait(MAX_HOLD_SECONDS)
        with self._lock:
            dead = self._dead
        if dead and action == "frozen":
            request.close_connection = True  # the process died before sending it
            return
        answer = self._forward(request, headers, body)
        if dead:
            request.close_connection = True  # it landed, but nobody is left to hear
            return
        _answer(request, *answer)

    def _forward(
        self, request: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        host, port = self._upstreams.get(service_of(headers), self._default)
        upstream = http.client.HTTPConnection(host, port, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k not in _HOP_BY_HOP}
            sent["content-length"] = str(len(body))
            upstream.request(request.command, request.path, body=body, headers=sent)
            response = upstream.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            upstream.close()


def _read_body(request: BaseHTTPRequestHandler, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(request.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while request.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(request.rfile.read(size))
            request.rfile.readline()
    return request.rfile.read(int(headers.get("content-length", "0") or 0))


def _answer(
    request: BaseHTTPRequestHandler,
    status: int,
    reason: str,
    answer_headers: list[tuple[str, str]],
    answer: bytes,
) -> None:
    """Send moto's answer back to the client."""
    request.send_response(status, reason)
    for name, value in answer_headers:
        if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
            request.send_header(name, value)
    request.send_header("Content-Length", str(len(answer)))
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(answer)


def _answer_error(request: BaseHTTPRequestHandler, kind: str, *, is_dynamodb: bool) -> None:
    if is_dynamodb:
        status, error_type = _DYNAMODB_ERRORS[kind]
        body = json.dumps({"__type": error_type, "message": f"injected {kind}"}).encode()
        content_type = "application/x-amz-json-1.0"
    else:
        status, code = _S3_ERRORS[kind]
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>injected {kind}</Message><RequestId>fault</RequestId></Error>"
        ).encode()
        content_type = "application/xml"
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(body)
