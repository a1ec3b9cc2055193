"""Version records of a local repository, kept while its database is unchanged.

A download needs the version's record (is it live, what is its hash). Reading it takes
a worker thread and a SQLite query, which cost more than the rest of a small download.
A local database can say cheaply whether anything was committed since it was last asked
(:meth:`.LocalBackend.change_stamp`, no waiting on writers), so records read once are kept
and given out until the stamp moves; then all of them are dropped at once. Writes are
rare next to downloads, and a dropped record is simply read again.

Only the event loop's thread uses a :class:`KeptRecords` (stamps are per thread), so it
takes no lock. A stamp is taken before the read it guards: a write committed after that
moves the next stamp and drops the record, one committed before it is seen by the read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

from ..model import Artifact

#: how many records to keep (a few hundred bytes each)
LIMIT = 10_000


class KeptRecords:
    """Live version records by ``(name, version as written in the URL)``, the least
    recently used dropped first beyond ``limit``."""

    def __init__(self, change_stamp: Callable[[], Hashable | None], limit: int = LIMIT) -> None:
        self._change_stamp = change_stamp
        self._records: OrderedDict[tuple[str, str], Artifact] = OrderedDict()
        self._stamp: Hashable | None = None
        self._limit = limit

    def get(self, name: str, version: str) -> tuple[Artifact | None, Hashable | None]:
        """The kept record (None: read it) and the stamp to :meth:`keep` a read under (None:
        there is no stamp yet, or it could not be read; keep nothing, and the read will
        say what is wrong)."""
        try:
            stamp = self._change_stamp()
        except Exception:  # the backend's error surfaces from the read itself
            stamp = None
        if stamp is None or stamp != self._stamp:
            self._records.clear()
            self._stamp = stamp
            return None, stamp
        key = (name, version)
        found = self._records.get(key)
        if found is not None:
            self._records.move_to_end(key)
        return found, stamp

    def keep(self, name: str, version: str, artifact: Artifact, stamp: Hashable | None) -> None:
        """Keep ``artifact``, read after :meth:`get` gave ``stamp``, unless a write came since."""
        if stamp is None or stamp != self._stamp:
            return
        self._records[(name, version)] = artifact
        while len(self._records) > self._limit:
            self._records.popitem(last=False)

    def __len__(self) -> int:
        return len(self._records)
