"""The server's write tokens, each with a name: who the alias history records.

``versioned serve --tokens-file PATH`` reads one token a line, ``NAME TOKEN`` (one
space between them), with blank lines and ``#`` comment lines ignored::

    # deployers
    alice 9f8e7d6c5b4a
    ci-release 0a1b2c3d4e5f

``--token SECRET`` (or ``$VERSIONED_SERVER_TOKEN``) still gives a single token; its name is
``default``. A change made with a token is recorded as made by ``token:NAME``.

A token that could never match an ``Authorization`` header is refused at start-up with a
one-line error naming its line: HTTP drops surrounding whitespace from header values and
carries only ASCII reliably, so a token must be 1 or more visible ASCII characters (no
space); names are 1-64 of ``A-Z a-z 0-9 . _ @ -``; neither names nor tokens may repeat.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..exc import InvalidArgumentError

#: the name of the single token given with --token or $VERSIONED_SERVER_TOKEN
DEFAULT_NAME = "default"
#: how a token's name shows in the alias history (``who``)
WHO_PREFIX = "token:"

Writers = tuple[tuple[str, str], ...]

_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_TOKEN = re.compile(r"[\x21-\x7e]+")


def check_token(token: str, where: str) -> str:
    """``token`` if some ``Authorization: Bearer`` header can carry it, else raise
    InvalidArgumentError saying why, ``where`` naming its origin (one line)."""
    if not token:
        raise InvalidArgumentError(f"{where}: the token is empty: give a secret, or none")
    if token != token.strip() or any(c.isspace() for c in token):
        raise InvalidArgumentError(
            f"{where}: the token has whitespace in it, which no header can carry in place"
        )
    if not _TOKEN.fullmatch(token):
        raise InvalidArgumentError(
            f"{where}: the token must be visible ASCII characters only (no header carries "
            "others reliably)"
        )
    return token


def read_tokens_file(path: str | Path) -> Writers:
    """The ``(name, token)`` pairs of a tokens file, in its order.

    Raises InvalidArgumentError (one line, ``PATH line N: ...``) for a malformed line, a
    bad name or token, a name or token given twice, or a file without a token; OSError
    when it cannot be read.
    """
    found: list[tuple[str, str]] = []
    text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path} line {number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, space, token = line.partition(" ")
        if not space:
            raise InvalidArgumentError(f"{where}: expected 'NAME TOKEN' (one space between)")
        if not _NAME.fullmatch(name):
            raise InvalidArgumentError(
                f"{where}: the name {name!r} must be 1-64 of A-Z a-z 0-9 . _ @ -"
            )
        found.append((name, check_token(token, where)))
        _refuse_repeats(found, where)
    if not found:
        raise InvalidArgumentError(f"{path}: no token in it (lines are 'NAME TOKEN')")
    return tuple(found)


def writers_of(token: str | None, named: Writers) -> Writers:
    """Every ``(name, token)`` that may write: ``token`` as :data:`DEFAULT_NAME`, then
    ``named``. Raises InvalidArgumentError for a token that could never match, or a
    name or token given twice."""
    found: list[tuple[str, str]] = []
    if token is not None:
        found.append((DEFAULT_NAME, check_token(token, "--token")))
    for name, secret in named:
        where = f"the token named {name!r}"
        if not _NAME.fullmatch(name):
            raise InvalidArgumentError(f"{where}: a name is 1-64 of A-Z a-z 0-9 . _ @ -")
        found.append((name, check_token(secret, where)))
        _refuse_repeats(found, where)
    return tuple(found)


def _refuse_repeats(found: list[tuple[str, str]], where: str) -> None:
    """Raise InvalidArgumentError when the last pair repeats an earlier name or token."""
    name, token = found[-1]
    for earlier_name, earlier_token in found[:-1]:
        if earlier_name == name:
            raise InvalidArgumentError(f"{where}: the name {name!r} is given twice")
        if earlier_token == token:
            raise InvalidArgumentError(
                f"{where}: the same token as {earlier_name!r}: whose change would it be?"
            )
