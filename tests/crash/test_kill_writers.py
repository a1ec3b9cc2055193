"""SIGKILL a writer at random points of put and publish, on both backends (invariants 1-5).

Each kill hits a fresh child process (forked, so it starts in milliseconds with every
module already imported) that loops put + publish on a repository opened by URI. After
every kill the parent checks the raw storage; after every batch it checks that the next
put and publish work and that the put repairs an in-doubt LATEST. Local: the database
stays in WAL mode and no lock outlives its killed holder.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import time

import pytest

import versioned
from tests.helpers import Backend, Repository
from tests.invariants import LocalRawStore, RawStore, S3RawStore, assert_sound, raw_store_for
from versioned import exc

KILLS = 200
BATCH = 20
NAME = "crashy"
#: S3 children hold LATEST's lease this long: a killed put blocks the next one no longer
LEASE_SECONDS = 0.3
#: the longest a child may run before its kill, per backend (a put + publish cycle fits)
MAX_DELAY = {"local": 0.015, "s3": 0.15}

_FORK = multiprocessing.get_context("fork")


def open_writer(uri: str) -> Repository:
    """The repository a child writes through: opened by URI, with a short lease on S3.

    Its clients are made here, before any fork, so children need not load botocore's models;
    no request is made, so children share no pooled connection.
    """
    repo = versioned.open_repository(uri)
    if hasattr(repo, "s3_bucket"):
        repo = type(repo)(
            aws_region=repo.aws_region,
            s3_bucket=repo.s3_bucket,
            s3_prefix=repo.s3_prefix,
            dynamodb_table_name=repo.dynamodb_table_name,
            suffix=repo.suffix,
            lease_seconds=LEASE_SECONDS,
        )
        assert repo._clients.s3 is not None and repo._clients.dynamodb is not None
    return repo


def write_forever(repo: Repository, seed: int) -> None:
    """Child: put fresh content and publish it, over and over, until killed."""
    rng = random.Random(seed)
    while True:
        try:
            repo.put_artifact(NAME, rng.randbytes(rng.randint(1, 48 * 1024)))
            repo.publish_artifact_version(NAME)
        except exc.ConcurrentWriteError:
            continue  # a lease left by a killed sibling is still held: try again


def kill_one(repo: Repository, rng: random.Random, max_delay: float) -> None:
    """Fork a writer, let it run 0..max_delay seconds, SIGKILL it, reap it."""
    child = _FORK.Process(target=write_forever, args=(repo, rng.getrandbits(32)), daemon=True)
    child.start()
    time.sleep(rng.uniform(0, max_delay))
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=10)
    assert child.exitcode == -signal.SIGKILL, f"writer ended on its own: {child.exitcode}"


def wait_for_lease(raw: RawStore) -> None:
    """S3: sleep until a lease a killed put left on LATEST has expired."""
    if not isinstance(raw, S3RawStore):
        return
    item = raw.dynamodb.get_item(
        TableName=raw.table,
        Key={"pk": {"S": NAME}, "sk": {"S": "LATEST"}},
        ConsistentRead=True,
    ).get("Item", {})
    if "lease_until" in item:
        time.sleep(max(0.0, float(item["lease_until"]["N"]) - time.time()) + 0.01)


def assert_no_stale_lock(raw: RawStore) -> None:
    """Local: WAL mode, and a write transaction can start at once (no lock left behind)."""
    if not isinstance(raw, LocalRawStore):
        return
    conn = sqlite3.connect(raw.root / "versioned.sqlite3", timeout=0, isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("BEGIN IMMEDIATE")  # raises "database is locked" if a lock survived
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def next_writes_work(repo: Repository, raw: RawStore) -> None:
    """After the kills: a put repairs LATEST and a publish freezes exactly it."""
    content = os.urandom(1000)
    repo.put_artifact(NAME, content)
    assert repo.get_artifact_version(NAME).get_content() == content
    published = repo.publish_artifact_version(NAME)
    assert published.get_content() == content
    assert_sound(raw, names=[NAME], context="after a put and publish following the kills")


@pytest.mark.slow
def test_sigkill_writers_at_random_points(backend: Backend) -> None:
    rng = random.Random()
    parent = open_writer(backend.uri)
    parent.put_artifact(NAME, b"first")
    parent.publish_artifact_version(NAME)
    writer = open_writer(backend.uri)
    raw = raw_store_for(backend.repo)
    for kill in range(1, KILLS + 1):
        kill_one(writer, rng, MAX_DELAY[backend.kind])
        assert_no_stale_lock(raw)
        wait_for_lease(raw)
        if kill % BATCH == 0:
            assert_sound(raw, allow_expired_leases=True, context=f"after kill {kill}")
            next_writes_work(parent, raw)
    published = [a for a in parent.list_artifact_versions(NAME) if a.version != "LATEST"]
    # the parent published 1 + KILLS / BATCH times; the children must have got through too
    assert len(published) > 1 + KILLS // BATCH, "no child ever finished a publish"
