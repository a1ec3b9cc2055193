"""Invariants under real concurrency: threads, separate Repository objects, processes.

Invariant 1: a version number is given out once (and, without crashes, without gaps).
Invariant 2: the bytes under a version always hash to its recorded sha256.
Invariant 4: an alias never points at a soft-deleted version.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tests.helpers import (
    Backend,
    Repository,
    S3Backend,
    check_version_item,
    raises_versioned,
    sha256_hex,
)
from tests.workers import publish_many
from versioned import exc

NAME = "contended"
THREADS = 8
PROCESSES = 4
PUBLISHES_EACH = 3
T = TypeVar("T")


def run_threads(jobs: list[Callable[[], T]]) -> list[T]:
    """Run every job on its own thread, released together; return results, re-raise errors."""
    start = threading.Barrier(len(jobs))

    def released(job: Callable[[], T]) -> T:
        start.wait(timeout=60)
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(released, job) for job in jobs]
        return [future.result(timeout=300) for future in futures]


def repositories(backend: Backend, count: int) -> list[Repository]:
    """``count`` repositories: half share the fixture's object, half are separate objects."""
    return [backend.repo if i % 2 == 0 else backend.new_repository() for i in range(count)]


def publisher(repo: Repository, count: int) -> Callable[[], list[str]]:
    return lambda: [repo.publish_artifact_version(NAME).version for _ in range(count)]


def assert_versions_consistent(backend: Backend, numbers: list[int]) -> None:
    """Every version's stored bytes hash to its sha256, and get_content verifies.

    On S3, also: once everyone is done, the artifact's partition holds nothing but committed,
    live version items in 1.0.1's layout (no claims or pending items left behind).
    """
    if isinstance(backend, S3Backend):
        items = backend.partition(NAME)
        for item in items:
            check_version_item(item, NAME, deleted=False)
        assert {item["sk"]["S"] for item in items} == {"LATEST"} | {
            str(n).zfill(6) for n in numbers
        }
    for number in numbers:
        artifact = backend.repo.get_artifact_version(NAME, number)
        stored = backend.stored_bytes(artifact)
        assert sha256_hex(stored) == artifact.sha256, f"version {number} bytes do not match"
        assert artifact.get_content() == stored


def stored_numbers(backend: Backend) -> object:
    """What storage holds for NAME (to explain a failure): raw items on S3, else the list."""
    if isinstance(backend, S3Backend):
        return {
            item["sk"]["S"]: {k: v for k, v in item.items() if k not in ("pk", "sk")}
            for item in backend.partition(NAME)
        }
    return [a.version for a in backend.repo.list_artifact_versions(NAME)]


def assert_unique_and_contiguous(backend: Backend, versions: list[str]) -> list[int]:
    numbers = sorted(int(v) for v in versions)
    assert len(set(numbers)) == len(numbers), f"a number was given out twice: {numbers}"
    missing = sorted(set(range(1, len(numbers) + 1)) - set(numbers))
    assert numbers == list(range(1, len(numbers) + 1)), (
        f"gaps: {missing} missing from {numbers}; stored: {stored_numbers(backend)}"
    )
    return numbers


