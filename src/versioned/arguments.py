"""The argument rules (design.md, "Names and arguments"), checked before any work starts.

Every check raises :class:`~versioned.exc.InvalidArgumentError` (a ``ValueError``) or
:class:`~versioned.exc.InvalidArgumentTypeError` (a ``TypeError``) and returns the
normalised value, so callers can validate everything first and write afterwards.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .exc import InvalidArgumentError, InvalidArgumentTypeError

LATEST = "LATEST"

_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_ALIAS_RE = re.compile(r"[A-Za-z0-9_]{1,128}")
_DIGITS_RE = re.compile(r"[0-9]+")

#: S3 limits user-defined metadata to 2 KB: keys plus values, in UTF-8 bytes.
S3_METADATA_LIMIT = 2048
#: Keys the storage format writes on every object; the caller may not override them.
RESERVED_METADATA_KEYS = frozenset({"artifact_name", "artifact_sha256"})


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid artifact name, else raise."""
    if not isinstance(name, str):
        raise InvalidArgumentTypeError(f"artifact name must be a str, got {type(name).__name__}")
    if not _NAME_RE.fullmatch(name):
        raise InvalidArgumentError(
            f"artifact name {name!r} is invalid: use 1-128 characters from A-Z a-z 0-9 . _ -"
        )
    if name in (".", ".."):
        raise InvalidArgumentError(f"artifact name {name!r} is invalid: '.' and '..' are paths")
    if name.startswith("__"):
        # "__{name}-alias" partitions hold aliases; such a name could collide with them.
        raise InvalidArgumentError(
            f"artifact name {name!r} is invalid: names starting with '__' are reserved"
        )
    return name


