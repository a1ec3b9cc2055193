"""Version records of a local repository, kept while its database is unchanged.

A download needs the version's record (is it live, what is its hash). Reading it takes
a worker thread and a SQLite query, which cost more than the rest of a small download.
A local database can say cheaply whether anything was committed since it was last asked
(:meth:`.LocalBackend.change_stamp`, no waiting on writers), so records read once are kept
and given out until the stamp moves; then all of them are dropped at once. Writes are
rare next to downloads, and a dropped record is simply read again.

Only the event loop's thread uses a :class:`KeptRecords` (stamps are per thread), so it
takes no lock; the first thread to ask is taken for it, and any other gets nothing kept.
A stamp is taken before the read it guards: a write committed after that moves the next
stamp and drops the record, one committed before it is seen by the read.

One stamp serves every request handled before the callback it schedules with
``call_soon`` runs, as the event loop calls callbacks in the order they were registered:
a request handled before that callback had its handling scheduled before it, so it had
arrived before the stamp was taken, and any write its client saw finish was committed
before that. A request that arrives later is handled after the callback, under a stamp
of its own. This holds while a request's first step is scheduled, not run at once inside
the callback that read it (an eager task factory), so with any task factory set every
request takes a stamp. (Four connections at full load share each stamp among about three requests.)
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from ..model import Artifact

#: how many records to keep (a few hundred bytes each)
LIMIT = 10_000


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class KeptRecords:
    """Live version records by ``(name, version as written in the URL)``, the least
    recently used dropped first beyond ``limit``."""

    def __init__(self, change_stamp: Callable[[], Hashable | None], limit: int = LIMIT) -> None:
        self._change_stamp = change_stamp
        self._records: OrderedDict[tuple[str, str], Artifact] = OrderedDict()
        self._stamp: Hashable | None = None
        self._limit = limit
        #: the loop a stamp was taken on, until the callback it scheduled runs (see above)
        self._current: asyncio.AbstractEventLoop | None = None
        #: the thread whose event loop uses the records: the first to ask
        self._thread: int | None = None

    def get(self, name: str, version: str) -> tuple[Artifact | None, Hashable | None]:
        """The kept record (None: read it) and the stamp to :meth:`keep` a read under (None:
        there is no stamp yet, or it could not be read; keep nothing, and the read will
        say what is wrong)."""
        if self._thread is None:
            self._thread = threading.get_ident()
        elif threading.get_ident() != self._thread:
            return None, None  # an app driven from two threads: only the first one keeps
        current = self._current is not None and self._current is _running_loop()
        stamp = self._stamp if current else self._take_stamp()
        if stamp is None or stamp != self._stamp:
            self._records.clear()
            self._stamp = stamp
            return None, stamp
        key = (name, version)
        found = self._records.get(key)
        if found is not None:
            self._records.move_to_end(key)
        return found, stamp

    def _take_stamp(self) -> Hashable | None:
        try:
            stamp = self._change_stamp()
        except Exception:  # the backend's error surfaces from the read itself
            return None
        loop = _running_loop()
        if loop is None:
            return stamp  # called outside an event loop: a stamp per call
        if loop.get_task_factory() is not None:
            # a task factory may run a new request's first step at once, inside the
            # callback that read it, rather than scheduling it: a stamp per call then
            return stamp
        self._current = loop
        loop.call_soon(self._outdate)
        return stamp

    def _outdate(self) -> None:
        self._current = None

    def keep(self, name: str, version: str, artifact: Artifact, stamp: Hashable | None) -> None:
        """Keep ``artifact``, read after :meth:`get` gave ``stamp``, unless a write came since."""
        if stamp is None or stamp != self._stamp or threading.get_ident() != self._thread:
            return
        self._records[(name, version)] = artifact
        while len(self._records) > self._limit:
            self._records.popitem(last=False)

    def __len__(self) -> int:
        return len(self._records)
