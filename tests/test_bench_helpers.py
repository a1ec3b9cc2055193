"""The benchmark's baselines do what its tables claim (tools/bench.py, tools/bench_raw.py)."""

from __future__ import annotations

from typing import Any

from tools.bench import paired_timings
from tools.bench_raw import one_after_another, raw_transaction

from tests.helpers import S3Backend


def test_a_raw_transaction_has_the_shape_asked_and_rewrites_its_items(
    s3_backend: S3Backend,
) -> None:
    sent: list[list[str]] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        sent.append([next(iter(action)) for action in params["TransactItems"]])

    s3_backend.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", note
    )
    shape = ["Put", "Put", "Update", "ConditionCheck", "Delete"]
    send = raw_transaction(s3_backend.dynamodb, s3_backend.table, shape)
    send()
    size = len(s3_backend.partition("raw-transaction"))
    send()
    assert sent == [shape, shape]
    assert len(s3_backend.partition("raw-transaction")) == size  # the table does not grow


def test_paired_timings_run_everything_by_turns() -> None:
    order: list[str] = []
    first = one_after_another([lambda: order.append("a1"), lambda: order.append("a2")])
    figures = paired_timings(first, [lambda: order.append("b")], runs=3)
    assert len(figures) == 2 and all(f["median_ms"] >= 0 for f in figures)
    # one warm-up each, then the operation and its baseline alternate
    assert order == ["a1", "a2", "b"] * 4
