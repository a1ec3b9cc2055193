"""Shared pieces for interleaving tests of the S3 + DynamoDB backend.

A :class:`World` is one bucket and table seen three ways: ``direct`` (a repository talking
to moto), ``held`` (a repository whose every request goes through a :class:`FaultProxy` of
its own, so that one of its requests can be held at a chosen point) and raw boto3 (the
invariant checker and the 1.0.1 model). :func:`interleave` runs an operation A on the
held repository, waits until the proxy holds the chosen request, runs B to completion on
the direct one, releases A and reports how both ended; :func:`check_artifact` then lists
every way the artifact's storage, public reads, aliases and 1.0.1's view are wrong.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.faults.proxy import FaultProxy, Hold
from tests.helpers import REGION, Repository, S3Backend
from tests.invariants import S3RawStore
from tests.legacy import Legacy
from versioned import exc

#: Errors an operation may end with when another one raced it (anything else is a fault).
ALLOWED_ERRORS: tuple[type[BaseException], ...] = (
    exc.ArtifactNotFoundError,
    exc.AliasNotFoundError,
    exc.VersionInUseError,
    exc.ConcurrentWriteError,
)
#: How long B may take while A is held before A is released anyway (B may wait for A).
B_PATIENCE = 1.5
_ENVIRONMENT_LOCK = threading.Lock()


@contextlib.contextmanager
def hold_proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    """A proxy in front of moto for the client a test wants to hold (and nothing else)."""
    proxy = FaultProxy(moto_endpoint)
    try:
        yield proxy
    finally:
        proxy.release()
        proxy.close()


def repository_through(url: str, bucket: str, table: str, **options: Any) -> Repository:
    """An S3 repository on ``bucket``/``table`` whose requests all go to ``url``.

    The library makes its clients on first use from ``AWS_ENDPOINT_URL`` and keeps them,
    so the variable points at ``url`` only while ``bootstrap`` makes them.
    """
    from versioned.s3_and_dynamodb_backend import Repository as S3Repository

    with _ENVIRONMENT_LOCK:
        saved = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = url
        try:
            repo = S3Repository(
                aws_region=REGION, s3_bucket=bucket, dynamodb_table_name=table, **options
            )
            repo.bootstrap()
        finally:
            if saved is None:
                os.environ.pop("AWS_ENDPOINT_URL", None)
            else:
                os.environ["AWS_ENDPOINT_URL"] = saved
    return repo


@dataclass
class World:
    """One bucket and table: a direct repository, a held one, and raw access."""

    backend: S3Backend
    proxy: FaultProxy
    held: Repository
    s3: Any
    dynamodb: Any
    #: per artifact name: a checker that remembers published hashes across checks
    stores: dict[str, S3RawStore] = field(default_factory=dict)

    @classmethod
    def make(cls, backend: S3Backend, proxy: FaultProxy, **held_options: Any) -> World:
        proxy.arm(None)
        held = repository_through(proxy.url, backend.bucket, backend.table, **held_options)
        return cls(backend, proxy, held, backend.s3, backend.dynamodb)

    @property
    def direct(self) -> Repository:
        return self.backend.repo

    def held_with(self, **options: Any) -> Repository:
        """Another held repository on the same storage, with other options."""
        self.proxy.arm(None)
        return repository_through(
            self.proxy.url, self.backend.bucket, self.backend.table, **options
        )

    def store(self, name: str) -> S3RawStore:
        if name not in self.stores:
            self.stores[name] = S3RawStore(
                s3=self.s3, dynamodb=self.dynamodb, bucket=self.backend.bucket,
                table=self.backend.table, prefix=self.backend.prefix,
            )  # fmt: skip
        return self.stores[name]

    @property
    def legacy(self) -> Legacy:
        return Legacy(self.s3, self.dynamodb, self.backend.bucket, self.backend.table)

    def key(self, name: str, version: int | None) -> str:
        return self.backend.key(name, version)

    def record(self, call: Callable[[Repository], object]) -> list[str]:
        """The requests ``call`` makes on the held repository, alone."""
        self.proxy.arm(None)
        with contextlib.suppress(ALLOWED_ERRORS):
            call(self.held)
        seen = self.proxy.operations()
        assert seen, "the held repository's requests do not go through its proxy"
        return seen


class Worker(threading.Thread):
    """Runs one call on a thread and keeps how it ended."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self.error: BaseException | None = None
        self.result: object = None

    def run(self) -> None:
        try:
            self.result = self._call()
        except BaseException as error:
            self.error = error


