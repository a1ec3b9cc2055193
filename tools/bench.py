"""Benchmark: versioned next to raw boto3 / sqlite3 / file copies on the same machine.

``python tools/bench.py [--quick] [--json out.json]`` starts moto's server and the real
engines (SeaweedFS + DynamoDB Local, ``tools/real_servers.py``) itself and prints, for
both stacks side by side, per metadata operation, its latency (median / p90 over N runs)
and request count next to one raw boto3 round trip (GetItem) times that count, with the
ratio against design.md's 1.3x target; put and download throughput of a large file next
to boto3's upload_file / download_file; and the local backend next to raw sqlite3 and
shutil.copyfile; and retention (soft-deleting N versions with purge_artifact_versions)
next to as many raw UpdateItem / sqlite3 UPDATE writes (``tools/bench_retention.py``;
``--retention-only`` runs just that); and a simulation of 100,000 clients polling one alias,
with and without ``AliasResolver``, in DynamoDB reads per second next to one partition's
limit (``tools/bench_resolver.py``; ``--resolver-only`` runs just that); and a load test
of ``versioned serve`` on both backends: requests/s and p50/p99 of a cached resolve and of
304s (``tools/bench_server.py``; ``--server-only`` runs just that). The figures are also
written as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tools.bench_raw import (
    EXACT_READS,
    Replay,
    exact_read,
    one_after_another,
    partitions_of,
    raw_requests,
    read_partitions,
)
from tools.bench_resolver import show_resolver, simulate_resolver
from tools.bench_retention import bench_retention_local, bench_retention_s3, show_retention
from tools.bench_server import bench_server, show_server
from tools.moto_server import moto_server
from tools.real_servers import real_stack

MIB = 1024 * 1024
TARGET = 1.3


def timings(action: Callable[[], object], runs: int) -> dict[str, float]:
    """Median and p90 of ``action``'s wall time in milliseconds (after one warm-up)."""
    return paired_timings(action, [], runs)[0]


def paired_timings(
    action: Callable[[], object], baselines: list[Callable[[], object]], runs: int
) -> list[dict[str, float]]:
    """Median and p90 ms of ``action`` and of each baseline, run by turns (after one
    warm-up each), so that all of them meet the store in the same state."""
    everything = [action, *baselines]
    samples: list[list[float]] = [[] for _ in everything]
    for send in everything:
        _prepare(send)
        send()
    for _ in range(runs):
        for send, kept in zip(everything, samples, strict=True):
            _prepare(send)  # puts a baseline's state back; not timed
            start = time.perf_counter()
            send()
            kept.append((time.perf_counter() - start) * 1000)
    figures = []
    for kept in samples:
        kept.sort()
        p90 = kept[int(0.9 * (runs - 1))]
        figures.append({"median_ms": statistics.median(kept), "p90_ms": p90})
    return figures


def _prepare(send: Callable[[], object]) -> None:
    prepare = getattr(send, "prepare", None)
    if prepare is not None:
        prepare()


