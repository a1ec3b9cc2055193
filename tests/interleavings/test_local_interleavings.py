"""Every ordered pair of local write operations, with the first paused at each of its steps.

For a pair (A, B), A runs on a thread and is held at its k-th step (the local backend
calls ``steps._step`` before every transaction boundary, every read of aliases or their
history, and every file creation, write, link, rename and unlink). B then runs on
another thread, the way another process would, until it finishes or reaches its own
``BEGIN IMMEDIATE`` while A is inside a transaction: there SQLite makes B wait for A, so
the only real continuation is to let A go on (B's earlier steps, such as staging its
bytes, did interleave with A's transaction). Then A goes on, both finish, and the
repository is checked. k runs from A's first step until A finishes without reaching
step k; that last run is A followed by B.

Each operation may fail only with the errors it documents for the state B can leave
(a purged artifact, a deleted version, an alias changed first...). After each
interleaving: the raw-storage invariants hold, every listed version reads back verified,
every alias targets a live version, every alias's history verifies (no change without
its entry, nor an entry without its change), retention kept every alias's rollback
target, ``tmp/`` and ``blobs/`` hold only the library's own names, and a gc afterwards
removes no needed bytes and leaves no unneeded ones.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import sha256_hex
from tests.invariants import LocalRawStore
from versioned import exc
from versioned.repository import BaseRepository
from versioned.rollback_plan import effective_states, rollback_target, versions_of
from versioned.stores.local import LocalBackend as Store
from versioned.stores.local import steps

X, Y, Z, STRAY = (b"content x", b"content y", b"content z", b"stray")
NEW_STREAM, NEW_BYTES, ORPHANED = (b"new, streamed", b"new, in memory", b"an orphan's")
CONTENTS = {sha256_hex(c): c for c in (X, Y, Z, NEW_STREAM, NEW_BYTES, ORPHANED)}
OLD = time.time() - 7200
WAIT = 30.0  # seconds before a stuck thread fails the run

Op = Callable[[BaseRepository], object]
Outcomes = dict[str, BaseException | None]
OPS: dict[str, Op] = {
    "put new (stream)": lambda r: r.put_artifact("a", io.BytesIO(NEW_STREAM)),
    "put new (bytes)": lambda r: r.put_artifact("a", NEW_BYTES),
    "put orphaned content": lambda r: r.put_artifact("a", ORPHANED),
    "put identical": lambda r: r.put_artifact("a", Z),
    "publish": lambda r: r.publish_artifact_version("a"),
    "put_alias": lambda r: r.put_alias("a", "prod", 2),
    "put_alias (expected)": lambda r: r.put_alias("a", "stage", 2, expected_revision=3),
    "rollback_alias": lambda r: r.rollback_alias("a", "stage", to_revision=1),
    # by the rule, from revision 3 (on 3) back to 2, only if still at revision 3
    "rollback_alias (rule, expected)": lambda r: r.rollback_alias(
        "a", "stage", expected_revision=3, reason="3 is bad"
    ),
    "delete_alias": lambda r: r.delete_alias("a", "stage"),
    "delete": lambda r: r.delete_artifact_version("a", 2),
    "restore": lambda r: r.restore_artifact_version("a", 1),
    "purge_artifact_versions": lambda r: r.purge_artifact_versions("a", 0, 0),
    "purge_artifact": lambda r: r.purge_artifact("a"),
    "gc": lambda r: r.gc(dry_run=False, grace_seconds=0),
    # v1 (x) is soft-deleted in the template: its bytes go for good
    "expire": lambda r: r.expire_deleted_versions(0),
}
#: What each operation documents for the states the others can leave.
MISSING = (exc.ArtifactNotFoundError,)
ALLOWED: dict[str, tuple[type[Exception], ...]] = {
    "publish": MISSING,  # LATEST purged
    "put_alias": MISSING,  # v2 deleted or purged
    # v2 deleted or purged, or stage changed or purged first
    "put_alias (expected)": (*MISSING, exc.RevisionMismatchError),
    # its target (v2) deleted or purged, stage changed first, or purged with its history
    "rollback_alias": (*MISSING, exc.RevisionMismatchError, exc.AliasNotFoundError),
    "rollback_alias (rule, expected)": (
        *MISSING,
        exc.RevisionMismatchError,
        exc.AliasNotFoundError,
    ),
    "delete": (*MISSING, exc.VersionInUseError),  # purged, or aliased meanwhile
    "restore": MISSING,  # purged
}
#: Pause points every operation must offer (a begin, a commit and after it), so the
#: explorer cannot silently explore nothing.
MIN_STEPS = 3
_BLOB_NAME = re.compile(r"[0-9a-f]{2}/([0-9a-f]{64})")
_STAGING_NAME = re.compile(r"versioned-(spool|part)-[0-9a-f]{32}")
TOTAL: list[int] = []


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with history, shared content and crash leftovers, closed and copied
    for each interleaving.

    a: v1 (x, soft-deleted), v2 (y), v3 (z) = LATEST, alias stage -> 2, -> 3, -> 3 (at
    revision 3, v2 is no longer a rollback target retention keeps; rollback_alias goes
    back to it); b: LATEST y (the blob a's v2 uses).
    Leftovers, old enough for gc: the blob of ORPHANED (a put of it shares it or races
    its removal), a blob nothing names, a crashed put's staging file.
    """
    root = tmp_path_factory.mktemp("template") / "repo"
    repo = BaseRepository(Store(root))
    for content in (X, Y, Z):
        repo.put_artifact("a", content)
        repo.publish_artifact_version("a")
    repo.delete_artifact_version("a", 1)
    for version in (2, 3, 3):
        repo.put_alias("a", "stage", version)
    repo.put_artifact("b", Y)
    for content in (ORPHANED, STRAY):
        digest = sha256_hex(content)
        (root / "blobs" / digest[:2]).mkdir(exist_ok=True)
        (root / "blobs" / digest[:2] / digest).write_bytes(content)
    (root / "tmp" / f"versioned-part-{'0' * 32}").write_bytes(b"a crashed put's")
    for path in root.rglob("*"):
        os.utime(path, (OLD, OLD))
    conn = sqlite3.connect(root / "versioned.sqlite3")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return root


