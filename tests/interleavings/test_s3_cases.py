"""Races between different S3 + DynamoDB operations, each made deterministic (invariant 7).

Each test holds one request of one operation (through a proxy of its own) at the point
where the race bites, runs the other operation to completion, lets the first go on, and
then checks the storage invariants and what a user sees next through the public API.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.faults.proxy import DYNAMODB_WRITES, FaultProxy, Hold
from tests.helpers import REGION, STACK, Engines, Repository, S3Backend
from tests.interleavings.s3_explorer import (
    Outcome,
    World,
    check_artifact,
    heal_problems,
    hold_proxy,
    interleave,
)
from versioned import exc

X, Y, Z = b"x-content " * 40, b"y-content " * 40, b"z-content " * 40
#: over one 8 MiB block: the put goes up as a multipart upload
LARGE = 9 * 1024 * 1024
#: a publish that copied its bytes and is about to write the version's metadata
AFTER_COPY = Hold(operation=DYNAMODB_WRITES, after="CopyObject")
T = TypeVar("T")


@pytest.fixture(scope="module")
def proxy(engines: Engines) -> Iterator[FaultProxy]:
    with hold_proxy(engines) as held:
        yield held


@pytest.fixture
def world(make_s3_backend: object, proxy: FaultProxy) -> World:
    backend: S3Backend = make_s3_backend()  # type: ignore[operator]
    return World.make(backend, proxy)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _put(content: bytes) -> object:
    return lambda repo: repo.put_artifact("app", content)


def _purge(repo: Repository) -> None:
    repo.purge_artifact("app")


def _assert_raced(outcome: Outcome, *, a_may_fail: bool = False) -> None:
    """The hold caught its request, and neither side failed in a way no race explains
    (``a_may_fail``: A was killed, so any error of its own is expected)."""
    assert outcome.held, "the hold never caught its request: the race did not happen"
    problems = outcome.problems()
    if a_may_fail:
        problems = [p for p in problems if not p.startswith("A ")]
    assert not problems, problems


class Findings:
    """Problems found along a test, reported together at its end (so one run shows the
    whole story: the broken state and what a user then runs into)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lines: list[str] = []

    def check(self, context: str) -> None:
        self.lines += [f"{context}: {line}" for line in check_artifact(self.world, "app")]

    def expect(self, context: str, condition: bool) -> None:
        if not condition:
            self.lines.append(f"{context}: not so")

    def step(self, context: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except exc.VersionedError as error:
            self.lines.append(f"{context}: raised {type(error).__name__}: {error}")
            return None

    def assert_none(self) -> None:
        assert not self.lines, "\n".join(self.lines)


# --- 1. purge_artifact racing put_artifact ------------------------------------------------
@pytest.mark.parametrize(
    "held_side, hold",
    [
        ("put", Hold(operation="PutObject")),
        ("put", Hold(operation=DYNAMODB_WRITES, after="PutObject")),  # its commit
        ("purge", Hold(operation="ListObjectsV2")),  # before it finds the bytes to delete
    ],
    ids=["put@PutObject", "put@commit", "purge@ListObjectsV2"],
)
def test_purge_racing_put_leaves_latest_naming_bytes(
    world: World, held_side: str, hold: Hold
) -> None:
    world.direct.put_artifact("app", X)
    world.direct.publish_artifact_version("app")
    a, b = (_put(Y), _purge) if held_side == "put" else (_purge, _put(Y))
    outcome = interleave(world, a, b, hold)
    _assert_raced(outcome)
    found = Findings(world)
    found.check("after the race")
    # what a user does next: put the same content again, publish it
    found.step("identical re-put", lambda: world.direct.put_artifact("app", Y))
    published = found.step("publish", lambda: world.direct.publish_artifact_version("app"))
    if published is not None:
        found.step("reading the published version", published.get_content)
    found.check("after an identical re-put and a publish")
    found.assert_none()


# --- 2. purge_artifact racing put_alias ----------------------------------------------------
@pytest.mark.parametrize(
    "held_side, hold",
    [
        ("alias", Hold(operation=DYNAMODB_WRITES)),
        ("purge", Hold(operation=DYNAMODB_WRITES, after="Query")),  # once it listed items
    ],
    ids=["alias@write", "purge@first-write"],
)
def test_purge_racing_put_alias_leaves_no_alias(world: World, held_side: str, hold: Hold) -> None:
    world.direct.put_artifact("app", X)
    world.direct.publish_artifact_version("app")

    def alias(repo: Repository) -> None:
        repo.put_alias("app", "prod", 1)

    a, b = (alias, _purge) if held_side == "alias" else (_purge, alias)
    outcome = interleave(world, a, b, hold)
    _assert_raced(outcome)
    found = Findings(world)
    found.check("after the race")
    left = [a.alias for a in world.direct.list_aliases("app")]
    found.expect(f"no alias outlives the purge of its artifact (left: {left})", not left)
    world.direct.put_artifact("app", Z)
    fresh = world.direct.publish_artifact_version("app")
    found.expect(
        "prod does not serve the new, unrelated version 1",
        "prod" not in [a.alias for a in world.direct.list_aliases("app")],
    )
    found.step(
        "deleting the new version 1 (nothing may claim it)",
        lambda: world.direct.delete_artifact_version("app", fresh.version),
    )
    found.assert_none()


# --- 3. purge_artifact racing publish_artifact_version ------------------------------------
@pytest.mark.parametrize(
    "hold",
    [AFTER_COPY, Hold(operation="CopyObject")],
    ids=["publish@write-after-copy", "publish@CopyObject"],
)
def test_purge_racing_publish_leaves_no_version_without_bytes(world: World, hold: Hold) -> None:
    world.direct.put_artifact("app", X)
    world.direct.publish_artifact_version("app")

    def publish(repo: Repository) -> None:
        repo.publish_artifact_version("app")

    outcome = interleave(world, publish, _purge, hold)
    _assert_raced(outcome)
    found = Findings(world)
    found.check("after the race")
    for round_ in range(1, 4):  # the numbers start again; none may collide with a leftover
        found.lines += [f"put + publish {round_}: {p}" for p in heal_problems(world, "app")]
    found.assert_none()


# --- 4. alternating with a 1.0.1 writer ---------------------------------------------------
def test_publish_after_a_legacy_publish_takes_the_next_number(world: World) -> None:
    world.direct.put_artifact("app", X)
    assert world.direct.publish_artifact_version("app").version == "1"
    assert world.legacy.publish("app") == 2
    key = world.key("app", 2)
    etag = world.s3.head_object(Bucket=world.backend.bucket, Key=key)["ETag"]
    world.direct.put_artifact("app", Y)
    found = Findings(world)
    published = found.step("our publish", lambda: world.direct.publish_artifact_version("app"))
    after = world.s3.get_object(Bucket=world.backend.bucket, Key=key)
    found.expect("version 2's object keeps its bytes", after["Body"].read() == X)
    found.expect("version 2's object is not rewritten", after["ETag"] == etag)
    found.expect(
        f"ours gets 3 (got {published and published.version})",
        published is not None and published.version == "3",
    )
    two = world.direct.get_artifact_version("app", 2)
    found.expect("version 2 keeps its sha256", two.sha256 == _sha(X))
    found.step("reading version 2", two.get_content)
    found.check("after ours, 1.0.1's and ours again")
    found.assert_none()


def test_publish_after_a_legacy_put_takes_the_next_number(world: World) -> None:
    world.direct.put_artifact("app", X)
    world.direct.publish_artifact_version("app")
    world.direct.put_artifact("app", Y)
    world.direct.publish_artifact_version("app")
    world.legacy.put("app", Z)  # a whole-item write: whatever we added to LATEST is gone
    found = Findings(world)
    published = found.step("our publish", lambda: world.direct.publish_artifact_version("app"))
    found.expect(
        f"ours gets 3 (got {published and published.version})",
        published is not None and published.version == "3",
    )
    if published is not None:
        found.expect("it froze 1.0.1's bytes", found.step("read", published.get_content) == Z)
    found.expect(
        "version 2 keeps its bytes",
        found.step("reading version 2", world.direct.get_artifact_version("app", 2).get_content)
        == Y,
    )
    found.check("after 1.0.1 replaced LATEST's item")
    found.assert_none()


# --- 5. a put frozen past its lease --------------------------------------------------------
@pytest.mark.parametrize("dies", [False, True], ids=["wakes", "dies"])
@pytest.mark.parametrize(
    "size, operation",
    [(len(X), "PutObject"), (LARGE, "CompleteMultipartUpload")],
    ids=["single", "multipart"],
)
def test_put_frozen_past_its_lease(world: World, size: int, operation: str, dies: bool) -> None:
    world.direct.put_artifact("app", X)
    frozen = world.held_with(lease_seconds=1, retry_attempts=2)
    a_content, b_content = os.urandom(size), os.urandom(300)
    outcome = interleave(
        world,
        lambda repo: repo.put_artifact("app", a_content),
        lambda repo: repo.put_artifact("app", b_content),
        Hold(operation=operation, mode="freeze", die=dies),
        held_repo=frozen,
        hold_for=2.5,
        b_patience=5.0,
    )
    _assert_raced(outcome, a_may_fail=dies)
    found = Findings(world)
    found.check("after the frozen put woke" if not dies else "after the frozen put died")
    latest = world.direct.get_artifact_version("app")
    content = found.step("reading LATEST", latest.get_content)
    if content is None:  # what the user sees: LATEST's bytes, whatever the item says
        content = world.s3.get_object(Bucket=world.backend.bucket, Key=world.key("app", None))[
            "Body"
        ].read()
    found.expect(
        "LATEST holds A's or B's content, as its item says",
        content in (a_content, b_content) and _sha(content) == latest.sha256,
    )
    # re-putting the content LATEST's item names heals
    named = a_content if latest.sha256 == _sha(a_content) else b_content
    found.step("re-putting LATEST's content", lambda: world.direct.put_artifact("app", named))
    found.expect(
        "LATEST then reads back",
        found.step("reading LATEST again", world.direct.get_artifact_version("app").get_content)
        == named,
    )
    published = found.step("publish", lambda: world.direct.publish_artifact_version("app"))
    if published is not None:
        found.expect("the publish froze committed bytes", published.sha256 == _sha(named))
        found.step("reading the published version", published.get_content)
    found.check("after a re-put and a publish")
    found.assert_none()


# --- 6. an alias on LATEST is verified against LATEST's record ---------------------------
def test_alias_on_latest_refuses_planted_bytes(world: World, tmp_path: object) -> None:
    world.direct.put_artifact("app", X)
    world.direct.put_alias("app", "dev")  # LATEST
    world.s3.put_object(
        Bucket=world.backend.bucket,
        Key=world.key("app", None),
        Body=Z,
        Metadata={"artifact_name": "app", "artifact_sha256": _sha(Z)},
    )
    alias = world.direct.get_alias("app", "dev")
    found = Findings(world)
    refused = (exc.IntegrityError, exc.ConcurrentWriteError)
    try:
        served = alias.get_version_content()
        found.expect(f"get_version_content refuses the planted bytes (got {served[:9]!r})", False)
    except refused:
        pass
    target = os.path.join(str(tmp_path), "out.bin")
    try:
        alias.download_version(target)
        found.expect("download_version refuses the planted bytes", False)
    except refused:
        found.expect("no file is left behind", not os.path.exists(target))
    found.assert_none()


# --- 7. gc deleting bytes a writer is about to reference ---------------------------------
def test_gc_after_a_crashed_first_put_spares_the_next_put(world: World) -> None:
    crashed = world.held_with(lease_seconds=1, retry_attempts=2)
    crash = Hold(operation="PutObject", mode="lost", die=True)
    outcome = interleave(
        world, lambda repo: repo.put_artifact("app", X), lambda _: None, crash, held_repo=crashed
    )
    _assert_raced(outcome, a_may_fail=True)
    time.sleep(1.2)  # the crashed put's lease expires
    outcome = interleave(
        world,
        lambda repo: repo.gc(dry_run=False, grace_seconds=0),
        lambda repo: repo.put_artifact("app", Y),
        Hold(operation=("DeleteObject", "DeleteObjects")),
        held_repo=crashed,
    )
    assert not outcome.problems(), outcome
    found = Findings(world)
    found.check("after gc raced the next put")
    found.expect(
        "LATEST reads back",
        found.step("reading LATEST", world.direct.get_artifact_version("app").get_content) == Y,
    )
    found.assert_none()


def test_gc_with_no_grace_spares_a_publish_in_flight(world: World) -> None:
    world.direct.put_artifact("app", X)
    outcome = interleave(
        world,
        lambda repo: repo.publish_artifact_version("app"),
        lambda repo: repo.gc(dry_run=False, grace_seconds=0),
        AFTER_COPY,
    )
    _assert_raced(outcome)
    found = Findings(world)
    found.check("after gc raced a publish")
    found.step("reading version 1", world.direct.get_artifact_version("app", 1).get_content)
    found.assert_none()


# --- 8. the first read after a crashed put --------------------------------------------
def test_the_first_read_after_a_crashed_put_answers(world: World) -> None:
    """A put that died after its bytes landed leaves LATEST's record naming the old bytes
    under an expired lease. The first reader finishes that put and answers, rather than
    saying LATEST changed and leaving the answer to a second read."""
    world.direct.put_artifact("app", X)
    crashed = world.held_with(lease_seconds=1, retry_attempts=2)
    crash = Hold(operation="PutObject", mode="lost", die=True)
    outcome = interleave(
        world, lambda repo: repo.put_artifact("app", Y), lambda _: None, crash, held_repo=crashed
    )
    _assert_raced(outcome, a_may_fail=True)
    time.sleep(1.2)  # the dead writer's lease runs out
    assert world.direct.get_artifact_version("app").get_content() == Y
    assert world.direct.get_artifact_version("app").sha256 == _sha(Y)


# --- 9. a publisher frozen past its claim, across a purge and a republish ----------------
@pytest.mark.skipif(STACK == "moto", reason="moto ignores CopyObject's destination conditions")
def test_a_publisher_frozen_past_its_claim_cannot_land_a_stale_copy(world: World) -> None:
    """A's publish claimed number 1 and froze before its copy; meanwhile the artifact was
    purged, put and published again (number 1 once more), then LATEST moved on. A's late
    copy would put LATEST's new bytes under version 1. Where the store enforces
    ``If-None-Match`` on a copy's destination, the copy is refused and version 1 keeps
    the bytes it was published with."""
    world.direct.put_artifact("app", X)
    from versioned.s3_and_dynamodb_backend import Repository as S3Repository

    # a short lease: the purge waits lease_seconds + 10 s for publishes in flight
    quick = S3Repository(
        aws_region=REGION,
        s3_bucket=world.backend.bucket,
        dynamodb_table_name=world.backend.table,
        lease_seconds=1,
    )

    def republish(_: Repository) -> None:
        repo = quick
        repo.purge_artifact("app")
        repo.put_artifact("app", Y)
        repo.publish_artifact_version("app")
        repo.put_artifact("app", Z)

    outcome = interleave(
        world,
        lambda repo: repo.publish_artifact_version("app"),
        republish,
        Hold(operation="CopyObject"),
        b_patience=60,
    )
    assert outcome.held, "the publish never reached its copy"
    found = Findings(world)
    version = world.direct.get_artifact_version("app", 1)
    found.expect(
        "version 1 reads back as published",
        found.step("reading version 1", version.get_content) == Y,
    )
    found.assert_none()
