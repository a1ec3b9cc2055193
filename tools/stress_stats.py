"""What a stress run counts and how it reports it (``tools/stress.py``).

:class:`Stats` counts each operation by how it ended (done, an expected refusal, an
unexpected error, by error class), keeps the latest operations per artifact so that a
violation can be shown with what led to it, and collects what the invariant checks found;
:func:`report` prints all of it and gives the exit status.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Collection

from versioned import exc

#: refusals the rules promise under contention: not failures of the library
EXPECTED = (
    exc.VersionInUseError,
    exc.ArtifactNotFoundError,
    exc.AliasNotFoundError,
    exc.ConcurrentWriteError,
)
#: how many finished operations per artifact the report can show beside a violation
HISTORY = 60


class Stats:
    """Thread-safe counts of operations and how they ended, plus the checks' findings."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.seconds = 0.0
        self.done: Counter[str] = Counter()
        #: (operation, error class) -> count, for expected refusals and unexpected errors
        self.refused: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.samples: list[str] = []
        self.checks = 0
        #: (when, problem) for every problem every check found
        self.violations: list[tuple[str, str]] = []
        #: problem -> the operations on its artifact when a check first found it
        self.context: dict[str, list[str]] = {}
        #: artifact -> its latest finished operations: (start s, end s, worker, kind, outcome)
        self.history: dict[str, deque[tuple[float, float, int, str, str]]] = {}
        #: worker -> the operation it is running: (kind, artifact, start s)
        self.running: dict[int, tuple[str, str, float]] = {}

    def begin(self, kind: str, name: str, worker: int) -> float:
        """Note that ``worker`` starts ``kind`` on ``name``; returns the start time."""
        start = time.monotonic()
        with self.lock:
            self.running[worker] = (kind, name, start - self.started)
        return start

    def record(
        self, kind: str, name: str, worker: int, start: float, error: BaseException | None
    ) -> None:
        """Count one operation of ``kind`` on ``name`` that began at ``start`` and how it ended."""
        end = time.monotonic()
        outcome = "ok" if error is None else type(error).__name__
        with self.lock:
            self.running.pop(worker, None)
            if error is None:
                self.done[kind] += 1
            elif isinstance(error, EXPECTED):
                self.refused[kind, outcome] += 1
            else:
                self.errors[kind, outcome] += 1
                if len(self.samples) < 5:
                    self.samples.append("".join(traceback.format_exception(error)))
            since = self.started
            entry = (start - since, end - since, worker, kind, outcome)
            self.history.setdefault(name, deque(maxlen=HISTORY)).append(entry)

    def found(self, when: str, problems: list[str], waiting: Collection[str] = ()) -> None:
        """Keep what a check found, with what was going on for each new problem's artifact.

        Operations of the ``waiting`` kinds cannot run during a check: those begun are
        shown as waiting for it.
        """
        with self.lock:
            self.checks += 1
            self.violations += [(when, p) for p in problems]
            for problem in problems:
                name = problem.split(" ", 1)[0].rstrip(":")  # each line starts with it
                if problem not in self.context:
                    self.context[problem] = self._operations_on(name, waiting)

    def _operations_on(self, name: str, waiting: Collection[str]) -> list[str]:
        """The finished and running operations on ``name``, one readable line each."""
        lines = [
            f"{start:7.2f}-{end:7.2f}  w{who:<3} {kind:16} {outcome}"
            for start, end, who, kind, outcome in self.history.get(name, ())
        ]
        lines += [
            f"{start:7.2f}-  still  w{who:<3} {kind:16} "
            + ("waiting for the check" if kind in waiting else "running")
            for who, (kind, target, start) in sorted(self.running.items())
            if target == name
        ]
        return lines

    def attempts(self) -> Counter[str]:
        """Operations started per kind, however they ended."""
        total = Counter(self.done)
        for (kind, _), count in (self.refused + self.errors).items():
            total[kind] += count
        return total


def report(stats: Stats) -> int:
    """Print the counts; return the exit status (1 on violations or unexpected errors)."""
    attempts = stats.attempts()
    total = sum(attempts.values())
    rate = total / stats.seconds if stats.seconds else 0.0
    print(f"operations: {total} in {stats.seconds:.1f} s ({rate:.0f}/s)")
    print(f"  {'kind':16} {'attempted':>9} {'done':>7} {'refused':>7} {'errors':>7}")
    for kind in sorted(attempts):
        refused = sum(c for (k, _), c in stats.refused.items() if k == kind)
        errors = sum(c for (k, _), c in stats.errors.items() if k == kind)
        print(f"  {kind:16} {attempts[kind]:9} {stats.done[kind]:7} {refused:7} {errors:7}")
    for title, table in (("expected refusals", stats.refused), ("unexpected errors", stats.errors)):
        print(f"{title}: {sum(table.values())}")
        for (kind, error), count in sorted(table.items()):
            print(f"  {kind:16} {error:32} {count:7}")
    for sample in stats.samples:
        print(sample)
    distinct = Counter(problem for _, problem in stats.violations)
    print(f"invariant checks: {stats.checks}, violations: {len(stats.violations)}", end="")
    print(f" ({len(distinct)} distinct)")
    shown: set[str] = set()
    before: list[str] = []
    for when, problem in stats.violations:
        if problem in shown:
            continue
        shown.add(problem)
        print(f"  found by the check begun {when} ({distinct[problem]}x): {problem}")
        context = stats.context[problem]
        if context and context == before:
            print("    (operations on that artifact as above)")
        elif context:
            print("    operations on it until that check ended (start-end s, worker, kind, end):")
            for line in context:
                print(f"      {line}")
        before = context
    return 1 if stats.errors or stats.violations else 0
