"""ETags and conditional GETs: a client that sends back the ETag it holds gets 304.

An ETag is the quoted SHA-256 of what the answer stands for: a version's bytes for a
download, the JSON body for the API. ``If-None-Match`` may list several tags or ``*``;
weak tags (``W/"…"``) match their strong form, as RFC 9110 asks for GET.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response


def etag_of(sha256: str) -> str:
    """The strong ETag for content with this SHA-256."""
    return f'"{sha256}"'


def etag_of_body(content: bytes) -> str:
    """The strong ETag of an answer body (its SHA-256)."""
    return etag_of(hashlib.sha256(content).hexdigest())


def matches(request: Request, etag: str) -> bool:
    """True when the request's ``If-None-Match`` names ``etag`` (or is ``*``)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def not_modified(etag: str, headers: dict[str, str] | None = None) -> Response:
    """A 304 carrying the ETag (and the caching headers the full answer would carry)."""
    return Response(status_code=304, headers={**(headers or {}), "ETag": etag})
