"""Reading a request's query string: flags, page sizes and whole numbers, as the pages and
the JSON API both take them.

This module sits at the bottom of the server package: it imports nothing from it, so
:mod:`.api` and :mod:`.pages` both build on it without importing each other. Every
function raises InvalidArgumentError (answered 400) for a value it cannot take.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from ..exc import InvalidArgumentError

#: a page of alias history, or of the overview, unless the client asks for another size
HISTORY_PAGE = ARTIFACT_PAGE = 50
MAX_PAGE = 500
#: the largest whole number a query or a path may carry: revisions and versions are
#: counters that never get near it, and backends refuse (SQLite) or mangle larger ones
MAX_WHOLE_NUMBER = 2**63 - 1
_TRUE = ("1", "true", "yes", "on")


def flag(request: Request, name: str) -> bool:
    """Whether ``?name=`` is on (``1``, ``true``, ``yes``, ``on``, any case)."""
    return request.query_params.get(name, "").lower() in _TRUE


def whole_number(text: str | None, what: str) -> int | None:
    """``text`` as a whole number (None when absent). Raises InvalidArgumentError naming
    ``what`` unless it is ASCII digits for a number up to :data:`MAX_WHOLE_NUMBER`."""
    if text is None:
        return None
    # int() would take "٣" too; and a number too large for any backend is refused here,
    # before it reaches one, rather than failing there as a server error
    # the length first: int() of thousands of digits is slow, then refused by Python
    if not (text.isascii() and text.isdigit()) or _too_large(text):
        raise InvalidArgumentError(
            f"{what} must be a whole number from 0 to {MAX_WHOLE_NUMBER}, got {text!r}"
        )
    return int(text)


def page_size(request: Request, default: int) -> int:
    """``?limit=`` as a page size, ``default`` when absent. Raises InvalidArgumentError
    unless it is a whole number from 1 to :data:`MAX_PAGE`."""
    limit = request.query_params.get("limit")
    if limit is None:
        return default
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_PAGE:
        raise InvalidArgumentError(
            f"limit must be a whole number from 1 to {MAX_PAGE}, got {limit!r}"
        )
    return int(limit)


def _too_large(digits: str) -> bool:
    """Whether ASCII ``digits`` spell a number above :data:`MAX_WHOLE_NUMBER`."""
    return len(digits) > len(str(MAX_WHOLE_NUMBER)) or int(digits) > MAX_WHOLE_NUMBER


def path_version(request: Request) -> str:
    """The ``{version}`` of the path, as the library takes it (``LATEST`` or a number).
    Raises InvalidArgumentError for a number above :data:`MAX_WHOLE_NUMBER`, which no
    backend can hold; other bad versions are left to the library to refuse."""
    version: str = request.path_params["version"]
    if version.isascii() and version.isdigit() and _too_large(version):
        raise InvalidArgumentError(
            f"version must be LATEST or a whole number up to {MAX_WHOLE_NUMBER}, "
            f"got {version[:40]!r}{'...' if len(version) > 40 else ''}"
        )
    return version


def text(request: Request, name: str) -> str | None:
    """``?name=`` decoded as UTF-8 (None when absent; the last one when repeated).

    Raises InvalidArgumentError when its percent-encoding is not UTF-8: decoded with
    replacement characters, distinct byte strings (``%FF``, ``%FE``) would become the
    same text and, as routing keys, the same caller.
    """
    query = request.scope.get("query_string", b"").decode("latin-1")
    found: str | None = None
    # latin-1 both ways keeps the bytes as sent; only this parameter's are checked
    for key, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        if key == name:
            try:
                found = value.encode("latin-1").decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidArgumentError(
                    f"the query parameter {name!r} must be percent-encoded UTF-8"
                ) from None
    return found