def check_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias name, else raise."""
    if not isinstance(alias, str):
        raise InvalidArgumentTypeError(f"alias must be a str, got {type(alias).__name__}")
    if "-" in alias:
        raise InvalidArgumentError(f"alias {alias!r} is invalid: aliases cannot contain hyphens")
    if not _ALIAS_RE.fullmatch(alias):
        raise InvalidArgumentError(
            f"alias {alias!r} is invalid: use 1-128 characters from A-Z a-z 0-9 _"
        )
    if _DIGITS_RE.fullmatch(alias) or alias == LATEST:
        raise InvalidArgumentError(
            f"alias {alias!r} is invalid: it could be mistaken for a version"
        )
    return alias


#: The highest version number: SQLite's largest integer. Numbers count up by one from 1,
#: so no store can ever hold a version past it, and a larger one is a bad argument.
MAX_VERSION = 2**63 - 1


def shown(value: object) -> str:
    """``value`` as an error message shows it: its ``repr`` cut to 40 characters, so the
    message stays one readable line; an int past 128 bits by its size (``repr`` of one
    past 4,300 digits raises ValueError)."""
    if isinstance(value, int) and value.bit_length() > 128:
        sign = "-" if value < 0 else ""
        return f"{sign}a number of about {int(value.bit_length() * math.log10(2))} digits"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def check_version(version: object) -> int | None:
    """Return the version as an int from 1 to ``MAX_VERSION``, or ``None`` for LATEST;
    raise if invalid.

    Accepts ``None``, ``"LATEST"``, such an ``int`` or its decimal string (``"000005"``
    is 5).
    """
    if version is None or version == LATEST:
        return None
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise InvalidArgumentTypeError(
            f"version must be an int, a decimal str or None, got {type(version).__name__}"
        )
    if isinstance(version, str):
        if not _DIGITS_RE.fullmatch(version):
            raise InvalidArgumentError(
                f"version {shown(version)} is invalid: use a positive whole number or 'LATEST'"
            )
        # the length first: int() refuses strings of more than 4,300 digits (ValueError)
        digits = version.lstrip("0")
        number = int(digits or "0") if len(digits) <= len(str(MAX_VERSION)) else MAX_VERSION + 1
    else:
        number = version
    if number < 1:
        raise InvalidArgumentError(f"version {shown(version)} is invalid: versions start at 1")
    if number > MAX_VERSION:
        raise InvalidArgumentError(
            f"version {shown(version)} is invalid: version numbers go up to {MAX_VERSION}"
        )
    return number


def check_weight(weight: object) -> int:
    """Return a secondary-version weight (an int from 0 to 99), else raise."""
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise InvalidArgumentTypeError(
            f"secondary_version_weight must be an int, got {type(weight).__name__}"
        )
    if not 0 <= weight <= 99:
        raise InvalidArgumentError(
            f"secondary_version_weight must be between 0 and 99, got {shown(weight)}"
        )
    return weight


#: The longest caller key ``Alias.route`` takes, in characters.
MAX_ROUTE_KEY = 1024


def check_route_key(key: object) -> str:
    """Return a caller key for sticky routing (1-1024 characters, encodable as UTF-8),
    else raise."""
    if not isinstance(key, str):
        raise InvalidArgumentTypeError(f"routing key must be a str, got {type(key).__name__}")
    if not 1 <= len(key) <= MAX_ROUTE_KEY:
        raise InvalidArgumentError(
            f"routing key must have 1-{MAX_ROUTE_KEY} characters, got {len(key)}"
        )
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as error:
        # a lone surrogate has no UTF-8 form, so it could not hash the same everywhere
        raise InvalidArgumentError(
            f"routing key {key[:40]!r} is not valid Unicode: {error.reason}"
        ) from None
    return key


def check_seconds(value: object, what: str, *, positive: bool = False) -> float:
    """Return a finite number of seconds (> 0 with ``positive``, else >= 0), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentTypeError(f"{what} must be a number, got {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:  # an int past the largest float (10**400): no finite number
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        bound = "more than 0" if positive else "0 or more"
        raise InvalidArgumentError(f"{what} must be a finite number {bound}, got {shown(value)}")
    return seconds


def check_non_negative_int(value: object, what: str) -> int:
    """Return ``value`` if it is an int >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentTypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < 0:
        raise InvalidArgumentError(f"{what} must be 0 or more, got {shown(value)}")
    return value


def check_string_map(value: object, what: str) -> dict[str, str]:
    """Return a copy of a ``{str: str}`` mapping (``None`` gives ``{}``), else raise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgumentTypeError(f"{what} must be a dict of str to str")
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidArgumentTypeError(f"{what} must be a dict of str to str")
        result[key] = item
    return result


def _printable(text: str) -> bool:
    """True for printable ASCII (space to ``~``): what an HTTP header value can carry."""
    return all(" " <= c <= "~" for c in text)


def check_metadata(value: object) -> dict[str, str]:
    """Return user metadata S3 will accept (printable ASCII, at most 2 KB in all), else
    raise."""
    metadata = check_string_map(value, "metadata")
    size = 0
    for key, item in metadata.items():
        if not key.isascii() or not item.isascii():
            raise InvalidArgumentError(f"metadata {key!r} must be ASCII (an S3 rule)")
        if not _printable(item):
            # S3 sends metadata as HTTP headers: a control character cannot travel
            raise InvalidArgumentError(
                f"metadata {key!r} has a control character in its value {item!r}"
            )
        if not key or not all(c.isalnum() or c in "-_." for c in key):
            raise InvalidArgumentError(
                f"metadata key {key!r} is invalid: use letters, digits, '-', '_' and '.'"
            )
        if key.lower() in RESERVED_METADATA_KEYS:
            raise InvalidArgumentError(f"metadata key {key!r} is reserved by versioned")
        size += len(key) + len(item)
    # the two keys we add ourselves count against the same limit
    size += sum(len(k) for k in RESERVED_METADATA_KEYS) + 128 + 64
    if size > S3_METADATA_LIMIT:
        raise InvalidArgumentError(
            f"metadata is too large: S3 allows {S3_METADATA_LIMIT} bytes of user metadata"
        )
    return metadata


#: S3's object tag limits.
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 10, 128, 256
_TAG_RE = re.compile(r"[\w .:/=+\-@]*")


def check_tags(value: object) -> dict[str, str]:
    """Return object tags S3 will accept (at most 10; keys up to 128 characters, values
    up to 256, letters, digits, spaces and ``_ . : / = + - @``), else raise."""
    tags = check_string_map(value, "tags")
    if len(tags) > MAX_TAGS:
        raise InvalidArgumentError(f"S3 allows at most {MAX_TAGS} tags, got {len(tags)}")
    for key, item in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY or len(item) > MAX_TAG_VALUE:
            raise InvalidArgumentError(
                f"tag {key!r} is invalid: keys take 1-{MAX_TAG_KEY} characters, "
                f"values up to {MAX_TAG_VALUE}"
            )
        if not _TAG_RE.fullmatch(key) or not _TAG_RE.fullmatch(item):
            raise InvalidArgumentError(
                f"tag {key!r} is invalid: use letters, digits, spaces and _ . : / = + - @"
            )
    return tags


def check_content_type(value: object) -> str | None:
    """Return a content type (or ``None`` when not given), else raise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"content_type must be a str, got {type(value).__name__}")
    if not value or not _printable(value):
        raise InvalidArgumentError(
            f"content_type {value!r} is invalid: use printable ASCII, such as 'text/plain'"
        )
    return value


def check_path(value: object, what: str) -> str:
    """Return a filesystem path (``str`` or ``os.PathLike``) as ``str``, else raise."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(
            f"{what} must be a str or os.PathLike path, got {type(value).__name__}"
        )
    if not value:
        raise InvalidArgumentError(f"{what} must not be empty")
    if "\0" in value:
        raise InvalidArgumentError(f"{what} {value!r} contains a NUL character")
    return value


