"""The ``Range`` header of a download (RFC 9110 section 14): one byte range at a time.

A request for several ranges at once, or a header this module cannot read, is answered
with the whole content (a server may ignore ``Range``); a range that starts past the end
is answered 416. ``If-Range`` with another ETag than the current one also means "send
everything": the client's partial copy is of other bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*")


@dataclass(frozen=True)
class ByteRange:
    """The bytes ``start`` to ``end`` included, of content ``size`` bytes long."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        """The ``Content-Range`` header of a 206 answer."""
        return f"bytes {self.start}-{self.end}/{self.size}"


class Unsatisfiable(Exception):
    """The range lies wholly past the end of the content (answer 416)."""


def requested_range(
    header: str | None, if_range: str | None, etag: str, size: int
) -> ByteRange | None:
    """The one range to send, or None to send everything.

    Raises Unsatisfiable when the range starts at or past ``size``.
    """
    if not header or (if_range is not None and if_range.strip() != etag):
        return None
    found = _SPEC.fullmatch(header)
    if found is None:
        return None  # several ranges, another unit, or garbage: send it all
    first, last = found.group(1), found.group(2)
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = _number(last)
        if suffix == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1, size) if size else None
    start = _number(first)
    if start >= size:
        raise Unsatisfiable
    end = min(_number(last), size - 1) if last else size - 1
    if end < start:
        return None  # not a valid range: ignore it
    return ByteRange(start, end, size)


def _number(digits: str) -> int:
    """ASCII ``digits`` as a number, capped at ``_BEYOND`` (past any content's end):
    Python refuses to read thousands of digits, and no size needs more than 19."""
    return _BEYOND if len(digits) > 19 else int(digits)


_BEYOND = 10**19
