"""Load test: many threads of mixed operations on one repository, invariants checked throughout.

    python tools/stress.py --backend local|s3 [--repo URI] --workers 16 --seconds 30

Each worker loops over random operations (put, publish, alias set/split/delete, soft
delete, restore, retention purge, reads with content verification) on a few shared
artifact names. Expected refusals (a version in use, a version gone meanwhile, a lost
race) are counted apart from unexpected errors. The invariant checker
(``tests/invariants.py``) runs every ``--check-every`` seconds and at the end. Exit status
is 1 on any invariant violation or unexpected error. For ``s3`` without ``--repo`` a moto
server is started on a free loopback port for the run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.invariants import RawStore, raw_store_for  # noqa: E402

import versioned  # noqa: E402
from versioned import exc  # noqa: E402

NAMES = ["alpha", "beta", "gamma"]
ALIASES = ["prod", "canary", "dev"]
#: refusals the rules promise under contention: not failures of the library
EXPECTED = (
    exc.VersionInUseError,
    exc.ArtifactNotFoundError,
    exc.AliasNotFoundError,
    exc.ConcurrentWriteError,
)


class Stats:
    """Thread-safe counters of operations, expected refusals and unexpected errors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []
        self.violations: list[str] = []

    def record(self, kind: str, error: BaseException | None) -> None:
        """Count one operation of ``kind`` and how it ended."""
        with self.lock:
            if error is None:
                self.done[kind] += 1
            elif isinstance(error, EXPECTED):
                self.refused[f"{kind}: {type(error).__name__}"] += 1
            else:
                self.errors[f"{kind}: {type(error).__name__}"] += 1
                if len(self.samples) < 5:
                    self.samples.append("".join(traceback.format_exception(error)))


def _version_of(repo: Any, name: str, rng: random.Random) -> str | None:
    """A random live version of ``name`` (or None if it has none)."""
    versions = [a.version for a in repo.list_artifact_versions(name)]
    return rng.choice(versions) if versions else None


def _read_verified(repo: Any, name: str, rng: random.Random) -> None:
    version = _version_of(repo, name, rng)
    if version is None:
        return
    artifact = repo.get_artifact_version(name, version)
    data = artifact.get_content()
    # LATEST may change between the lookup and the read: its reader then returns (verified)
    # newer bytes, so only a published version's bytes must match the looked-up sha256
    if version != "LATEST" and hashlib.sha256(data).hexdigest() != artifact.sha256:
        raise AssertionError(f"{name} {version}: content does not hash to its sha256")


def _put_alias(repo: Any, name: str, rng: random.Random) -> None:
    primary = _version_of(repo, name, rng)
    secondary = _version_of(repo, name, rng)
    if primary is None:
        return
    if secondary is not None and secondary != primary and rng.random() < 0.5:
        repo.put_alias(name, rng.choice(ALIASES), primary, secondary, rng.randint(0, 99))
    else:
        repo.put_alias(name, rng.choice(ALIASES), primary)


def _restore(repo: Any, name: str, rng: random.Random) -> None:
    repo.restore_artifact_version(name, rng.randint(1, 12))


OPERATIONS: dict[str, tuple[int, Callable[[Any, str, random.Random], object]]] = {
    "put": (6, lambda r, n, g: r.put_artifact(n, g.randbytes(g.randint(1, 64 * 1024)))),
    "put_same": (1, lambda r, n, g: r.put_artifact(n, b"same content")),
    "publish": (4, lambda r, n, g: r.publish_artifact_version(n)),
    "put_alias": (3, _put_alias),
    "delete_alias": (1, lambda r, n, g: r.delete_alias(n, g.choice(ALIASES))),
    "delete": (2, lambda r, n, g: r.delete_artifact_version(n, _version_of(r, n, g))),
    "restore": (2, _restore),
    "purge_versions": (
        1,
        lambda r, n, g: r.purge_artifact_versions(n, keep_last_n=3, purge_older_than_secs=0),
    ),
    "read": (6, _read_verified),
}


def worker(repo: Any, stats: Stats, deadline: float, seed: int) -> None:
    """Run random operations until ``deadline``, recording each outcome."""
    rng = random.Random(seed)
    kinds = list(OPERATIONS)
    weights = [OPERATIONS[k][0] for k in kinds]
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        try:
            OPERATIONS[kind][1](repo, rng.choice(NAMES), rng)
        except BaseException as error:
            stats.record(kind, error)
        else:
            stats.record(kind, None)


def check(raw: RawStore, stats: Stats, when: str) -> None:
    """Run the invariant checker; remember every violation with when it was seen."""
    try:
        problems = raw.violations()
    except Exception as error:
        problems = [f"the checker failed: {error!r}"]
    with stats.lock:
        stats.violations += [f"{when}: {p}" for p in problems]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's server on a free loopback port; point AWS variables at it."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto server did not start")
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(repo_uri: str, workers: int, seconds: float, check_every: float) -> Stats:
    """Run the load against ``repo_uri``; returns the counts and violations."""
    repo = versioned.open_repository(repo_uri)
    repo.bootstrap()
    raw = raw_store_for(repo)
    stats = Stats()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=worker, args=(repo, stats, deadline, seed), daemon=True)
        for seed in range(workers)
    ]
    for thread in threads:
        thread.start()
    next_check = time.monotonic() + check_every
    while any(t.is_alive() for t in threads):
        time.sleep(0.1)
        if time.monotonic() >= next_check:
            check(raw, stats, f"during the run (t={seconds - (deadline - time.monotonic()):.0f}s)")
            next_check = time.monotonic() + check_every
    for thread in threads:
        thread.join()
    check(raw, stats, "at the end")
    return stats


def report(stats: Stats) -> int:
    """Print the counts; return the exit status (1 on violations or unexpected errors)."""
    print("operations done:")
    for kind, count in sorted(stats.done.items()):
        print(f"  {kind:16} {count}")
    print(f"expected refusals: {sum(stats.refused.values())}")
    for kind, count in sorted(stats.refused.items()):
        print(f"  {kind:44} {count}")
    print(f"unexpected errors: {sum(stats.errors.values())}")
    for kind, count in sorted(stats.errors.items()):
        print(f"  {kind:44} {count}")
    for sample in stats.samples:
        print(sample)
    print(f"invariant violations: {len(stats.violations)}")
    for line in stats.violations[:50]:
        print(f"  {line}")
    return 1 if stats.errors or stats.violations else 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the load, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["local", "s3"], required=True)
    parser.add_argument("--repo", help="repository URI (default: a fresh one)")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--check-every", type=float, default=5.0)
    options = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        uri = options.repo
        if uri is None and options.backend == "s3":
            if not os.environ.get("AWS_ENDPOINT_URL"):
                stack.enter_context(moto_server())
            tag = uuid.uuid4().hex[:12]
            uri = f"s3://stress-{tag}/artifacts?table=stress-{tag}"
        elif uri is None:
            uri = str(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "repo")
        stats = run(uri, options.workers, options.seconds, options.check_every)
    return report(stats)


if __name__ == "__main__":
    sys.exit(main())
