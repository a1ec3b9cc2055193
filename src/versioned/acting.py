"""Acting as someone: who the alias history records for changes made in this context.

Every alias change records who made it (``AliasChange.who``): by default the backend's
identity (``user@host`` locally, the caller's ARN on AWS). A program that changes aliases
on behalf of others (``versioned serve`` for its API's token holders, a deploy service for
its users) names them instead::

    with versioned.acting_as("token:alice"):
        repo.put_alias("model", "prod", 7, expected_revision=6)   # who = "token:alice"

The name is held in a :class:`contextvars.ContextVar`: it applies to the current thread
or task and to what runs in a copy of its context (asyncio tasks, ``anyio.to_thread``),
never to other threads' changes. A thread started by hand starts without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .exc import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["acting_as", "current_actor"]

#: the most characters a name may have (it is stored in every history entry)
MAX_WHO = 256

_ACTOR: ContextVar[str | None] = ContextVar("versioned_actor", default=None)


@contextmanager
def acting_as(who: str) -> Iterator[str]:
    """Record ``who`` as the author of the alias changes made inside the block (nested
    blocks: the innermost); yields ``who``.

    Raises InvalidArgumentTypeError for a non-str, InvalidArgumentError for an empty
    name, one longer than MAX_WHO characters, with surrounding whitespace or with a
    character that does not print (a line break would forge lines in logs and tables).
    """
    if not isinstance(who, str):
        raise InvalidArgumentTypeError(f"who must be a str, got {type(who).__name__}")
    if not who or len(who) > MAX_WHO or who != who.strip() or not who.isprintable():
        raise InvalidArgumentError(
            f"who must be 1 to {MAX_WHO} printable characters without surrounding "
            f"whitespace, got {who!r}"
        )
    token = _ACTOR.set(who)
    try:
        yield who
    finally:
        _ACTOR.reset(token)


def current_actor() -> str | None:
    """Who :func:`acting_as` names in this context, or None (the backend's identity)."""
    return _ACTOR.get()
