"""Reading a request's query string: flags, page sizes and whole numbers, as the pages and
the JSON API both take them.

This module sits at the bottom of the server package: it imports nothing from it, so
:mod:`.api` and :mod:`.pages` both build on it without importing each other. Every
function raises InvalidArgumentError (answered 400) for a value it cannot take.
"""

from __future__ import annotations

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
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_WHOLE_NUMBER:
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
