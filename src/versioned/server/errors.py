"""Errors as HTTP answers: a JSON body whose ``kind`` is the name of the error class.

Library errors keep their class name from :mod:`versioned.exc` (``AliasNotFoundError``,
``RevisionMismatchError``...), so a client switches on the same kinds as Python code.
Errors of the HTTP layer itself have kinds of their own: ``Unauthorized`` (no or a wrong
token), ``ReadOnly`` (a write to a server started without a token), ``NotFound`` (no
such route), ``MethodNotAllowed``, ``RangeNotSatisfiable`` and ``InternalError``.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import exc

log = logging.getLogger("versioned.server")

#: most specific first: the first class the error is an instance of decides
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (exc.VersionDeletedError, 409),
    (exc.ArtifactNotFoundError, 404),
    (exc.AliasNotFoundError, 404),
    (exc.RevisionMismatchError, 409),
    (exc.VersionInUseError, 409),
    (exc.RolloutError, 409),  # a state conflict (the rollout routes answer 404 for none)
    (exc.ConcurrentWriteError, 503),
    (exc.AliasResolveTimeoutError, 504),
    (exc.RepositoryNotReadyError, 503),
    (exc.RepositoryNotFoundError, 503),
    (exc.IntegrityError, 500),
    (exc.BackendError, 502),
    (exc.InvalidArgumentError, 400),
    (exc.InvalidArgumentTypeError, 400),
)

_HTTP_KINDS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "ReadOnly",
    404: "NotFound",
    405: "MethodNotAllowed",
    416: "RangeNotSatisfiable",
}


class ApiError(HTTPException):
    """An HTTP-layer error with its own ``kind`` (see the module's list)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, message, headers)
        self.kind = kind or _HTTP_KINDS.get(status, "HTTPError")
        #: fields the JSON body carries besides status, kind and message
        self.details: dict[str, Any] = details or {}


def status_of(error: exc.VersionedError) -> int:
    """The HTTP status for a library error (500 for a kind not listed)."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def _details(error: Exception) -> dict[str, Any]:
    """The error's own fields that help a client (names, revisions, versions)."""
    keep = (
        "name",
        "alias",
        "number",
        "version",
        "expected",
        "current",
        "current_target",
        "aliases",
    )
    return {k: getattr(error, k) for k in keep if getattr(error, k, None) is not None}


def body(
    status: int, kind: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body of every error answer."""
    return {"error": {"status": status, "kind": kind, "message": message, **(details or {})}}


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return (
        not path.startswith("/api/")
        and path not in ("/healthz", "/openapi.json")
        and "text/html" in request.headers.get("accept", "")
    )


def _answer(
    request: Request,
    status: int,
    kind: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _wants_html(request):
        from .pages import error_page

        return error_page(request, status, kind, message, headers)
    return JSONResponse(body(status, kind, message, details), status, headers=headers)


async def on_versioned_error(request: Request, error: Exception) -> Response:
    """A library error: its class name as kind, its fields as details."""
    assert isinstance(error, exc.VersionedError)
    status = status_of(error)
    # both say "try again": a 503 (busy) shortly, a 504 (the backend is slow) too
    headers = {"Retry-After": "1"} if status in (503, 504) else None
    if status >= 500:
        log.warning("%s %s: %s: %s", request.method, request.url.path, type(error).__name__, error)
    return _answer(request, status, type(error).__name__, str(error), _details(error), headers)


async def on_http_error(request: Request, error: Exception) -> Response:
    """An HTTP-layer error (a route not found, a method not allowed, ApiError)."""
    assert isinstance(error, HTTPException)
    kind = getattr(error, "kind", None) or _HTTP_KINDS.get(error.status_code, "HTTPError")
    headers = dict(error.headers or {})
    details = getattr(error, "details", None)
    return _answer(request, error.status_code, kind, str(error.detail), details, headers)


async def on_unexpected(request: Request, error: Exception) -> Response:
    """A bug: answered without its details (Starlette then re-raises it, and the ASGI
    server logs it with its traceback)."""
    return _answer(request, 500, "InternalError", "the server failed; its log says why")


HANDLERS: dict[Any, Any] = {
    exc.VersionedError: on_versioned_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}

__all__ = ["HANDLERS", "ApiError", "body", "status_of"]
