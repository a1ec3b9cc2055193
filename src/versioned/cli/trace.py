"""``--verbose``: each request to S3 and DynamoDB (through botocore's event hooks), or
each operation of the local store, on standard error with its time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..stores.base import Backend

Say = Callable[[str], None]


def traced_session(say: Say, region: str) -> Any:
    """A boto3 session whose clients report every request they send and its answer."""
    import boto3

    session = boto3.session.Session(region_name=region)
    started = threading.local()

    def before_send(request: Any, **_: Any) -> None:
        started.at = time.monotonic()
        started.line = f"{request.method} {request.url.split('?')[0]}"

    def received(event_name: str, response_dict: Any, exception: Any, **_: Any) -> None:
        took = (time.monotonic() - getattr(started, "at", time.monotonic())) * 1000
        service, operation = event_name.split(".", 2)[1:]
        status = response_dict["status_code"] if response_dict else type(exception).__name__
        say(f"{service} {operation} {status} {took:.0f} ms  ({getattr(started, 'line', '')})")

    session.events.register("before-send", before_send)
    session.events.register("response-received", received)
    return session


class TracedBackend:
    """Stands in for a local store: runs each operation, then reports it and its time."""

    def __init__(self, backend: Backend, say: Say) -> None:
        self._backend, self._say = backend, say

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._backend, name)
        if name.startswith("_") or not callable(value):
            return value

        def traced(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            outcome = "ok"
            try:
                return value(*args, **kwargs)
            except BaseException as error:
                outcome = type(error).__name__
                raise
            finally:
                took = (time.monotonic() - start) * 1000
                shown = ", ".join(_short(a) for a in args if not hasattr(a, "sha256"))
                self._say(f"local {name}({shown}) {outcome} {took:.1f} ms")

        return traced


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
