"""Load test: many threads of mixed operations on one repository, invariants checked throughout.

    python tools/stress.py --backend local|s3 [--repo URI] --workers 16 --seconds 30

Each worker loops over random operations (put, publish, alias set/split/delete, soft
delete, restore, retention, purge of a whole artifact, gc with no grace, reads with
content verification) on a few shared artifact names, so every purge hits an artifact
other workers are busy with. Expected refusals (a version in use, a version or artifact
gone meanwhile, a lost race) are counted apart from unexpected errors. The invariant
checker (``tests/invariants.py``) runs every ``--check-every`` seconds and at the end; the
report lists each violation with the recent operations on that artifact. Exit status is 1
on any invariant violation or unexpected error. For ``s3`` without ``--repo`` a moto
server is started (``tools/moto_server.py``) on a free loopback port for the run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.invariants import RawStore, raw_store_for  # noqa: E402

import versioned  # noqa: E402
from tools.moto_server import moto_server  # noqa: E402
from tools.stress_stats import Stats, report  # noqa: E402

NAMES = ["alpha", "beta", "gamma"]
ALIASES = ["prod", "canary", "dev"]


class Gate:
    """Lets purges and gcs run together, and an invariant check only while none runs.

    The checker reads an item and then the bytes it names in a separate request; a purge
    or gc in between may rightly remove both (metadata first), which the checker would
    misread as metadata naming missing bytes. Purge and gc still race every other kind
    of operation (and each other) freely.
    """

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._destroying = 0
        self._checking = False

    @contextlib.contextmanager
    def destructive(self) -> Iterator[None]:
        """Hold off checks for the duration of the block."""
        with self._state:
            self._state.wait_for(lambda: not self._checking)
            self._destroying += 1
        try:
            yield
        finally:
            with self._state:
                self._destroying -= 1
                self._state.notify_all()

    @contextlib.contextmanager
    def checking(self) -> Iterator[None]:
        """Wait for running purges and gcs to end; start no new one during the block."""
        with self._state:
            self._state.wait_for(lambda: not self._checking)
            self._checking = True
            self._state.wait_for(lambda: self._destroying == 0)
        try:
            yield
        finally:
            with self._state:
                self._checking = False
                self._state.notify_all()


@dataclass
class Load:
    """What the operations of one run share."""

    repo: Any
    raw: RawStore
    stats: Stats = field(default_factory=Stats)
    gate: Gate = field(default_factory=Gate)
    #: kind -> relative frequency (default: OPERATIONS')
    frequencies: dict[str, float] = field(default_factory=dict)

    def forget(self, name: str) -> None:
        """Drop what checks remember of ``name``: purged, its numbers start again at 1."""
        with self.stats.lock:
            for key in [k for k in self.raw.seen if k[0] == name]:
                del self.raw.seen[key]


def _version_of(repo: Any, name: str, rng: random.Random) -> str | None:
    """A random live version of ``name`` (or None if it has none)."""
    versions = [a.version for a in repo.list_artifact_versions(name)]
    return rng.choice(versions) if versions else None


def _read_verified(load: Load, name: str, rng: random.Random) -> None:
    version = _version_of(load.repo, name, rng)
    if version is None:
        return
    artifact = load.repo.get_artifact_version(name, version)
    data = artifact.get_content()
    # LATEST may change between the lookup and the read: its reader then returns (verified)
    # newer bytes, so only a published version's bytes must match the looked-up sha256
    if version != "LATEST" and hashlib.sha256(data).hexdigest() != artifact.sha256:
        raise AssertionError(f"{name} {version}: content does not hash to its sha256")


def _put_alias(load: Load, name: str, rng: random.Random) -> None:
    primary = _version_of(load.repo, name, rng)
    secondary = _version_of(load.repo, name, rng)
    if primary is None:
        return
    if secondary is not None and secondary != primary and rng.random() < 0.5:
        load.repo.put_alias(name, rng.choice(ALIASES), primary, secondary, rng.randint(0, 99))
    else:
        load.repo.put_alias(name, rng.choice(ALIASES), primary)


def _purge_artifact(load: Load, name: str, rng: random.Random) -> None:
    with load.gate.destructive():
        try:
            load.repo.purge_artifact(name)
        finally:  # even a purge cut short may have removed published versions
            load.forget(name)


def _gc(load: Load, name: str, rng: random.Random) -> None:
    with load.gate.destructive():
        load.repo.gc(dry_run=False, grace_seconds=0)


Operation = Callable[[Load, str, random.Random], object]
#: kind -> (relative frequency, what it does). Purge and gc are rare, so between two purges
#: of an artifact the others publish, alias and read a good number of versions of it.
OPERATIONS: dict[str, tuple[float, Operation]] = {
    "put": (6, lambda s, n, g: s.repo.put_artifact(n, g.randbytes(g.randint(1, 64 * 1024)))),
    "put_same": (1, lambda s, n, g: s.repo.put_artifact(n, b"same content")),
    "publish": (4, lambda s, n, g: s.repo.publish_artifact_version(n)),
    "put_alias": (3, _put_alias),
    "delete_alias": (1, lambda s, n, g: s.repo.delete_alias(n, g.choice(ALIASES))),
    "delete": (2, lambda s, n, g: s.repo.delete_artifact_version(n, _version_of(s.repo, n, g))),
    "restore": (2, lambda s, n, g: s.repo.restore_artifact_version(n, g.randint(1, 12))),
    "purge_versions": (
        1,
        lambda s, n, g: s.repo.purge_artifact_versions(n, keep_last_n=3, purge_older_than_secs=0),
    ),
    "purge_artifact": (0.3, _purge_artifact),
    "gc": (0.5, _gc),
    "read": (6, _read_verified),
}


def worker(load: Load, deadline: float, seed: int) -> None:
    """Run random operations until ``deadline``, recording each outcome."""
    rng = random.Random(seed)
    kinds = list(OPERATIONS)
    weights = [load.frequencies.get(k, OPERATIONS[k][0]) for k in kinds]
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        name = rng.choice(NAMES)
        start = load.stats.begin(kind, name, seed)
        try:
            OPERATIONS[kind][1](load, name, rng)
        except BaseException as error:
            load.stats.record(kind, name, seed, start, error)
        else:
            load.stats.record(kind, name, seed, start, None)


#: the kinds that never run during a check (see Gate): "running" means waiting for it
GATED = frozenset({"purge_artifact", "gc"})


def check(load: Load, label: str = "") -> None:
    """Run the invariant checker; remember every violation with when it was seen
    (``label``, or by default the time into the run the check began)."""
    with load.gate.checking():
        when = label or f"t={time.monotonic() - load.stats.started:.1f}s"
        try:
            problems = load.raw.violations()
        except Exception as error:
            problems = [f"the checker failed: {error!r}"]
        # while no purge or gc can start: what ran on the artifact up to this finding
        load.stats.found(when, problems, waiting=GATED)


def run(
    repo_uri: str,
    workers: int,
    seconds: float,
    check_every: float,
    first_seed: int = 0,
    frequencies: dict[str, float] | None = None,
) -> Stats:
    """Run the load against ``repo_uri``; returns the counts and violations.

    Worker ``i`` draws its operations from ``random.Random(first_seed + i)``;
    ``frequencies`` overrides some kinds' relative frequencies. Raises KeyError for a
    kind that does not exist.
    """
    unknown = set(frequencies or ()) - set(OPERATIONS)
    if unknown:
        raise KeyError(f"no such operations: {sorted(unknown)}")
    repo = versioned.open_repository(repo_uri)
    repo.bootstrap()
    load = Load(repo, raw_store_for(repo), frequencies=dict(frequencies or {}))
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=worker, args=(load, deadline, seed), daemon=True)
        for seed in range(first_seed, first_seed + workers)
    ]
    for thread in threads:
        thread.start()
    next_check = time.monotonic() + check_every
    while any(t.is_alive() for t in threads):
        time.sleep(0.1)
        if time.monotonic() >= next_check:
            check(load)
            next_check = time.monotonic() + check_every
    for thread in threads:
        thread.join()
    load.stats.seconds = time.monotonic() - load.stats.started
    check(load, "at the end")
    return load.stats


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the load, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["local", "s3"], required=True)
    parser.add_argument("--repo", help="repository URI (default: a fresh one)")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--check-every", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0, help="first worker's random seed")
    parser.add_argument(
        "--frequency",
        action="append",
        default=[],
        metavar="KIND=WEIGHT",
        help=f"change how often an operation runs (kinds: {', '.join(OPERATIONS)})",
    )
    options = parser.parse_args(argv)
    try:
        frequencies = {k: float(w) for k, _, w in (f.partition("=") for f in options.frequency)}
    except ValueError:
        parser.error("--frequency takes KIND=WEIGHT, WEIGHT a number")
    if set(frequencies) - set(OPERATIONS):
        parser.error(f"--frequency: unknown kinds {sorted(set(frequencies) - set(OPERATIONS))}")
    with contextlib.ExitStack() as stack:
        uri = options.repo
        if uri is None and options.backend == "s3":
            if not os.environ.get("AWS_ENDPOINT_URL"):
                stack.enter_context(moto_server())
            tag = uuid.uuid4().hex[:12]
            uri = f"s3://stress-{tag}/artifacts?table=stress-{tag}"
        elif uri is None:
            uri = str(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "repo")
        print(f"stress: {options.backend} at {uri}, {options.workers} workers")
        stats = run(
            uri, options.workers, options.seconds, options.check_every, options.seed, frequencies
        )
    return report(stats)


if __name__ == "__main__":
    sys.exit(main())
