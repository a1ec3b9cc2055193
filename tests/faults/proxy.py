"""A fault-injecting HTTP proxy for S3 + DynamoDB (stdlib only).

:class:`FaultProxy` listens on a free loopback port and forwards every request to the moto
server, naming each one by its AWS operation (:func:`operation_of`). Armed with a
:class:`Fault`, it fails chosen requests in one of the ways a real service or network does:

- ``500`` / ``503``: an internal error / SlowDown (S3 XML; DynamoDB JSON ``__type``);
- ``throttle``: DynamoDB 400 ``ThrottlingException``, S3 503 ``SlowDown``;
- ``throughput``: DynamoDB 400 ``ProvisionedThroughputExceededException`` (S3: SlowDown);
- ``drop``: the connection is closed before the request is forwarded (never applied);
- ``lost``: the request is forwarded and applied, then the connection is closed unanswered.

A fault hits the ``at``-th request (1-based) seen after arming; ``persistent`` faults then
keep failing every later request of that same operation, ``transient`` ones fail only that
request. Every request passing through is logged as ``(operation, failed_or_None)``.
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULT_KINDS = ("500", "503", "throttle", "throughput", "drop", "lost")

_DYNAMODB_ERRORS = {
    "500": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    "503": (503, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"),
    "throttle": (400, "com.amazon.coral.availability#ThrottlingException"),
    "throughput": (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
}
_S3_ERRORS = {
    "500": (500, "InternalError"),
    "503": (503, "SlowDown"),
    "throttle": (503, "SlowDown"),
    "throughput": (503, "SlowDown"),
}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


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


class FaultProxy:
    """The proxy server; ``url`` is what ``AWS_ENDPOINT_URL`` should be set to."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self._lock = threading.Lock()
        self.log: list[tuple[str, str | None]] = []
        self._fault: Fault | None = None
        self._failing_operation: str | None = None
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
    def arm(self, fault: Fault | None) -> None:
        """Start a fresh log and fail requests according to ``fault`` (None: no faults)."""
        with self._lock:
            self.log = []
            self._fault = fault
            self._failing_operation = None

    def operations(self) -> list[str]:
        """The operations seen since arming, in order."""
        with self._lock:
            return [operation for operation, _ in self.log]

    def injected(self) -> list[tuple[str, str]]:
        """The (operation, kind) of every request failed since arming."""
        with self._lock:
            return [(op, kind) for op, kind in self.log if kind is not None]

    def _decide(self, operation: str) -> str | None:
        with self._lock:
            fault = self._fault
            self.log.append((operation, None))
            index = len(self.log)
            if fault is None:
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
        kind = self._decide(operation)
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
        request.send_response(status, reason)
        for name, value in answer_headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(answer)

    def _forward(
        self, request: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
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
