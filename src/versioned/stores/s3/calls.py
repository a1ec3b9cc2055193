"""Boto3 clients for a repository, and the one place AWS errors become ours.

Clients are made once per (repository, session) and reused; botocore's retry mode
(``standard`` by default) retries throttling, 5xx answers and dropped connections.
Whatever still fails is raised as :class:`~versioned.exc.BackendError` (or
:class:`~versioned.exc.RepositoryNotReadyError`), with the botocore error as
``__cause__``; error codes a caller expects come back as :class:`Refused`.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ...exc import BackendError, InvalidArgumentTypeError, RepositoryNotReadyError

#: The session the facade was handed for the call in progress (None: the default chain).
current_session: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "versioned_session", default=None
)

_NOT_READY = {"NoSuchBucket", "ResourceNotFoundException"}
#: S3's answer (409) when conditional writes to one key race each other; AWS says to
#: send the request again, and botocore's retry modes do not.
CONDITION_CONFLICT = "ConditionalRequestConflict"
_CONFLICT_ATTEMPTS = 5
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


class Refused(Exception):
    """Internal: AWS answered with an error code the caller said it expects."""

    def __init__(self, code: str, response: dict[str, Any]) -> None:
        super().__init__(code)
        self.code = code
        self.response = response


def boto3_session_of(session: object | None, region: str) -> boto3.session.Session:
    """The boto3 session behind a ``BotoSesManager``, a ``boto3.Session``, or the default."""
    if session is None:
        return boto3.session.Session(region_name=region)
    if isinstance(session, boto3.session.Session):
        return session
    inner = getattr(session, "boto_ses", None)
    if isinstance(inner, boto3.session.Session):
        return inner
    raise InvalidArgumentTypeError(
        f"bsm must be a boto_session_manager.BotoSesManager or a boto3.Session, "
        f"got {type(session).__name__}"
    )


class AwsClients:
    """S3 and DynamoDB clients per session, made on first use and then reused."""

    def __init__(self, region: str, retry_attempts: int, retry_mode: str) -> None:
        """``retry_attempts``: requests made in all for one call, the first included."""
        self.region = region
        # S3-compatible servers on a plain host:port cannot serve bucket subdomains
        path_style = any(os.environ.get(v) for v in _ENDPOINT_VARIABLES)
        self.config = Config(
            region_name=region,
            # ``total_max_attempts`` counts the first try: botocore's ``max_attempts``
            # would add one, so retry_attempts=1 would still retry once
            retries={  # type: ignore[arg-type]
                "total_max_attempts": max(1, retry_attempts),
                "mode": retry_mode,
            },
            max_pool_connections=64,
            # Every S3 request with a body carries its SHA-256 checksum header, which is
            # signed and which S3 verifies: hashing the body again for the signature (what
            # botocore does on plain-HTTP endpoints) would only cost a pass over the bytes.
            s3={
                "payload_signing_enabled": False,
                **({"addressing_style": "path"} if path_style else {}),
            },
        )
        self._lock = threading.Lock()
        # keyed by id(); the session object is kept in the value so the id stays unique
        self._by_session: dict[int, tuple[object | None, Any, Any]] = {}

    def _pair(self) -> tuple[Any, Any]:
        session = current_session.get()
        key = id(session)
        found = self._by_session.get(key)
        if found is not None and found[0] is session:
            return found[1], found[2]
        with self._lock:
            found = self._by_session.get(key)
            if found is None or found[0] is not session:
                boto_session = boto3_session_of(session, self.region)
                s3 = boto_session.client("s3", config=self.config)
                dynamodb = boto_session.client("dynamodb", config=self.config)
                found = (session, s3, dynamodb)
                self._by_session[key] = found
        return found[1], found[2]

    @property
    def s3(self) -> Any:
        """The S3 client for the current session."""
        return self._pair()[0]

    @property
    def dynamodb(self) -> Any:
        """The DynamoDB client for the current session."""
        return self._pair()[1]


@contextmanager
def using_session(session: object | None) -> Iterator[None]:
    """Make ``session`` the one clients are taken from inside the block."""
    if session is not None:
        boto3_session_of(session, "us-east-1")  # reject a wrong type before any work
    token = current_session.set(session)
    try:
        yield
    finally:
        current_session.reset(token)


def call(client: Any, operation: str, *, expect: tuple[str, ...] = (), **params: Any) -> Any:
    """Run one AWS operation, translating failures.

    A 409 ``ConditionalRequestConflict`` is sent again (a few times, backing off): the
    conflicting write has decided by then, and the condition is evaluated anew.
    Raises Refused for an error code in ``expect``, RepositoryNotReadyError when the
    bucket or table is missing, BackendError for anything else.
    """
    body: Any = params.get("Body")
    start = body.tell() if hasattr(body, "seek") and hasattr(body, "tell") else None
    for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
        try:
            return _call_once(client, operation, expect, params)
        except Refused as refused:
            if refused.code != CONDITION_CONFLICT or CONDITION_CONFLICT in expect:
                raise
            if attempt == _CONFLICT_ATTEMPTS:
                raise BackendError(f"{operation} failed: {refused.code}") from refused
            time.sleep(0.05 * 2**attempt)
            if start is not None:
                body.seek(start)  # the body was read by the attempt
    raise AssertionError("unreachable")  # pragma: no cover


def _call_once(client: Any, operation: str, expect: tuple[str, ...], params: Any) -> Any:
    """One request; a 409 conflict comes back as Refused whatever ``expect`` says."""
    try:
        return getattr(client, operation)(**params)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in expect or code == CONDITION_CONFLICT:
            raise Refused(code, dict(error.response)) from error
        if code in _NOT_READY:
            raise RepositoryNotReadyError(
                f"{operation}: {error.response.get('Error', {}).get('Message', code)} "
                "(run bootstrap() first)"
            ) from error
        raise BackendError(f"{operation} failed: {error}") from error
    except BotoCoreError as error:
        raise BackendError(f"{operation} failed: {error}") from error
