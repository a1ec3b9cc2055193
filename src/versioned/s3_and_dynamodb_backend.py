"""Artifacts on S3 (bytes) and DynamoDB (metadata), in versioned 1.0.1's layout.

Every method takes an optional ``bsm``: a ``boto_session_manager.BotoSesManager`` or a
plain ``boto3.Session``. Without one, boto3's default credential chain is used. The
``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL_DYNAMODB``
variables are honoured, which is how S3-compatible stores and emulators are reached.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import arguments as args
from . import model
from .exc import InvalidArgumentError, InvalidArgumentTypeError
from .repository import BaseRepository
from .stores.s3 import S3DynamoBackend
from .stores.s3.calls import AwsClients, using_session
from .stores.s3.transfer import MAX_SINGLE_COPY, WORKERS

if TYPE_CHECKING:
    from .s3path import S3Path

__all__ = ["DEFAULT_PREFIX", "DEFAULT_TABLE", "Alias", "Artifact", "Repository"]

DEFAULT_PREFIX = "versioned-artifacts"
DEFAULT_TABLE = "versioned-artifacts"
#: what AWS region names look like (``us-east-1``, ``us-gov-west-1``); botocore refuses
#: others only when the first request is built
_REGION_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
#: S3 bucket names (legacy ones included) and DynamoDB table names
_BUCKET_RE = re.compile(r"[A-Za-z0-9._-]{3,255}")
_TABLE_RE = re.compile(r"[A-Za-z0-9._-]{3,255}")


def _s3path(uri: str) -> S3Path:
    from .s3path import S3Path  # s3pathlib is imported only by code that asks for a path

    path: S3Path = S3Path.from_s3_uri(uri)
    return path


@dataclass(frozen=True)
class Artifact(model.Artifact):
    """A version of an artifact stored in S3; ``s3uri`` is its object's URI."""

    @property
    def s3uri(self) -> str:
        """The S3 URI of this version's object (same as ``uri``)."""
        return self.uri

    @property
    def s3path(self) -> S3Path:
        """An ``s3pathlib.S3Path`` for this version's object."""
        return _s3path(self.uri)


@dataclass(frozen=True)
class Alias(model.Alias):
    """An alias whose versions are stored in S3."""

    @property
    def version_s3uri(self) -> str:
        """The S3 URI of the primary version's object."""
        return self.version_uri

    @property
    def secondary_version_s3uri(self) -> str | None:
        """The S3 URI of the secondary version's object, or None."""
        return self.secondary_version_uri

    @property
    def s3path_version(self) -> S3Path:
        """An ``s3pathlib.S3Path`` for the primary version's object."""
        return _s3path(self.version_uri)

    @property
    def s3path_secondary_version(self) -> S3Path:
        """An ``s3pathlib.S3Path`` for the secondary version; ValueError if none."""
        if self.secondary_version_uri is None:
            raise InvalidArgumentError(
                f"alias {self.alias!r} of artifact {self.name!r} has no secondary version"
            )
        return _s3path(self.secondary_version_uri)


def _check_text(value: object, what: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"{what} must be a str, got {type(value).__name__}")
    if not value and not empty_ok:
        raise InvalidArgumentError(f"{what} must not be empty")
    return value


