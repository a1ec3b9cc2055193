"""tools/moto_server.py: one request at a time inside moto, but bodies are read outside that.

A client that pauses in the middle of sending a body must not hold up anyone else: the
launcher reads each body (Content-Length, HTTP chunked, and aws-chunked inside HTTP chunked)
before it lets the request into moto. These tests pause a raw-socket PutObject halfway
through its body, send other requests meanwhile, then finish the upload and check that the
object arrived intact.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from tests.helpers import REGION


# This file tests moto's launcher, so its clients are on moto whatever the session's engines.
@pytest.fixture
def s3_client(moto_endpoint: str) -> Any:
    """A raw S3 client on moto."""
    return boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)


@pytest.fixture
def dynamodb_client(moto_endpoint: str) -> Any:
    """A raw DynamoDB client on moto."""
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)


#: how long another request may take while an upload is paused (moto answers in ~5 ms)
PROMPT = 3.0
BODY = bytes(range(256)) * 4096  # 1 MiB


def _signed_put(endpoint: str, bucket: str, key: str, headers: dict[str, str]) -> bytes:
    """The request line and SigV4-signed headers of a PutObject (no body), as sent on the wire."""
    request = AWSRequest(method="PUT", url=f"{endpoint}/{bucket}/{key}", headers=headers)
    request.context["payload_signing_enabled"] = False
    if "X-Amz-Trailer" in headers:  # the signer then names the aws-chunked payload
        request.context["checksum"] = {"request_algorithm": {"in": "trailer"}}
    credentials = boto3.Session().get_credentials()
    assert credentials is not None
    S3SigV4Auth(credentials, "s3", REGION).add_auth(request)
    host = urlparse(endpoint).netloc
    lines = [f"PUT /{bucket}/{key} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _http_chunks(payload: bytes, size: int = 64 * 1024) -> bytes:
    """``payload`` framed with HTTP/1.1 ``Transfer-Encoding: chunked``."""
    framed = b""
    for start in range(0, len(payload), size):
        piece = payload[start : start + size]
        framed += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return framed + b"0\r\n\r\n"


def _content_length(body: bytes) -> tuple[dict[str, str], bytes]:
    return {"Content-Length": str(len(body))}, body


def _chunked(body: bytes) -> tuple[dict[str, str], bytes]:
    return {"Transfer-Encoding": "chunked"}, _http_chunks(body)


def _aws_chunked(body: bytes) -> tuple[dict[str, str], bytes]:
    """What botocore sends for a streaming upload with a trailing checksum."""
    encoded = AwsChunkedWrapper(
        _Reader(body), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32"
    ).read()
    headers = {
        "Transfer-Encoding": "chunked",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Decoded-Content-Length": str(len(body)),
    }
    return headers, _http_chunks(encoded)


class _Reader:
    """A minimal readable stream over bytes (what AwsChunkedWrapper wraps)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.at + size
        piece, self.at = self.data[self.at : end], min(end, len(self.data))
        return piece


FRAMINGS: dict[str, Callable[[bytes], tuple[dict[str, str], bytes]]] = {
    "content-length": _content_length,
    "chunked": _chunked,
    "aws-chunked": _aws_chunked,
}


def _status(sock: socket.socket) -> int:
    """The status code of the answer on ``sock`` (read until the server closes it)."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return int(answer.split(b" ", 2)[1])


def _in_background(action: Callable[[], Any]) -> tuple[threading.Thread, list[float]]:
    """Run ``action`` in a thread; the list receives its duration in seconds when it ends."""
    took: list[float] = []

    def run() -> None:
        start = time.monotonic()
        action()
        took.append(time.monotonic() - start)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, took


@pytest.mark.parametrize("framing", list(FRAMINGS))
def test_a_paused_upload_does_not_stall_other_requests(
    moto_endpoint: str, s3_client: Any, dynamodb_client: Any, framing: str
) -> None:
    bucket = f"paused-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    headers, wire_body = FRAMINGS[framing](BODY)
    head = _signed_put(moto_endpoint, bucket, "slow", headers)
    assert (b"STREAMING-UNSIGNED-PAYLOAD-TRAILER" in head) == (framing == "aws-chunked")
    half = len(wire_body) // 2
    port = urlparse(moto_endpoint).port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
        slow.sendall(head + wire_body[:half])
        time.sleep(0.5)  # the server has the headers and is reading the body

        def others() -> None:
            s3_client.list_buckets()
            s3_client.put_object(Bucket=bucket, Key="quick", Body=b"quick")
            dynamodb_client.list_tables()

        thread, took = _in_background(others)
        thread.join(PROMPT)
        answered_while_paused = bool(took)
        slow.sendall(wire_body[half:])
        status = _status(slow)
        thread.join(30)
    assert answered_while_paused, "requests stalled behind a client paused mid-upload"
    assert took and took[0] < PROMPT
    assert status == 200
    stored = s3_client.get_object(Bucket=bucket, Key="slow")["Body"].read()
    assert stored == BODY
    assert s3_client.get_object(Bucket=bucket, Key="quick")["Body"].read() == b"quick"


def test_an_upload_cut_short_stores_nothing(moto_endpoint: str, s3_client: Any) -> None:
    bucket = f"cut-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    headers, body = _content_length(BODY)
    port = urlparse(moto_endpoint).port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as cut:
        cut.sendall(_signed_put(moto_endpoint, bucket, "cut", headers) + body[:1000])
        cut.shutdown(socket.SHUT_WR)  # the client goes away mid-body
        cut.recv(65536)
    assert s3_client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert s3_client.list_buckets()["Buckets"]  # the server still answers
