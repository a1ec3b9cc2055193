"""Benchmark of retention (``purge_artifact_versions``) for ``tools/bench.py``.

Each backend publishes N versions of one artifact, then times soft-deleting all of them
with ``purge_artifact_versions(name, keep_last_n=0, purge_older_than_secs=0)``, next to a
baseline of the least the store could do: N sequential raw writes that each mark one
version deleted (a conditional boto3 UpdateItem on the same moto server; a sqlite3 UPDATE
in autocommit mode, with the local backend's WAL and ``synchronous = FULL``; and, for
scale, the same UPDATEs in one transaction). The machine may be shared, so each figure is
the median of a few rounds, library and baseline taking turns within a round.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

NAME = "retention"


def _seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _purge_round(repo: Any, count: int, sent: list[str]) -> float:
    """Publish ``count`` unaliased versions, then return the seconds retention takes to
    soft-delete them all; ``sent`` is emptied just before (it may collect the purge's
    requests). Raises RuntimeError if it deleted another number."""
    repo.put_artifact(NAME, b"retention bench content")
    for _ in range(count):
        repo.publish_artifact_version(NAME)
    sent.clear()
    outcome: list[Any] = []
    took = _seconds(
        lambda: outcome.append(
            repo.purge_artifact_versions(NAME, keep_last_n=0, purge_older_than_secs=0)
        )
    )
    if len(outcome[0][1]) != count:
        raise RuntimeError(f"retention deleted {len(outcome[0][1])} versions, expected {count}")
    return took


def _figures(
    count: int, purges: list[float], baselines: list[float], **extra: Any
) -> dict[str, Any]:
    took, baseline = statistics.median(purges), statistics.median(baselines)
    return {
        "versions": count,
        "rounds": len(purges),
        "seconds": took,
        "ms_per_version": took * 1000 / count,
        "baseline_seconds": baseline,
        "baseline_ms_per_version": baseline * 1000 / count,
        "ratio": took / baseline,
        "samples_seconds": purges,
        "baseline_samples_seconds": baselines,
        **extra,
    }


def bench_retention_s3(
    count: int, rounds: int = 3, table: str = "bench-retention"
) -> dict[str, Any]:
    """Retention on S3 + DynamoDB (the moto server must be running) and its baseline."""
    import boto3

    from versioned.s3_and_dynamodb_backend import Repository

    repo = Repository("us-east-1", "bench-retention", dynamodb_table_name=table)
    repo.bootstrap()
    sent: list[str] = []
    for client in (repo._clients.s3, repo._clients.dynamodb):
        client.meta.events.register("before-send", lambda **_: sent.append(""))
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    keys = [{"pk": {"S": "raw-retention"}, "sk": {"S": f"{n:06d}"}} for n in range(1, count + 1)]
    for key in keys:
        dynamodb.put_item(TableName=table, Item={**key, "is_deleted": {"BOOL": False}})

    def raw_updates(deleted: bool) -> None:
        for key in keys:
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET is_deleted = :new",
                ConditionExpression="is_deleted = :old",
                ExpressionAttributeValues={
                    ":new": {"BOOL": deleted},
                    ":old": {"BOOL": not deleted},
                },
            )

    purges: list[float] = []
    baselines: list[float] = []
    requests: list[int] = []
    for turn in range(rounds):
        purges.append(_purge_round(repo, count, sent))
        requests.append(len(sent))
        baselines.append(_seconds(partial(raw_updates, turn % 2 == 0)))
    get_item = _seconds(lambda: [dynamodb.get_item(TableName=table, Key=k) for k in keys])
    # for scale: what one plain read costs on this server and this (maybe busy) machine
    return _figures(
        count,
        purges,
        baselines,
        requests=max(requests),
        raw_get_item_ms=get_item * 1000 / count,
        **_noop_s3(repo, dynamodb, table, sent, rounds),
    )


def _noop_s3(repo: Any, dynamodb: Any, table: str, sent: list[str], rounds: int) -> dict[str, Any]:
    """A retention run that deletes nothing (every version is kept), by turns with its
    anchor: one raw listing of the same partition (a Query, every page), which is the
    least any retention must read."""
    versions = len(repo.list_artifact_versions(NAME, include_deleted=True))

    def noop() -> None:
        _, deleted = repo.purge_artifact_versions(NAME, keep_last_n=versions + 1)
        if deleted:
            raise RuntimeError("the no-op retention run deleted versions")

    def raw_list() -> None:
        start: dict[str, Any] | None = None
        while True:
            page = dynamodb.query(
                TableName=table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": NAME}},
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    runs: list[float] = []
    lists: list[float] = []
    for _ in range(rounds):
        sent.clear()
        runs.append(_seconds(noop))
        lists.append(_seconds(raw_list))
    return {
        "noop_items": versions,
        "noop_seconds": statistics.median(runs),
        "noop_requests": len(sent),
        "raw_list_seconds": statistics.median(lists),
    }


def bench_retention_local(count: int, scratch: Path, rounds: int = 3) -> dict[str, Any]:
    """Retention on the local backend and raw sqlite3 UPDATEs of as many rows."""
    from versioned.local_backend import Repository

    repo = Repository(scratch / "retention-repo")
    raw = sqlite3.connect(scratch / "retention-raw.sqlite3", isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA synchronous = FULL")
    raw.execute(
        "CREATE TABLE versions (name TEXT, version INTEGER, is_deleted INTEGER, "
        "PRIMARY KEY (name, version)) WITHOUT ROWID"
    )
    update = "UPDATE versions SET is_deleted = ? WHERE name = ? AND version = ? AND is_deleted = ?"
    numbers = range(1, count + 1)
    raw.executemany("INSERT INTO versions VALUES ('app', ?, 0)", [(n,) for n in numbers])

    def raw_updates(deleted: int) -> None:
        before = raw.total_changes
        for n in numbers:
            raw.execute(update, (deleted, "app", n, 1 - deleted))
        if raw.total_changes - before != count:
            raise RuntimeError("the raw UPDATEs did not each change a row")

    def in_one_transaction(deleted: int) -> None:
        raw.execute("BEGIN IMMEDIATE")
        raw_updates(deleted)
        raw.execute("COMMIT")

    purges: list[float] = []
    baselines: list[float] = []
    together: list[float] = []
    for _ in range(rounds):
        purges.append(_purge_round(repo, count, []))
        baselines.append(_seconds(partial(raw_updates, 1)))
        together.append(_seconds(partial(in_one_transaction, 0)))
    raw.close()
    return _figures(
        count, purges, baselines, requests=None, one_transaction_seconds=statistics.median(together)
    )


def show_retention(title: str, row: dict[str, Any], baseline: str) -> None:
    """Print one backend's retention figures beside its baseline."""
    requests = f", {row['requests']} requests" if row["requests"] is not None else ""
    print(
        f"\nretention on {title}: soft-delete {row['versions']} versions{requests}"
        f" (median of {row['rounds']} rounds)"
    )
    print(
        f"  purge_artifact_versions     {row['seconds']:8.3f} s  "
        f"{row['ms_per_version']:7.2f} ms/version  ({row['ratio']:.1f}x the baseline)"
    )
    print(
        f"  {baseline:27} {row['baseline_seconds']:8.3f} s  "
        f"{row['baseline_ms_per_version']:7.2f} ms/version"
    )
    if "noop_seconds" in row:
        print(
            f"  a run deleting nothing ({row['noop_items']} versions listed, "
            f"{row['noop_requests']} requests): {row['noop_seconds']:.3f} s, "
            f"{row['noop_seconds'] / row['raw_list_seconds']:.2f}x one raw listing of the "
            f"partition ({row['raw_list_seconds']:.3f} s, every page of a Query)"
        )
    if "raw_get_item_ms" in row:
        print(f"  (one raw GetItem on the same server: {row['raw_get_item_ms']:.2f} ms)")
    if "one_transaction_seconds" in row:
        print(f"  {'the same in one transaction':27} {row['one_transaction_seconds']:8.3f} s")