class Repository(BaseRepository[Artifact, Alias]):
    """An artifact repository in an S3 bucket and a DynamoDB table.

    ``retry_attempts`` and ``retry_mode`` configure botocore's retries of throttling,
    5xx answers and dropped connections (modes: ``standard``, ``adaptive``, ``legacy``).
    ``lease_seconds`` (a finite number above 0) bounds how long a crashed put can hold
    up the next put of the same artifact (a live put renews its lease, however long its
    upload takes).
    ``copy_threshold``: objects larger than this many bytes publish through a multipart
    copy (S3's single copy stops at 5 GiB, the default). ``download_workers``: parallel
    ranged GETs per download; 1 streams one GET (better for servers, such as moto, that
    read a whole object to answer each range).
    ``single_writer``: write even to an S3-compatible store that ignores conditional
    writes (``bootstrap`` and the first write of a process probe the store; see
    docs/design.md). Safe only if no two processes ever write to the repository at once;
    ``VERSIONED_SINGLE_WRITER=1`` in the environment sets it too (for the command line).
    """

    artifact_class = Artifact
    alias_class = Alias

    def __init__(
        self,
        aws_region: str,
        s3_bucket: str,
        s3_prefix: str = DEFAULT_PREFIX,
        dynamodb_table_name: str = DEFAULT_TABLE,
        suffix: str = "",
        *,
        retry_attempts: int = 5,
        retry_mode: str = "standard",
        lease_seconds: float = 60.0,
        copy_threshold: int = MAX_SINGLE_COPY,
        download_workers: int = WORKERS,
        single_writer: bool | None = None,
    ) -> None:
        self.aws_region = _check_text(aws_region, "aws_region")
        if not _REGION_RE.fullmatch(self.aws_region):
            raise InvalidArgumentError(f"aws_region {aws_region!r} is not a region name")
        self.s3_bucket = _check_text(s3_bucket, "s3_bucket")
        if not _BUCKET_RE.fullmatch(self.s3_bucket):
            raise InvalidArgumentError(f"s3_bucket {s3_bucket!r} is not a bucket name")
        self.s3_prefix = _check_text(s3_prefix, "s3_prefix").strip("/")
        if not self.s3_prefix:
            raise InvalidArgumentError("s3_prefix must name a folder, not the bucket root")
        self.dynamodb_table_name = _check_text(dynamodb_table_name, "dynamodb_table_name")
        if not _TABLE_RE.fullmatch(self.dynamodb_table_name):
            raise InvalidArgumentError(
                f"dynamodb_table_name {dynamodb_table_name!r} is not a table name: "
                "use 3-255 characters from A-Z a-z 0-9 . _ -"
            )
        self.suffix = _check_text(suffix, "suffix", empty_ok=True)
        args.check_non_negative_int(retry_attempts, "retry_attempts")
        if retry_mode not in ("standard", "adaptive", "legacy"):
            raise InvalidArgumentError("retry_mode must be 'standard', 'adaptive' or 'legacy'")
        lease = args.check_seconds(lease_seconds, "lease_seconds", positive=True)
        if args.check_non_negative_int(copy_threshold, "copy_threshold") > MAX_SINGLE_COPY:
            raise InvalidArgumentError("copy_threshold cannot exceed S3's 5 GiB copy limit")
        if args.check_non_negative_int(download_workers, "download_workers") < 1:
            raise InvalidArgumentError("download_workers must be at least 1")
        self._clients = AwsClients(self.aws_region, retry_attempts, retry_mode)
        self._store = S3DynamoBackend(
            self._clients,
            self.s3_bucket,
            self.s3_prefix,
            self.dynamodb_table_name,
            self.suffix,
            lease,
            copy_threshold,
            download_workers,
            _single_writer(single_writer),
        )
        super().__init__(self._store)

    def __repr__(self) -> str:
        return (
            f"s3_and_dynamodb_backend.Repository(aws_region={self.aws_region!r}, "
            f"s3_bucket={self.s3_bucket!r}, s3_prefix={self.s3_prefix!r}, "
            f"dynamodb_table_name={self.dynamodb_table_name!r}, suffix={self.suffix!r})"
        )

    @contextlib.contextmanager
    def _using(self, session: object | None) -> Iterator[None]:
        with using_session(session):
            yield

    @property
    def uri(self) -> str:
        """The repository's URI, as :func:`versioned.open_repository` takes it."""
        query = f"table={self.dynamodb_table_name}&region={self.aws_region}"
        if self.suffix:
            query += f"&suffix={self.suffix}"
        return f"s3://{self.s3_bucket}/{self.s3_prefix}?{query}"

    @property
    def s3dir_artifact_store(self) -> S3Path:
        """The S3 folder holding every artifact: ``s3://{bucket}/{prefix}/``."""
        return _s3path(f"s3://{self.s3_bucket}/{self.s3_prefix}/")

    def get_artifact_s3path(self, name: str, version: int | str | None = None) -> S3Path:
        """The S3 path of a version's object (``…/name/000005{suffix}``, or ``LATEST``)."""
        number = args.check_version(version)
        return _s3path(self._store.version_uri(args.check_name(name), number, None))

    # --- set-up -----------------------------------------------------------------------------------
    def bootstrap(
        self,
        bsm: Any = None,
        dynamodb_write_capacity_units: int | None = None,
        dynamodb_read_capacity_units: int | None = None,
    ) -> None:
        """Create the bucket and table if missing (on-demand billing unless both
        capacities are given); existing resources are left as they are."""
        with self._using(bsm):
            self._engine.bootstrap(dynamodb_write_capacity_units, dynamodb_read_capacity_units)


def _single_writer(given: bool | None) -> bool:
    """The ``single_writer`` option: as given, else ``VERSIONED_SINGLE_WRITER`` (1/true/yes)."""
    if given is None:
        return os.environ.get("VERSIONED_SINGLE_WRITER", "").lower() in ("1", "true", "yes")
    if not isinstance(given, bool):
        raise InvalidArgumentTypeError(f"single_writer must be a bool, got {type(given).__name__}")
    return given