def make_file(path: Path, size: int) -> None:
    """``size`` bytes of distinct pseudo-random blocks, written in blocks."""
    seed = os.urandom(MIB)
    with path.open("wb") as out:
        for index in range(size // MIB):
            out.write(index.to_bytes(8, "little") + seed[8:])


def throughput(action: Callable[[], object], size: int) -> float:
    """MB/s of one run of ``action`` moving ``size`` bytes."""
    start = time.perf_counter()
    action()
    return size / 1e6 / (time.perf_counter() - start)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def bench_s3(
    runs: int, size: int, scratch: Path, legacy_python: str | None = None
) -> dict[str, Any]:
    """The S3 + DynamoDB figures, on the servers the environment points at."""
    import boto3

    from versioned.s3_and_dynamodb_backend import Repository

    repo = Repository("us-east-1", "bench-bucket", dynamodb_table_name="bench")
    repo.bootstrap()
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    counted: list[str] = []  # the operation name of each request sent
    for client in (repo._clients.s3, repo._clients.dynamodb):
        client.meta.events.register(
            "before-send", lambda event_name, **kw: counted.append(event_name.split(".")[-1])
        )
    sent: list[tuple[str, dict[str, Any]]] = []  # each DynamoDB request sent, as sent

    def note_request(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent.append((model.name, copy.deepcopy(params)))

    repo._clients.dynamodb.meta.events.register("provide-client-params.dynamodb", note_request)
    repo.put_artifact("app", b"v0")
    repo.publish_artifact_version("app")
    repo.put_alias("app", "prod", 1)
    key = {"pk": {"S": "app"}, "sk": {"S": "LATEST"}}

    def get_item() -> object:
        return dynamodb.get_item(TableName="bench", Key=key)

    raw_by_kind = raw_requests(dynamodb, s3)
    raw_samples: list[float] = []
    flip = [0]

    def put_new() -> None:
        flip[0] += 1
        repo.put_artifact("app", f"content {flip[0]}".encode())

    operations: dict[str, Callable[[], object]] = {
        "get_artifact_version": lambda: repo.get_artifact_version("app", 1),
        "get_alias": lambda: repo.get_alias("app", "prod"),
        "list_artifact_versions": lambda: repo.list_artifact_versions("app"),
        "list_aliases": lambda: repo.list_aliases("app"),
        "put_alias": lambda: repo.put_alias("app", "prod", 1),
        "put_artifact (new content)": put_new,
        "put_artifact (identical)": lambda: repo.put_artifact("app", b"same"),
        "publish_artifact_version": lambda: repo.publish_artifact_version("app"),
    }
    repo.put_artifact("app", b"same")
    rows: dict[str, Any] = {}
    for name, action in operations.items():
        if name == "put_artifact (identical)":
            repo.put_artifact("app", b"same")
        counted.clear()
        sent.clear()
        action()  # the partitions it writes in
        touched = partitions_of([(op, params) for op, params in sent if op not in EXACT_READS])
        before = read_partitions(dynamodb, "bench", touched)
        counted.clear()
        sent.clear()
        action()  # the requests the baseline sends again
        kinds, requests = list(counted), list(sent)  # runs add more
        shapes = [  # the actions of each transaction
            [next(iter(action)) for action in params["TransactItems"]]
            for operation, params in requests
            if operation == "TransactWriteItems"
        ]
        # the baselines run by turns with the operation (a loaded machine slows all of
        # them alike); a DynamoDB read is the very request we sent (same key or partition,
        # same rows back); our writes are replayed exactly on a copy of the partitions
        # they met, in the same table (moto copies the whole table per transaction action)
        writes = [(op, params) for op, params in requests if op not in EXACT_READS]
        replay = Replay(dynamodb, "bench", before, writes)
        sequence: list[Callable[[], object]] = [replay]
        for kind in kinds:
            if requests and requests[0][0] == kind:
                operation, params = requests.pop(0)
                if operation in EXACT_READS:
                    sequence.append(exact_read(dynamodb, (operation, params)))
            else:
                sequence.append(raw_by_kind[kind])
        baselines = [one_after_another(sequence, replay.prepare), get_item]
        figures, same, one_get = paired_timings(action, baselines, runs)
        raw = one_get["median_ms"]
        raw_samples.append(raw)
        budget = len(kinds) * raw
        same_requests = same["median_ms"]
        for actions in shapes:
            where = kinds.index("TransactWriteItems")
            kinds[where] = f"TransactWriteItems of {len(actions)}: {', '.join(actions)}"
        rows[name] = {
            **figures,
            "requests": len(kinds),
            "request_kinds": kinds,
            "raw_round_trip_ms": raw,
            "ratio": figures["median_ms"] / budget,
            "within_target": figures["median_ms"] / budget <= TARGET,
            "raw_same_requests_ms": same_requests,
            "ratio_to_same_requests": figures["median_ms"] / same_requests,
        }

    anchors = _identical_put_anchors(repo, dynamodb, raw_by_kind["HeadObject"], runs, legacy_python)
    source = scratch / "big.bin"
    make_file(source, size)
    down = scratch / "down.bin"
    transfers: dict[str, float] = {}
    s3.create_bucket(Bucket="bench-raw")
    transfers["boto3 upload_file MB/s"] = throughput(
        lambda: s3.upload_file(str(source), "bench-raw", "big"), size
    )
    transfers["versioned put_artifact(path) MB/s"] = throughput(
        lambda: repo.put_artifact("big", source), size
    )
    artifact = repo.get_artifact_version("big")
    transfers["boto3 download_file MB/s"] = throughput(
        lambda: s3.download_file("bench-raw", "big", str(down)), size
    )
    transfers["versioned download (8 ranged GETs) MB/s"] = throughput(
        lambda: artifact.download(down), size
    )
    single = Repository(
        "us-east-1", "bench-bucket", dynamodb_table_name="bench", download_workers=1
    )
    one_stream = single.get_artifact_version("big")
    transfers["versioned download (one stream) MB/s"] = throughput(
        lambda: one_stream.download(down), size
    )
    start = time.perf_counter()
    repo.publish_artifact_version("big")
    transfers["versioned publish (server-side copy) s"] = time.perf_counter() - start
    raw_get_item = statistics.median(raw_samples)
    return {
        "raw_get_item_ms": raw_get_item,
        "operations": rows,
        "transfers": transfers,
        "identical_put": anchors,
    }


def _identical_put_anchors(
    repo: Any,
    dynamodb: Any,
    head_object: Callable[[], object],
    runs: int,
    legacy_python: str | None,
) -> dict[str, Any]:
    """Our identical put by turns with what versioned 1.0.1 sends for one (a HeadObject)
    and with the one request it sends made raw, and, with ``legacy_python``, with 1.0.1
    itself on the same server (a worker process, ``tools/bench_legacy.py``, that answers
    the time of each of its puts)."""
    repo.put_artifact("same", b"the same content, put again and again")

    def ours() -> None:
        repo.put_artifact("same", b"the same content, put again and again")

    # the request our identical put sends, to send raw as well: its condition holds
    # every time (it only moves update_at while the item names these bytes)
    updates: list[dict[str, Any]] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        updates.append(copy.deepcopy(params))

    events = repo._clients.dynamodb.meta.events
    events.register("provide-client-params.dynamodb.UpdateItem", note)
    ours()
    events.unregister("provide-client-params.dynamodb.UpdateItem", note)
    same_update = partial(dynamodb.update_item, **updates[-1])
    mine, head, update = paired_timings(ours, [head_object, same_update], runs)
    figures: dict[str, Any] = {
        "ours": mine,
        "raw HeadObject": head,
        "the same UpdateItem, raw": update,
    }
    if legacy_python is None:
        return figures
    worker = subprocess.Popen(
        [legacy_python, str(Path(__file__).with_name("bench_legacy.py")), "bench-bucket", "bench",
         "legacy-same"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert worker.stdin is not None and worker.stdout is not None
    if worker.stdout.readline().strip() != "ready":
        raise RuntimeError("the versioned 1.0.1 worker did not start")
    ours_ms: list[float] = []
    legacy_ms: list[float] = []
    for _ in range(runs + 1):  # the first of each is a warm-up
        start = time.perf_counter()
        ours()
        ours_ms.append((time.perf_counter() - start) * 1000)
        worker.stdin.write("\n")
        worker.stdin.flush()
        legacy_ms.append(float(worker.stdout.readline()))
    worker.stdin.close()
    worker.wait()
    figures["ours, by turns with 1.0.1"] = {"median_ms": statistics.median(ours_ms[1:])}
    figures["versioned 1.0.1"] = {"median_ms": statistics.median(legacy_ms[1:])}
    return figures


def bench_local(runs: int, size: int, scratch: Path) -> dict[str, Any]:
    """The local backend's figures next to raw sqlite3 and shutil.copyfile."""
    from versioned.local_backend import Repository

    repo = Repository(scratch / "repo")
    repo.put_artifact("app", b"v0")
    repo.publish_artifact_version("app")
    repo.put_alias("app", "prod", 1)
    raw_db = sqlite3.connect(scratch / "raw.sqlite3", isolation_level=None)
    raw_db.execute(
        "CREATE TABLE versions (name TEXT, version INTEGER, sha256 TEXT, update_at TEXT, "
        "is_deleted INTEGER, PRIMARY KEY (name, version)) WITHOUT ROWID"
    )
    raw_db.execute("INSERT INTO versions VALUES ('app', 1, 'x', 'now', 0)")
    select = "SELECT * FROM versions WHERE name = ? AND version = ?"
    raw = timings(lambda: raw_db.execute(select, ("app", 1)).fetchall(), runs * 10)
    rows = {
        "raw sqlite3 SELECT by key": raw,
        "get_artifact_version": timings(lambda: repo.get_artifact_version("app", 1), runs * 10),
        "get_alias": timings(lambda: repo.get_alias("app", "prod"), runs * 10),
        "list_artifact_versions": timings(lambda: repo.list_artifact_versions("app"), runs),
        "put_alias": timings(lambda: repo.put_alias("app", "prod", 1), runs),
        "publish_artifact_version": timings(lambda: repo.publish_artifact_version("app"), runs),
    }
    rows.update(_long_listing(scratch, runs))
    source = scratch / "big.bin"
    if not source.exists():
        make_file(source, size)
    copy = scratch / "copy.bin"
    block = os.urandom(64 * MIB)
    transfers = {
        "shutil.copyfile MB/s": throughput(lambda: shutil.copyfile(source, copy), size),
        "hashlib sha256 MB/s (one core)": throughput(lambda: hashlib.sha256(block), 64 * MIB),
    }
    return {"operations": rows, "transfers": transfers, "one_pass": _one_pass(repo, source, size)}


def _long_listing(scratch: Path, runs: int, count: int = 10_000) -> dict[str, dict[str, float]]:
    """list_artifact_versions of ``count`` versions, by turns with a raw sqlite3 SELECT of
    the same rows from the same database (every column, fetched as tuples)."""
    from versioned.local_backend import Repository

    repo = Repository(scratch / "long-history")
    repo.put_artifact("long", b"one version")
    repo.publish_artifact_version("long")
    raw = sqlite3.connect(repo._backend.db_path, isolation_level=None)
    row = raw.execute("SELECT * FROM versions WHERE name = 'long' AND version = 1").fetchone()
    columns = ", ".join("?" * len(row))
    # copies of version 1 numbered 2..count: what as many publishes would leave
    raw.execute("BEGIN")
    raw.executemany(
        f"INSERT INTO versions VALUES ({columns})",
        [(row[0], number, *row[2:]) for number in range(2, count + 1)],
    )
    raw.execute("COMMIT")
    ours, baseline = paired_timings(
        lambda: repo.list_artifact_versions("long"),
        [lambda: raw.execute("SELECT * FROM versions WHERE name = ?", ("long",)).fetchall()],
        max(runs // 5, 5),
    )
    raw.close()
    return {
        f"list_artifact_versions, {count:,} versions": ours,
        f"raw sqlite3 SELECT of the same {count:,} rows": baseline,
    }


def one_pass_copy(source: Path, target: Path, durable: bool) -> str:
    """The one-pass bound: read ``source``, SHA-256 it and write it to ``target`` in one
    sequential pass of 1 MiB pieces in plain Python (fsynced at the end if ``durable``,
    as a put is; a download is not). Returns the hex digest."""
    digest = hashlib.sha256()
    with source.open("rb") as reader, target.open("wb") as writer:
        while piece := reader.read(MIB):
            digest.update(piece)
            writer.write(piece)
        if durable:
            writer.flush()
            os.fsync(writer.fileno())
    return digest.hexdigest()


def _one_pass(repo: Any, source: Path, size: int, rounds: int = 3) -> dict[str, Any]:
    """The local large put and verified download, each by turns with its one-pass bound
    (median MB/s of ``rounds``). The put stores new bytes every round (the artifact is
    purged first, so dedup cannot skip the work)."""
    scratch = source.parent
    bound_copy, down = scratch / "bound.bin", scratch / "down.bin"
    samples: dict[str, list[float]] = {
        "put_artifact(path)": [],
        "one pass, fsynced (put's bound)": [],
        "download, verified": [],
        "one pass (download's bound)": [],
    }

    def put() -> None:
        repo.purge_artifact("big")
        start = time.perf_counter()
        repo.put_artifact("big", source)
        samples["put_artifact(path)"].append(size / 1e6 / (time.perf_counter() - start))

    for _ in range(rounds):
        put()
        samples["one pass, fsynced (put's bound)"].append(
            throughput(lambda: one_pass_copy(source, bound_copy, True), size)
        )
        download = partial(repo.get_artifact_version("big").download, down)
        samples["download, verified"].append(throughput(download, size))
        samples["one pass (download's bound)"].append(
            throughput(lambda: one_pass_copy(source, bound_copy, False), size)
        )
        bound_copy.unlink()
        down.unlink()
    return {name: statistics.median(values) for name, values in samples.items()}


def show(figures: dict[str, Any]) -> None:
    """Print the figures as aligned tables."""
    info = figures["machine"]
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}")
    if "s3" in figures:
        show_operations(figures)
    for stack, found in figures["retention"]["s3"].items():
        show_retention(f"S3 + DynamoDB ({stack})", found, "raw boto3 UpdateItem x N")
    show_retention("the local backend", figures["retention"]["local"], "raw sqlite3 UPDATE x N")
    show_resolver(figures["resolver"])
    show_server(figures["server"])


def show_operations(figures: dict[str, Any]) -> None:
    """Print the per-operation and transfer tables: each S3 stack side by side, then local."""
    show_s3(figures)
    show_local(figures)


def show_s3(figures: dict[str, Any]) -> None:
    """Print the S3 + DynamoDB operations of each stack side by side, the identical put
    beside its anchors, and the transfers."""
    stacks = figures["s3"]
    names = list(stacks)
    print("\nS3 + DynamoDB, ms (raw: the same requests with raw boto3, by turns)")
    trips = ", ".join(f"{n} {stacks[n]['raw_get_item_ms']:.2f}" for n in names)
    print(f"raw boto3 GetItem round trip: {trips}")
    print(
        f"{'operation':28}"
        + "".join(f" | {n:>6} {'p90':>6} {'reqs':>4} {'raw':>6} {'x':>4}" for n in names)
    )
    for operation in stacks[names[0]]["operations"]:
        line = f"{operation:28}"
        for name in names:
            row = stacks[name]["operations"][operation]
            line += (
                f" | {row['median_ms']:6.2f} {row['p90_ms']:6.2f} {row['requests']:4d} "
                f"{row['raw_same_requests_ms']:6.2f} {row['ratio_to_same_requests']:4.2f}"
            )
        kinds = stacks[names[0]]["operations"][operation]["request_kinds"]
        print(f"{line}  ({' + '.join(kinds)})")
    print(f"target: each x (against the same requests made raw) <= {TARGET}")
    print(f"\nlarge file ({figures['size_mib']} MiB)")
    print(f"  {'':45}" + "".join(f" {n:>9}" for n in names))
    for transfer in stacks[names[0]]["transfers"]:
        values = "".join(f" {stacks[n]['transfers'][transfer]:9.1f}" for n in names)
        print(f"  {transfer:45}{values}")
    for name in names:
        same = stacks[name].get("identical_put")
        if not same:
            continue
        print(
            f"{name}: identical put {same['ours']['median_ms']:.2f} ms; what 1.0.1 sends for "
            f"one (a raw HeadObject) {same['raw HeadObject']['median_ms']:.2f} ms: "
            f"{same['ours']['median_ms'] / same['raw HeadObject']['median_ms']:.2f}x"
        )
        if "the same UpdateItem, raw" in same:
            update = same["the same UpdateItem, raw"]["median_ms"]
            print(
                f"{name}: the same conditional UpdateItem with raw boto3 {update:.2f} ms "
                f"(ours {same['ours']['median_ms'] / update:.2f}x it; it costs "
                f"{update / same['raw HeadObject']['median_ms']:.2f}x a HeadObject there)"
            )
        if "versioned 1.0.1" in same:
            mine, legacy = same["ours, by turns with 1.0.1"], same["versioned 1.0.1"]
            print(
                f"{name}: identical put by turns with versioned 1.0.1 on the same server: "
                f"{mine['median_ms']:.2f} ms vs {legacy['median_ms']:.2f} ms "
                f"({mine['median_ms'] / legacy['median_ms']:.2f}x; target <= 1)"
            )


def show_local(figures: dict[str, Any]) -> None:
    """Print the local backend's operations, long listing and large-file figures."""
    local = figures["local"]
    print("\nlocal backend (ms)")
    for name, row in local["operations"].items():
        print(f"  {name:45} median {row['median_ms']:8.3f}  p90 {row['p90_ms']:8.3f}")
    listed = [row for name, row in local["operations"].items() if "10,000" in name]
    if len(listed) == 2:
        ratio = listed[0]["median_ms"] / listed[1]["median_ms"]
        print(f"  listing 10,000 versions: {ratio:.2f}x the raw SELECT (target <= 3)")
    print(f"\nlocal large file ({figures['size_mib']} MiB), MB/s (median of turns)")
    one_pass = local["one_pass"]
    for name, value in one_pass.items():
        print(f"  {name:45} {value:9.1f}")
    for ours, bound in (
        ("put_artifact(path)", "one pass, fsynced (put's bound)"),
        ("download, verified", "one pass (download's bound)"),
    ):
        print(f"  {ours}: {one_pass[ours] / one_pass[bound]:.2f}x its bound (target >= 0.6)")
    for name, value in local["transfers"].items():
        print(f"  {name:45} {value:9.1f}")


def main() -> None:
    """Run the benchmark and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, a 256 MiB file")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--retention-s3", type=int, default=100, metavar="N")
    parser.add_argument("--retention-local", type=int, default=500, metavar="N")
    parser.add_argument("--retention-only", action="store_true", help="only the retention part")
    parser.add_argument("--resolver-only", action="store_true", help="only the simulation")
    parser.add_argument("--server-only", action="store_true", help="only the serve load test")
    parser.add_argument("--local-only", action="store_true", help="only the local backend")
    parser.add_argument("--s3-only", action="store_true", help="only S3 + DynamoDB (moto)")
    parser.add_argument(
        "--legacy-python",
        metavar="PATH",
        help="a Python with versioned==1.0.1: its identical put, timed by turns with ours",
    )
    options = parser.parse_args()
    runs = 20 if options.quick else 100
    size = (256 if options.quick else 1024) * MIB
    figures: dict[str, Any] = {"machine": machine(), "runs": runs, "size_mib": size // MIB}
    # a simulation on a fake clock: no server, and the machine's load cannot change it
    figures["resolver"] = simulate_resolver(duration=150.0 if options.quick else 300.0)
    if options.resolver_only:
        show_resolver(figures["resolver"])
        if options.json:
            options.json.write_text(json.dumps(figures, indent=2))
        return
    if options.server_only:
        figures["server"] = bench_server(500 if options.quick else 2000)
        show_server(figures["server"])
        if options.json:
            options.json.write_text(json.dumps(figures, indent=2))
        return
    if options.local_only:
        with tempfile.TemporaryDirectory(prefix="versioned-bench-") as folder:
            figures["local"] = bench_local(runs, size, Path(folder))
            figures["retention"] = {
                "local": bench_retention_local(options.retention_local, Path(folder))
            }
        show_local(figures)
        show_retention("the local backend", figures["retention"]["local"], "raw sqlite3 UPDATE x N")
        if options.json:
            options.json.write_text(json.dumps(figures, indent=2))
        return
    if options.s3_only:
        with tempfile.TemporaryDirectory(prefix="versioned-bench-") as folder, moto_server():
            figures["s3"] = {"moto": bench_s3(runs, size, Path(folder), options.legacy_python)}
            figures["retention"] = {"s3": bench_retention_s3(options.retention_s3)}
        show_s3(figures)
        show_retention(
            "S3 + DynamoDB (moto)", figures["retention"]["s3"], "raw boto3 UpdateItem x N"
        )
        if options.json:
            options.json.write_text(json.dumps(figures, indent=2))
        return
    retention: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="versioned-bench-") as folder:
        scratch = Path(folder)
        figures["s3"], retention["s3"] = {}, {}
        with moto_server():
            for stack in ("moto", "real"):
                with real_stack() if stack == "real" else contextlib.nullcontext():
                    if not options.retention_only:
                        figures["s3"][stack] = bench_s3(runs, size, scratch, options.legacy_python)
                    retention["s3"][stack] = bench_retention_s3(options.retention_s3)
        if not options.retention_only:
            figures["local"] = bench_local(runs, size, scratch)
        retention["local"] = bench_retention_local(options.retention_local, scratch)
    figures["retention"] = retention
    figures["server"] = bench_server(500 if options.quick else 2000)
    show(figures)
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