@dataclass
class Pauser:
    """The step hook: holds A at its ``pause_at``-th step; notices B waiting on A's lock."""

    pause_at: int
    # thread objects, not idents: a finished A's ident can be reused by B
    a_thread: threading.Thread | None = None
    b_thread: threading.Thread | None = None
    count: int = 0
    in_transaction: bool = False
    paused_in_transaction: bool = False
    labels: list[str] = field(default_factory=list)
    paused: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    b_waits: threading.Event = field(default_factory=threading.Event)

    def __call__(self, label: str) -> None:
        me = threading.current_thread()
        if me is self.a_thread:
            self.labels.append(label)
            if self.count == self.pause_at:
                self.paused_in_transaction = self.in_transaction
                self.paused.set()
                assert self.go.wait(WAIT), "A was never released"
            self.count += 1
            if label == "begin":
                self.in_transaction = True
            elif label in ("committed", "rolled back"):
                self.in_transaction = False
        elif me is self.b_thread and label == "begin" and self.paused_in_transaction:
            self.b_waits.set()  # B is about to wait for A's transaction to end


def _thread(
    role: str,
    op: str,
    repo: BaseRepository,
    outcomes: Outcomes,
    pauser: Pauser,
    ops: Mapping[str, Op] = OPS,
) -> threading.Thread:
    def body() -> None:
        setattr(pauser, f"{role.lower()}_thread", threading.current_thread())
        try:
            ops[op](repo)
            outcomes[role] = None
        except BaseException as error:  # judged by check() against ALLOWED
            outcomes[role] = error

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


@dataclass
class Interleaving:
    a: str
    b: str
    pause_at: int
    label: str | None  # None: A ran to its end first
    a_steps: list[str] = field(default_factory=list)
    in_transaction: bool = False
    outcomes: Outcomes = field(default_factory=dict)

    def __str__(self) -> str:
        where = f"step {self.pause_at} ({self.label})" if self.label else "its end"
        inside = " inside a transaction" if self.in_transaction else ""
        return f"A={self.a!r} held at {where}{inside}, B={self.b!r}"


def interleave(
    template: Path, root: Path, a: str, b: str, k: int, ops: Mapping[str, Op] = OPS
) -> Interleaving:
    """Run A held at step k while B runs; returns what happened (label None: A ended).
    ``ops``: where A and B are looked up (another module's operations)."""
    shutil.copytree(template, root)
    repo_a, repo_b = BaseRepository(Store(root)), BaseRepository(Store(root))
    for repo in (repo_a, repo_b):
        repo.list_artifact_names()  # open them now: opening is not part of A or B
    pauser = Pauser(k)
    outcomes: Outcomes = {}
    steps.install(pauser)
    try:
        thread_a = _thread("A", a, repo_a, outcomes, pauser, ops)
        while not pauser.paused.wait(0.002) and thread_a.is_alive():
            pass
        held = pauser.paused.is_set()
        thread_b = _thread("B", b, repo_b, outcomes, pauser, ops)
        if held:
            deadline = time.monotonic() + WAIT
            while thread_b.is_alive() and not pauser.b_waits.is_set():
                thread_b.join(0.002)
                assert time.monotonic() < deadline, f"B stuck while A held at step {k}"
        pauser.go.set()
        thread_a.join(WAIT)
        thread_b.join(WAIT)
        assert not thread_a.is_alive() and not thread_b.is_alive(), "a thread is stuck"
    finally:
        steps.install(None)
    label = pauser.labels[k] if held else None
    return Interleaving(a, b, k, label, pauser.labels, pauser.paused_in_transaction, outcomes)


