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

from tests.alias_chain import history_problems, renamed
from tests.faults.proxy import FaultProxy, Hold
from tests.helpers import REGION, Engines, Repository, S3Backend, endpoint_variables
from tests.invariants import S3RawStore
from tests.legacy import Legacy
from versioned import exc

#: Errors an operation may end with when another one raced it (anything else is a fault).
ALLOWED_ERRORS: tuple[type[BaseException], ...] = (
    exc.ArtifactNotFoundError,  # VersionDeletedError too (a rollback target deleted)
    exc.AliasNotFoundError,
    exc.VersionInUseError,
    exc.ConcurrentWriteError,
    exc.RevisionMismatchError,  # a compare-and-set that another change overtook
)
#: How long B may take while A is held before A is released anyway (B may wait for A).
B_PATIENCE = 1.5
_ENVIRONMENT_LOCK = threading.Lock()


@contextlib.contextmanager
def hold_proxy(engines: Engines) -> Iterator[FaultProxy]:
    """A proxy in front of the engines for the client a test wants to hold (and nothing else)."""
    proxy = FaultProxy(engines.upstreams())
    try:
        yield proxy
    finally:
        proxy.release()
        proxy.close()


def repository_through(url: str, bucket: str, table: str, **options: Any) -> Repository:
    """An S3 repository on ``bucket``/``table`` whose requests all go to ``url``.

    The library makes its clients on first use from the endpoint variables and keeps
    them, so the variables point at ``url`` only while ``bootstrap`` makes them.
    """
    from versioned.s3_and_dynamodb_backend import Repository as S3Repository

    with _ENVIRONMENT_LOCK:
        variables = endpoint_variables(url)
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            repo = S3Repository(
                aws_region=REGION, s3_bucket=bucket, dynamodb_table_name=table, **options
            )
            repo.bootstrap()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
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
        world = cls(backend, proxy, None, backend.s3, backend.dynamodb)
        world.held = world.held_with(**held_options)
        return world

    @property
    def direct(self) -> Repository:
        return self.backend.repo

    def held_with(self, **options: Any) -> Repository:
        """A held repository on this storage (another one, with other options)."""
        self.proxy.arm(None)
        backend = self.backend
        options.setdefault("s3_prefix", backend.prefix)
        options.setdefault("suffix", backend.suffix)
        return repository_through(self.proxy.url, backend.bucket, backend.table, **options)

    def store(self, name: str) -> S3RawStore:
        if name not in self.stores:
            self.stores[name] = S3RawStore(
                s3=self.s3, dynamodb=self.dynamodb, bucket=self.backend.bucket,
                table=self.backend.table, prefix=self.backend.prefix,
            )  # fmt: skip
        return self.stores[name]

    @property
    def legacy(self) -> Legacy:
        backend = self.backend
        return Legacy(
            self.s3, self.dynamodb, backend.bucket, backend.table, backend.prefix, backend.suffix
        )

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
    #: the operation of the request the hold caught (None: it caught none)
    held_operation: str | None
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
    assert held or world.proxy.operations(), "the held repository's requests miss its proxy"
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
    caught = world.proxy.held_operation
    world.proxy.arm(None)
    return Outcome(held, caught, waited, first.error, second.error)


def _partitions(world: World, name: str) -> list[dict[str, Any]]:
    store = world.store(name)
    pks = (name, f"__{name}-alias", f"__{name}-alias#history")
    return [item for pk in pks for item in store.partition(pk)]


def _objects(world: World, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in world.s3.get_paginator("list_objects_v2").paginate(
        Bucket=world.backend.bucket, Prefix=prefix
    ):
        keys += [entry["Key"] for entry in page.get("Contents", [])]
    return keys


@dataclass
class Template:
    """An artifact prepared once through the API, to be cloned as raw storage."""

    world: World
    name: str
    items: list[dict[str, Any]] = field(default_factory=list)
    #: object key under the artifact's folder -> its HeadObject answer
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)

    def freeze(self) -> None:
        """Read the template's items and objects once (clones copy what was read)."""
        self.items = _partitions(self.world, self.name)
        folder = f"{self.world.backend.prefix}/{self.name}/"
        for key in _objects(self.world, folder):
            head = self.world.s3.head_object(Bucket=self.world.backend.bucket, Key=key)
            self.heads[key[len(folder) :]] = head

    def clone(self, target: World, new_name: str) -> None:
        """Copy every item and object to ``new_name`` in ``target`` (same bucket and
        table): whatever the library keeps there comes along."""
        items = renamed(self.items, self.name, new_name)
        _batch_write(target, [{"PutRequest": {"Item": item}} for item in items])
        bucket = self.world.backend.bucket
        for leaf, head in self.heads.items():
            metadata = dict(head.get("Metadata", {}))
            if "artifact_name" in metadata:
                metadata["artifact_name"] = new_name
            source = f"{self.world.backend.prefix}/{self.name}/{leaf}"
            target.s3.copy_object(
                Bucket=bucket,
                Key=f"{target.backend.prefix}/{new_name}/{leaf}",
                CopySource={"Bucket": bucket, "Key": source},
                MetadataDirective="REPLACE",
                Metadata=metadata,
                **({"ContentType": head["ContentType"]} if "ContentType" in head else {}),
            )


def _batch_write(world: World, requests: list[dict[str, Any]]) -> None:
    for start in range(0, len(requests), 25):
        pending = {world.backend.table: requests[start : start + 25]}
        while pending:
            pending = world.dynamodb.batch_write_item(RequestItems=pending)["UnprocessedItems"]


def remove_artifact(world: World, name: str) -> None:
    """Delete every item and object of ``name`` behind the library's back."""
    keys = [{"pk": i["pk"], "sk": i["sk"]} for i in _partitions(world, name)]
    _batch_write(world, [{"DeleteRequest": {"Key": key}} for key in keys])
    objects = _objects(world, f"{world.backend.prefix}/{name}/")
    if objects:
        world.s3.delete_objects(
            Bucket=world.backend.bucket, Delete={"Objects": [{"Key": k} for k in objects]}
        )
    world.stores.pop(name, None)


def check_artifact(
    world: World, name: str, *, allow_expired_leases: bool = False, reads: bool = True
) -> list[str]:
    """Every violation for ``name``: raw invariants (the aliases' history chains included),
    1.0.1's view and (``reads``) verified reads of every listed version and every alias
    through the public API."""
    problems = world.store(name).violations(names=[name], allow_expired_leases=allow_expired_leases)
    problems += history_problems(world.dynamodb, world.backend.table, name)
    problems += world.legacy.violations(name, allow_expired_leases=allow_expired_leases)
    if reads:
        problems += _read_problems(world, name)
    return problems


def _read_problems(world: World, name: str) -> list[str]:
    problems: list[str] = []
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
    return problems


def heal_problems(world: World, name: str, *, reads: bool = True) -> list[str]:
    """Put new content and publish it, as a user would next; list what goes wrong then
    (see :func:`check_artifact` for ``reads``)."""
    content = os.urandom(200)
    try:
        world.direct.put_artifact(name, content)
        published = world.direct.publish_artifact_version(name)
        if published.get_content() != content:
            return [f"{name}: the next publish froze other bytes than the put's"]
    except exc.VersionedError as error:
        return [f"{name}: the next put + publish raised {type(error).__name__}: {error}"]
    return check_artifact(world, name, reads=reads)
