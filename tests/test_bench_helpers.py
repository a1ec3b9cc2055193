"""The benchmark's baselines do what its tables claim (tools/bench.py, tools/bench_raw.py)."""

from __future__ import annotations

import copy
from typing import Any

from tools.bench import paired_timings
from tools.bench_raw import (
    EXACT_READS,
    MOVED,
    Replay,
    one_after_another,
    partitions_of,
    read_partitions,
)

from tests.helpers import S3Backend


def test_a_replay_sends_our_writes_again_on_a_copy_and_leaves_ours_alone(
    s3_backend: S3Backend,
) -> None:
    repo = s3_backend.repo
    repo.put_artifact("app", b"one")
    repo.publish_artifact_version("app")
    repo.put_alias("app", "prod", 1)
    sent: list[tuple[str, dict[str, Any]]] = []

    def note(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent.append((model.name, copy.deepcopy(params)))

    repo._clients.dynamodb.meta.events.register("provide-client-params.dynamodb", note)
    repo.put_alias("app", "prod", 1)  # the partitions an alias change writes in
    touched = partitions_of([(op, params) for op, params in sent if op not in EXACT_READS])
    assert touched  # the alias, its history, the version it checks
    before = read_partitions(s3_backend.dynamodb, s3_backend.table, touched)
    sent.clear()
    repo.put_alias("app", "prod", 1)
    writes = [(op, params) for op, params in sent if op not in EXACT_READS]
    assert [op for op, _ in writes] == ["TransactWriteItems"]
    ours = {pk: s3_backend.partition(pk) for pk in touched}
    replay = Replay(s3_backend.dynamodb, s3_backend.table, before, writes)
    for _ in range(3):  # each replay meets the state ours met, and succeeds as ours did
        replay.prepare()
        replay()
    assert {pk: s3_backend.partition(pk) for pk in touched} == ours  # ours untouched
    moved = {pk: s3_backend.partition(MOVED + pk) for pk in touched}
    # the copy holds what ours holds, but for the moment written
    for pk, items in ours.items():
        assert len(moved[pk]) == len(items)
        assert {item["sk"]["S"] for item in moved[pk]} == {item["sk"]["S"] for item in items}


def test_paired_timings_run_everything_by_turns() -> None:
    order: list[str] = []
    first = one_after_another([lambda: order.append("a1"), lambda: order.append("a2")])
    figures = paired_timings(first, [lambda: order.append("b")], runs=3)
    assert len(figures) == 2 and all(f["median_ms"] >= 0 for f in figures)
    # one warm-up each, then the operation and its baseline alternate
    assert order == ["a1", "a2", "b"] * 4


def test_paired_timings_prepare_a_baseline_before_each_call() -> None:
    order: list[str] = []
    baseline = one_after_another([lambda: order.append("b")], lambda: order.append("prepare"))
    paired_timings(lambda: order.append("a"), [baseline], runs=2)
    assert order == ["a", "prepare", "b"] * 3
