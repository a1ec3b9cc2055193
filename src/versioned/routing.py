"""Sticky routing: which version of a traffic split a caller key gets (``Alias.route``).

The rule is part of the public promise (the same key gets the same version on every
machine, in every process and every release), so it is written down here exactly, for
other languages to reproduce:

1. ``input`` = the ASCII tag ``versioned.route.v1``, then for each of the artifact name,
   the primary version, the secondary version (public forms: ``"LATEST"``, ``"5"``) and
   the key: its UTF-8 length as 4 bytes big-endian, then its UTF-8 bytes;
2. ``bucket`` = the first 8 bytes of ``SHA-256(input)`` as a big-endian unsigned
   integer, modulo 10,000;
3. the key gets the secondary version if ``bucket < weight * 100``, else the primary.

The bucket does not depend on the weight, so raising the weight only moves keys from the
primary to the secondary (never back), and over many keys the secondary's share is the
weight. A new primary/secondary pair reshuffles the keys.
"""

from __future__ import annotations

import hashlib

from . import arguments as args

__all__ = ["ROUTE_BUCKETS", "route_bucket", "route_input", "route_version"]

#: How many buckets keys fall into: a weight of ``w`` percent owns buckets ``[0, w * 100)``.
ROUTE_BUCKETS = 10_000
_TAG = b"versioned.route.v1"


def route_input(name: str, version: str, secondary_version: str, key: str) -> bytes:
    """The bytes that are hashed (step 1 of the rule): each part length-prefixed, so no
    two different tuples of parts give the same bytes."""
    parts = [_TAG]
    for text in (name, version, secondary_version, key):
        data = text.encode("utf-8")
        parts.append(len(data).to_bytes(4, "big") + data)
    return b"".join(parts)


def route_bucket(name: str, version: str, secondary_version: str, key: str) -> int:
    """The bucket in ``[0, 10000)`` of ``key`` for this primary/secondary pair (step 2)."""
    digest = hashlib.sha256(route_input(name, version, secondary_version, key)).digest()
    return int.from_bytes(digest[:8], "big") % ROUTE_BUCKETS


def route_version(
    name: str, version: str, secondary_version: str | None, weight: int | None, key: object
) -> str:
    """The version ``key`` gets (step 3): ``secondary_version`` or ``version``.

    Without a secondary version, or with weight 0 or None, always ``version``. Raises
    InvalidArgumentTypeError / InvalidArgumentError for a bad key (``check_route_key``),
    whether or not the alias splits traffic.
    """
    checked = args.check_route_key(key)
    if secondary_version is None or not weight:
        return version
    if route_bucket(name, version, secondary_version, checked) < weight * 100:
        return secondary_version
    return version
