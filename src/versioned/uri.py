"""Opening a repository from a URI: a path, ``file://…`` or ``s3://…``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from . import arguments as args
from .exc import InvalidArgumentError

if TYPE_CHECKING:
    from .local_backend import Repository as LocalRepository
    from .s3_and_dynamodb_backend import Repository as S3Repository

_S3_OPTIONS = {"table", "region", "suffix"}


def open_repository(
    uri: str | os.PathLike[str], *, create: bool = True
) -> LocalRepository | S3Repository:
    """Return the repository a URI names.

    - a path or ``file:///path`` → :class:`versioned.local_backend.Repository`
    - ``s3://BUCKET/PREFIX?table=TABLE&region=REGION&suffix=.zip`` →
      :class:`versioned.s3_and_dynamodb_backend.Repository` (prefix and table default to
      ``versioned-artifacts``; region to ``AWS_REGION``/``AWS_DEFAULT_REGION``, else
      ``us-east-1``).

    ``create=False`` opens a local repository only if it exists (else
    RepositoryNotFoundError); an S3 repository is never created by opening it.
    Raises InvalidArgumentError for a URI that is malformed or names an unknown scheme
    or option, InvalidArgumentTypeError for one that is not a str or path.
    """
    text = args.check_path(uri, "repository URI")
    parts = _split(text)
    if parts.scheme == "s3":
        return _open_s3(text, parts)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgumentError(f"file URI {text!r} must name a local path")
        if not parts.path:
            raise InvalidArgumentError(f"file URI {text!r} names no path: use file:///PATH")
        return _open_local(unquote(parts.path), create)
    if parts.scheme and len(parts.scheme) > 1:  # one letter: a Windows drive
        raise InvalidArgumentError(
            f"unsupported repository URI {text!r}: use a path, file://… or s3://…"
        )
    return _open_local(text, create)


def _split(text: str) -> SplitResult:
    try:
        return urlsplit(text)
    except ValueError as error:  # an unclosed '[' (an IPv6 host), say
        raise InvalidArgumentError(f"malformed repository URI {text!r}: {error}") from None


def _open_local(path: str, create: bool) -> LocalRepository:
    from .local_backend import Repository as Local

    return Local(path, create=create)


def _open_s3(text: str, parts: SplitResult) -> S3Repository:
    from .s3_and_dynamodb_backend import DEFAULT_PREFIX, DEFAULT_TABLE
    from .s3_and_dynamodb_backend import Repository as S3

    if not parts.netloc:
        raise InvalidArgumentError(f"S3 URI {text!r} has no bucket")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(options) - _S3_OPTIONS
    if unknown:
        raise InvalidArgumentError(
            f"unknown option(s) {', '.join(sorted(unknown))} in {text!r}: "
            f"use {', '.join(sorted(_S3_OPTIONS))}"
        )

    def option(key: str, default: str) -> str:
        return options[key][-1] if key in options else default

    region = option(
        "region",
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    prefix = unquote(parts.path).strip("/") or DEFAULT_PREFIX
    return S3(
        aws_region=region,
        s3_bucket=parts.netloc,
        s3_prefix=prefix,
        dynamodb_table_name=option("table", DEFAULT_TABLE),
        suffix=option("suffix", ""),
    )
