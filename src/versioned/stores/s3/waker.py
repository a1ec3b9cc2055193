"""One timer thread per process that calls a function later unless told not to.

The lease heartbeat (``lease.py``) used to start a thread for every put, stop it and join
it when the put ended, although a put shorter than a third of the lease (nearly all of
them) never beats. Starting and joining that thread cost a put 0.1 ms on a quiet machine
and about 4 ms (a tenth of the put) on a loaded one, where the join waits for the
scheduler to run the stopping thread. Now a put only asks this timer to start its
heartbeat thread when the first beat falls due and cancels that at its end: no thread is
started, woken or joined for a short put. The timer itself sends nothing: what it calls
only starts a thread, so a slow request can never hold up another put's heartbeat.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Waker:
    """Calls each scheduled function on the timer's thread once its time comes."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        #: (due on the monotonic clock, handle), soonest first; a cancelled entry stays
        #: until it is due and is then skipped
        self._due: list[tuple[float, int]] = []
        #: the function of each entry not yet called nor cancelled, by handle
        self._live: dict[int, Callable[[], None]] = {}
        self._handles = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, function: Callable[[], None]) -> int:
        """Call ``function`` (quickly: it runs on the timer's thread) in ``delay`` seconds;
        return a handle for :meth:`cancel`."""
        with self._lock:
            handle = next(self._handles)
            due = time.monotonic() + delay
            sooner = not self._due or due < self._due[0][0]
            heapq.heappush(self._due, (due, handle))
            self._live[handle] = function
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="versioned-waker")
                self._thread.daemon = True
                self._thread.start()
            elif sooner:
                self._lock.notify()  # else it wakes in time for this one anyway
        return handle

    def cancel(self, handle: int) -> None:
        """Do not call the function ``handle`` names (if it has not been called yet)."""
        with self._lock:
            self._live.pop(handle, None)

    def _run(self) -> None:
        with self._lock:
            while True:
                if not self._due:
                    self._lock.wait()
                    continue
                due, handle = self._due[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                heapq.heappop(self._due)
                function = self._live.pop(handle, None)
                if function is None:
                    continue  # cancelled
                self._lock.release()
                try:
                    function()
                except Exception:
                    # (a thread that could not start) the put goes on without beats, and
                    # its conditions still fence it; the timer must live on for the others
                    pass
                finally:
                    self._lock.acquire()


#: The process's timer (a daemon thread, started on first use).
WAKER = Waker()