def test_threads_and_processes_publish_at_once(backend: Backend) -> None:
    backend.repo.put_artifact(NAME, os.urandom(64 * 1024))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES + 1)
    results: Any = context.Queue()
    children = [
        context.Process(
            target=publish_many, args=(backend.uri, NAME, PUBLISHES_EACH, barrier, results)
        )
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    try:
        barrier.wait(timeout=120)  # children are up: now release everyone together
        from_threads = run_threads(
            [publisher(repo, PUBLISHES_EACH) for repo in repositories(backend, THREADS)]
        )
        reports = [results.get(timeout=300) for _ in children]
    finally:
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()
    errors = [detail for status, detail in reports if status != "ok"]
    assert not errors, "\n".join(errors)
    versions = [v for batch in from_threads for v in batch]
    versions += [v for _, batch in reports for v in batch]
    assert len(versions) == (THREADS + PROCESSES) * PUBLISHES_EACH
    numbers = assert_unique_and_contiguous(backend, versions)
    assert_versions_consistent(backend, numbers)
    listed = [a.version for a in backend.repo.list_artifact_versions(NAME)]
    assert listed == ["LATEST"] + [str(n) for n in reversed(numbers)]


def test_publish_while_latest_changes(backend: Backend) -> None:
    written: set[str] = set()
    lock = threading.Lock()

    def writer(seed: int) -> Callable[[], None]:
        repo = backend.new_repository()

        def write() -> None:
            for i in range(12):
                content = f"writer {seed} round {i} ".encode() * (1000 * (1 + i % 5))
                with lock:
                    written.add(sha256_hex(content))
                repo.put_artifact(NAME, content)

        return write

    first = b"initial content"
    written.add(sha256_hex(first))
    backend.repo.put_artifact(NAME, first)
    publishers = [publisher(repo, 5) for repo in repositories(backend, 6)]
    results = run_threads([writer(1), writer(2), *publishers])
    versions = [v for batch in results if batch for v in batch]
    numbers = assert_unique_and_contiguous(backend, versions)
    assert len(numbers) == 30
    assert_versions_consistent(backend, numbers)
    for number in numbers:
        assert backend.repo.get_artifact_version(NAME, number).sha256 in written
    latest = backend.repo.get_artifact_version(NAME)
    assert sha256_hex(backend.stored_bytes(latest)) == latest.sha256


def test_put_alias_races_delete(backend: Backend) -> None:
    aliaser, deleter, repo = backend.new_repository(), backend.new_repository(), backend.repo
    repo.put_artifact(NAME, b"racing")
    outcomes = {"aliased": 0, "deleted": 0}

    def put_alias(version: str) -> Callable[[], bool]:
        def run() -> bool:
            try:
                aliaser.put_alias(NAME, "race", version=version)
            except exc.ArtifactNotFoundError:
                return False
            return True

        return run

    def delete(version: str) -> Callable[[], bool]:
        def run() -> bool:
            try:
                deleter.delete_artifact_version(NAME, version)
            except exc.VersionInUseError as error:
                assert error.aliases == ["race"]
                return False
            return True

        return run

    for _ in range(30):
        version = repo.publish_artifact_version(NAME).version
        aliased, deleted = run_threads([put_alias(version), delete(version)])
        assert aliased != deleted, f"put_alias {aliased}, delete {deleted} on {version}"
        alias = {each.alias: each for each in repo.list_aliases(NAME)}.get("race")
        if aliased:
            outcomes["aliased"] += 1
            assert alias is not None and alias.version == version
            assert repo.get_artifact_version(NAME, version).version == version
        else:
            outcomes["deleted"] += 1
            assert alias is None or alias.version != version
            with raises_versioned(exc.ArtifactNotFoundError):
                repo.get_artifact_version(NAME, version)
        for each in repo.list_aliases(NAME):  # every alias target is live
            repo.get_artifact_version(NAME, each.version)
    assert sum(outcomes.values()) == 30


def test_put_alias_races_retention(backend: Backend) -> None:
    aliaser, purger, repo = backend.new_repository(), backend.new_repository(), backend.repo
    repo.put_artifact(NAME, b"racing")
    for _ in range(20):
        version = repo.publish_artifact_version(NAME).version

        def put_alias(version: str = version) -> bool:
            try:
                aliaser.put_alias(NAME, "kept", version=version)
            except exc.ArtifactNotFoundError:
                return False
            return True

        def purge() -> list[str]:
            _, deleted = purger.purge_artifact_versions(
                NAME, keep_last_n=0, purge_older_than_secs=0
            )
            return [artifact.version for artifact in deleted]

        aliased, purged = run_threads([put_alias, purge])
        assert aliased != (version in purged), f"alias {aliased}, purged {purged}, on {version}"
        live = {artifact.version for artifact in repo.list_artifact_versions(NAME)}
        for alias in repo.list_aliases(NAME):
            assert alias.version in live, f"{alias.alias} points at deleted {alias.version}"
