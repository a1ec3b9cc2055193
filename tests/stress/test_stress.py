"""``tools/stress.py``: short runs on each backend are clean; its bookkeeping is right."""

from __future__ import annotations

import random
import threading
import time

import pytest
from tools import stress
from tools.stress_stats import Stats, report

from tests.helpers import Backend
from tests.invariants import raw_store_for
from versioned import exc

WORKERS = 16
SECONDS = 6.0
#: purge and gc often enough that a few seconds surely see several of each
SHORT_RUN_FREQUENCIES = {"purge_artifact": 2.0, "gc": 2.0}


@pytest.mark.slow
def test_short_stress_run_is_clean(backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    stats = stress.run(
        backend.uri, WORKERS, SECONDS, check_every=2.0, frequencies=SHORT_RUN_FREQUENCIES
    )
    status = report(stats)
    printed = capsys.readouterr().out
    assert stats.violations == [], printed
    assert not stats.errors, printed
    assert status == 0
    assert stats.checks >= 2, printed
    # the run did real work of every main kind, purges and gcs included
    for kind in ("put", "publish", "put_alias", "read", "purge_artifact", "gc"):
        assert stats.done[kind] > 0, printed


def test_a_purged_and_recreated_artifact_is_no_violation(backend: Backend) -> None:
    load = stress.Load(backend.repo, raw_store_for(backend.repo))
    rng = random.Random(0)
    backend.repo.put_artifact("alpha", b"before the purge")
    backend.repo.publish_artifact_version("alpha")
    stress.check(load, "before")
    stress.OPERATIONS["purge_artifact"][1](load, "alpha", rng)
    stress.check(load, "purged")
    # numbers start again at 1 after a purge: v1 now has other bytes, which is no fault
    backend.repo.put_artifact("alpha", b"after the purge")
    backend.repo.publish_artifact_version("alpha")
    stress.check(load, "after")
    assert load.stats.violations == []
    assert load.stats.checks == 3


def test_a_check_waits_for_running_purges_and_gcs() -> None:
    gate = stress.Gate()
    checked: list[float] = []
    with gate.destructive():

        def check() -> None:
            with gate.checking():
                checked.append(time.monotonic())

        checker = threading.Thread(target=check)
        checker.start()
        time.sleep(0.3)
        released = time.monotonic()
        assert checked == []
    checker.join(5)
    assert checked and checked[0] >= released


def test_report_counts_refusals_apart_from_errors(capsys: pytest.CaptureFixture[str]) -> None:
    stats = Stats()
    start = time.monotonic()
    stats.record("publish", "alpha", 0, start, None)
    in_use = exc.VersionInUseError("v1 is aliased", name="alpha", version="1", aliases=["prod"])
    stats.record("delete", "alpha", 1, start, in_use)
    stats.record("delete", "beta", 1, start, in_use)
    stats.record("read", "beta", 2, start, exc.ConcurrentWriteError("LATEST changed"))
    assert report(stats) == 0
    printed = capsys.readouterr().out
    assert "operations: 4 in" in printed
    assert "expected refusals: 3" in printed
    assert "VersionInUseError" in printed and "ConcurrentWriteError" in printed
    assert "unexpected errors: 0" in printed

    stats.record("put", "gamma", 3, start, exc.BackendError("disk full"))
    stats.found("t=1.0s", ["gamma v1: blob abc is missing"])
    assert report(stats) == 1
    printed = capsys.readouterr().out
    assert "unexpected errors: 1" in printed and "BackendError" in printed
    assert "violations: 1" in printed and "gamma v1: blob abc is missing" in printed
    assert "put" in printed.split("gamma v1: blob abc is missing", 1)[1]  # what led to it