def check(root: Path, run: Interleaving) -> None:
    """Every check the module docstring lists, after one interleaving."""
    assert set(run.outcomes) == {"A", "B"}, f"{run}: an operation did not finish"
    for role, op in (("A", run.a), ("B", run.b)):
        error = run.outcomes[role]
        if error is not None and not isinstance(error, ALLOWED.get(op, ())):
            raise AssertionError(f"{run}: {role} ({op}) failed with {error!r}") from error
    raw = LocalRawStore(root=root, suffix="")
    problems = raw.violations()
    assert not problems, f"{run}: " + "; ".join(problems)
    repo = BaseRepository(Store(root))
    check_public(repo, run)
    check_aliases(repo, run)
    removed = repo.gc(dry_run=False, grace_seconds=0)
    for uri in removed:
        name = uri.rsplit("/", 1)[-1]
        assert name not in referenced(root), f"{run}: gc afterwards removed needed {uri}"
    problems = raw.violations()
    assert not problems, f"{run}, after gc: " + "; ".join(problems)
    check_public(repo, run)
    check_files(root, run)


def referenced(root: Path) -> set[str]:
    conn = sqlite3.connect(root / "versioned.sqlite3")
    try:
        # (an expired version's tombstone names no blob)
        return {r[0] for r in conn.execute("SELECT sha256 FROM versions WHERE sha256 <> ''")}
    finally:
        conn.close()


def check_public(repo: BaseRepository, run: Interleaving) -> None:
    """Every listed version reads back verified; every alias targets a live version."""
    for name in repo.list_artifact_names():
        live = set()
        for artifact in repo.list_artifact_versions(name):
            assert artifact.get_content() == CONTENTS[artifact.sha256], f"{run}: {artifact}"
            live.add(artifact.version)
        for alias in repo.list_aliases(name):
            targets = {alias.version, alias.secondary_version} - {None}
            assert targets <= live, f"{run}: alias {alias} targets a version not live"


def check_aliases(repo: BaseRepository, run: Interleaving) -> None:
    """Every alias's history is intact and ends at the alias as stored; retention kept
    every alias's rollback target (only an explicit delete may remove one)."""
    for alias in ("stage", "prod"):
        verified = repo.verify_alias_history("a", alias)
        assert verified.ok, f"{run}: history of {alias}: {verified.problems}"
    if "delete" in (run.a, run.b):
        return
    deleted = {a.version for a in repo.list_artifact_versions("a", include_deleted=True)}
    deleted -= {a.version for a in repo.list_artifact_versions("a")}
    for alias in repo.list_aliases("a"):
        if alias.revision < 2:
            continue
        before = repo.list_alias_history("a", alias.alias, limit=1, before_revision=alias.revision)
        after = before[0].after if before else None
        if after is not None:
            targets = {after.version, after.secondary_version} - {None}
            assert not targets & deleted, f"{run}: rollback target of {alias.alias} deleted"
        # and where a rollback by the rule would go (it may reach further back)
        history = repo._engine.backend.alias_history("a", alias.alias, 1000, None)
        restored = rollback_target(effective_states(history))
        if restored is not None:
            targets = {str(v) if v else "LATEST" for v in versions_of(restored.after)}
            assert not targets & deleted, f"{run}: {alias.alias}'s rule target deleted"


def check_files(root: Path, run: Interleaving) -> None:
    """After gc: only needed blobs, only the library's names, nothing left in tmp/."""
    needed = referenced(root)
    blobs = set()
    for path in (root / "blobs").rglob("*"):
        if path.is_file():
            relative = str(path.relative_to(root / "blobs"))
            match = _BLOB_NAME.fullmatch(relative)
            assert match, f"{run}: unexpected file blobs/{relative}"
            blobs.add(match.group(1))
    assert blobs == needed, f"{run}: blobs {blobs - needed} unneeded, {needed - blobs} missing"
    left = [p.name for p in (root / "tmp").iterdir()]
    assert left == [], f"{run}: tmp/ still holds {left}"


def explore(template: Path, scratch: Path, a: str) -> Iterator[Interleaving]:
    """Every interleaving of A with each B: A held at each of its steps, then A first."""
    for b in OPS:
        k = 0
        while True:
            root = scratch / f"{len(TOTAL)}-{k}"
            run = interleave(template, root, a, b, k)
            check(root, run)
            shutil.rmtree(root)
            yield run
            if run.label is None:
                break
            k += 1


@pytest.mark.parametrize("a", list(OPS))
def test_local_operation_interleaved_with_every_other(
    template: Path, tmp_path: Path, a: str
) -> None:
    started = time.monotonic()
    runs = list(explore(template, tmp_path, a))
    per_b = {b: sum(1 for r in runs if r.b == b) for b in OPS}
    alone = next(r for r in runs if r.b == "gc" and r.label is None).a_steps
    TOTAL.append(len(runs))
    print(
        f"\n{a}: {len(runs)} interleavings ({sum(TOTAL)} so far in this process) in "
        f"{time.monotonic() - started:.1f}s; A's steps (run first): {', '.join(alone)}"
    )
    # at least MIN_STEPS pause points plus the run with A first, against every B
    assert all(count >= MIN_STEPS + 1 for count in per_b.values()), per_b