def check_bytes(content: Any) -> bytes:
    """Return ``content`` as ``bytes`` (bytes, bytearray, memoryview), else raise."""
    if isinstance(content, str):
        raise InvalidArgumentTypeError("content must be bytes, not str: encode it first")
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    raise InvalidArgumentTypeError(f"content must be bytes, got {type(content).__name__}")


def version_to_str(version: int | None) -> str:
    """The public form of a version: ``"LATEST"`` or ``"5"``."""
    return LATEST if version is None else str(version)


def version_to_key(version: int | None) -> str:
    """The storage-format form of a version: ``"LATEST"`` or ``"000005"``."""
    return LATEST if version is None else str(version).zfill(6)


#: The longest ``reason`` an alias change takes (it travels in every history entry).
MAX_REASON = 1024


def is_control(char: str) -> bool:
    """Whether ``char`` is a control character, which no reason may hold (C0, DEL, C1)."""
    return ord(char) < 32 or 127 <= ord(char) < 160


def is_surrogate(char: str) -> bool:
    """Whether ``char`` is a lone surrogate: not Unicode text, no store can keep it."""
    return 0xD800 <= ord(char) <= 0xDFFF


def check_reason(value: object) -> str | None:
    """Return a change's ``reason`` (None when not given): a str of 1 to ``MAX_REASON``
    characters without control characters (a history entry is one line) or lone
    surrogates, else raise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"reason must be a str, got {type(value).__name__}")
    if not value or len(value) > MAX_REASON:
        raise InvalidArgumentError(
            f"reason must have 1 to {MAX_REASON} characters, got {len(value)}"
        )
    if any(is_control(c) for c in value):
        raise InvalidArgumentError(f"reason {value!r} has a control character")
    if any(is_surrogate(c) for c in value):
        # a lone surrogate has no UTF-8 form: no store could keep the reason
        raise InvalidArgumentError(f"reason {value!r} has a lone surrogate (not Unicode text)")
    return value


def check_expected_revision(value: object) -> int | None:
    """Return ``expected_revision`` (None: no check; 0: the alias must not exist), else
    raise: an int 0 or more (not a bool)."""
    if value is None:
        return None
    return check_non_negative_int(value, "expected_revision")


def check_revision(value: object, what: str) -> int:
    """Return a revision number (an int 1 or more, not a bool), else raise."""
    revision = check_non_negative_int(value, what)
    if revision < 1:
        raise InvalidArgumentError(f"{what} must be 1 or more: revisions start at 1")
    return revision


def check_limit(value: object) -> int:
    """Return a page size: an int 1 or more (not a bool), else raise."""
    limit = check_non_negative_int(value, "limit")
    if limit < 1:
        raise InvalidArgumentError("limit must be 1 or more")
    return limit


def check_moment(value: object, what: str) -> datetime:
    """Return an aware ``datetime`` (a naive one is ambiguous: refused), else raise."""
    if not isinstance(value, datetime):
        raise InvalidArgumentTypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{what} must be timezone-aware, such as datetime.now(timezone.utc)"
        )
    try:
        # stores keep UTC: a moment that has no UTC datetime cannot be compared or shown
        value.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidArgumentError(
            f"{what} {value.isoformat()} is out of range: in UTC it falls outside the "
            "years 1 to 9999"
        ) from None
    return value


# --- rollouts ----------------------------------------------------------------------------
#: The longest hold, bake or check timeout: a year.
MOST_SECONDS = 365 * 86400.0


def check_duration_or(value: object, what: str, default: float) -> float:
    """A rollout's hold, bake or the like in seconds (``default`` for None), checked."""
    if value is None:
        return default
    return check_at_most_a_year(check_seconds(value, what), what)


def check_at_most_a_year(seconds: float, what: str) -> float:
    """``seconds`` if at most a year, else InvalidArgumentError (a due time past the
    calendar would fail only after the first step was written)."""
    if seconds > MOST_SECONDS:
        raise InvalidArgumentError(
            f"{what} must be at most {MOST_SECONDS:g} s (a year), got {seconds:g}"
        )
    return seconds


#: The longest check command: Linux runs no single argument past 128 KiB, and the command
#: is stored in every write of the record.
MOST_CHECK_CHARS = 16384


def check_check_command(value: object) -> str | None:
    """A rollout's check command (None: none), checked."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise InvalidArgumentError(
            f"check command must be a non-empty shell command, got {value!r:.200}"
        )
    if len(value) > MOST_CHECK_CHARS:
        raise InvalidArgumentError(
            f"check command must be at most {MOST_CHECK_CHARS} characters, got "
            f"{len(value)}: put a long script in a file and run that"
        )
    return value