@dataclass
class Outcome:
    """How an interleaving went: whether the hold caught a request, how A and B ended."""

    held: bool
    b_waited_for_a: bool
    a_error: BaseException | None
    b_error: BaseException | None

    def problems(self) -> list[str]:
        """Errors no caller of the public API should see here."""
        found = []
        for who, error in (("A", self.a_error), ("B", self.b_error)):
            if error is not None and not isinstance(error, ALLOWED_ERRORS):
                found.append(f"{who} raised {type(error).__name__}: {error}")
        return found


def interleave(
    world: World,
    a: Callable[[Repository], object],
    b: Callable[[Repository], object],
    hold: Hold,
    *,
    held_repo: Repository | None = None,
    hold_for: float = 0.0,
    b_patience: float = B_PATIENCE,
) -> Outcome:
    """Run ``a`` on the held repository, held by ``hold``; meanwhile ``b`` on the direct one.

    ``hold_for``: keep A held at least this long (a process frozen past its lease). If
    the hold never catches a request, B runs after A. Returns how both ended.
    """
    repo = held_repo if held_repo is not None else world.held
    world.proxy.arm(None, hold)
    first = Worker(lambda: a(repo))
    first.start()
    while first.is_alive() and not world.proxy.wait_held(0.01):
        pass
    held = world.proxy.is_held()
    started = time.monotonic()
    second = Worker(lambda: b(world.direct))
    if held:
        second.start()
        second.join(b_patience)
        waited = second.is_alive()
        time.sleep(max(0.0, hold_for - (time.monotonic() - started)))
        world.proxy.release()
        first.join(120)
        second.join(120)
    else:
        first.join(120)
        waited = False
        second.start()
        second.join(120)
    assert not first.is_alive() and not second.is_alive(), "an operation never finished"
    world.proxy.arm(None)
    return Outcome(held, waited, first.error, second.error)


def check_artifact(world: World, name: str, *, allow_expired_leases: bool = False) -> list[str]:
    """Every violation for ``name``: raw invariants, public reads, aliases, 1.0.1's view."""
    problems = world.store(name).violations(names=[name], allow_expired_leases=allow_expired_leases)
    repo = world.direct
    listed: set[str] = set()
    for artifact in repo.list_artifact_versions(name):
        listed.add(artifact.version)
        try:
            artifact.get_content()
        except exc.VersionedError as error:
            problems.append(f"{name} v{artifact.version}: read raised {type(error).__name__}")
    for alias in repo.list_aliases(name):
        targets = [alias.version] + (
            [alias.secondary_version] if alias.secondary_version is not None else []
        )
        for target in targets:
            if target not in listed:
                problems.append(f"{name} alias {alias.alias}: targets unlisted version {target}")
        try:
            alias.get_version_content()
            if alias.secondary_version is not None:
                alias.get_secondary_version_content()
        except exc.VersionedError as error:
            problems.append(f"{name} alias {alias.alias}: read raised {type(error).__name__}")
    return problems + world.legacy.violations(name)


def heal_problems(world: World, name: str) -> list[str]:
    """Put new content and publish it, as a user would next; list what goes wrong."""
    content = os.urandom(200)
    try:
        world.direct.put_artifact(name, content)
        published = world.direct.publish_artifact_version(name)
        if published.get_content() != content:
            return [f"{name}: the next publish froze other bytes than the put's"]
    except exc.VersionedError as error:
        return [f"{name}: the next put + publish raised {type(error).__name__}: {error}"]
    return check_artifact(world, name)
