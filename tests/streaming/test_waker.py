"""The timer that starts a put's heartbeat only when its first beat falls due."""

from __future__ import annotations

import threading

from versioned.stores.s3.waker import Waker


def test_a_scheduled_call_runs_and_a_cancelled_one_never_does() -> None:
    waker = Waker()
    ran: list[str] = []
    done = threading.Event()
    with waker._lock:  # the timer cannot call anything before the cancel (a reentrant lock)
        cancelled = waker.schedule(0.0, lambda: ran.append("cancelled"))
        waker.schedule(0.01, lambda: (ran.append("kept"), done.set()))
        waker.cancel(cancelled)
    assert done.wait(30)
    assert ran == ["kept"]


def test_a_failing_call_leaves_the_timer_running() -> None:
    waker = Waker()
    done = threading.Event()

    def fail() -> None:
        raise RuntimeError("can't start new thread")

    waker.schedule(0.0, fail)
    waker.schedule(0.01, done.set)
    assert done.wait(30)


def test_a_sooner_call_is_not_held_up_by_a_later_one() -> None:
    waker = Waker()
    done = threading.Event()
    waker.schedule(3600, lambda: None)  # the timer now sleeps for an hour
    waker.schedule(0.01, done.set)
    assert done.wait(30)
