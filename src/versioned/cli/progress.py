"""A one-line progress bar on standard error that counts the bytes actually moved.

A :class:`Meter` is fed by the transfer itself: the bytes read from the file while it
is hashed, then the bytes the backend reads to send (``put``), or the bytes received
(``get``). The bar shows the phase, a percentage and the time left when the total is
known, and is cut to the terminal's width so that it never wraps onto a new line.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

from .output import human_size

#: transfers smaller than this show no progress bar
PROGRESS_MIN_BYTES = 1 << 20
_BAR_CELLS = 20


class Meter:
    """How far a transfer is: the current phase, its bytes done, and its total if known.

    ``add`` may be called from several threads (S3 sends parts in parallel).
    """

    def __init__(
        self, phase: str, total: int | None, *, then: tuple[str, str] | None = None
    ) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        #: (phase, bytes, started) of phases that ended before the bar last looked
        self.ended: list[tuple[str, int, float]] = []
        #: (phase, what follows it): once that phase has moved every byte, the bar says
        #: what follows ("completing the upload, committing") and the seconds it takes,
        #: instead of a rate falling towards zero and "0:00 left"
        self.then_phase, self.then = then or ("", "")
        #: when the ``then`` phase moved its last byte (monotonic)
        self.then_started: float | None = None
        #: the whole operation's start, for the closing line
        self.began = self.started

    @classmethod
    def waiting(cls, size: int, what: str) -> Meter:
        """A meter for work that reports no bytes (publish's copy on S3): the bar says
        ``what`` and the seconds it has taken; ``size`` is for the closing line."""
        meter = cls(what, size, then=(what, what))
        meter.add(size)
        return meter

    def add(self, count: int) -> None:
        """Count ``count`` more bytes done."""
        with self._lock:
            self.done += count
            finished = self.total is not None and self.done >= self.total
            if finished and self.phase == self.then_phase and self.then_started is None:
                self.then_started = time.monotonic()

    def adder(self, phase: str) -> Callable[[int], None]:
        """A callback that starts ``phase`` at its first call, then counts bytes; the
        phase's total is the bytes the previous phase counted (the same content)."""

        def add(count: int) -> None:
            if self.phase != phase:
                with self._lock:
                    if self.phase != phase:
                        # keep the finished phase's last state: the bar shows it whole
                        self.ended.append((self.phase, self.done, self.started))
                        self.phase, self.total, self.done = phase, self.done, 0
                        self.started = time.monotonic()
            self.add(count)

        return add


class ProgressBar:
    """Redraws ``meter`` on standard error five times a second while the block runs."""

    def __init__(self, label: str, meter: Meter) -> None:
        self._label, self._meter = label, meter
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._drawn = False

    def __enter__(self) -> ProgressBar:
        self._thread.start()
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if kind is None:
            self._draw(final=True)
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._draw()

    def _draw(self, *, final: bool = False) -> None:
        meter = self._meter
        size = max(meter.done, meter.total or 0)
        while meter.ended:
            phase, moved, started = meter.ended.pop(0)
            if moved >= PROGRESS_MIN_BYTES:
                self._write(render(self._label, phase, moved, moved, started, _columns()))
        if not final and meter.then_started is not None:
            if size >= PROGRESS_MIN_BYTES:
                self._write(render_then(self._label, meter.then, meter.then_started, _columns()))
            return
        done, total = meter.done, meter.total
        if max(done, total or 0) < PROGRESS_MIN_BYTES:
            return
        self._write(render(self._label, meter.phase, done, total, meter.started, _columns()))
        if final:  # the closing line: the whole operation, not a falling rate
            self._write(render_done(self._label, size, meter.began, _columns()))

    def _write(self, line: str) -> None:
        sys.stderr.write("\r" + line + "\x1b[K")
        sys.stderr.flush()
        self._drawn = True


def render_then(label: str, then: str, since: float, width: int) -> str:
    """What happens after the bytes moved, and for how long so far: ``put model:
    completing the upload, committing… 3 s``, at most ``width - 1`` characters."""
    return f"{label}: {then}… {time.monotonic() - since:.0f} s"[: max(width - 1, 1)]


def render_done(label: str, size: int, began: float, width: int) -> str:
    """The closing line: ``put model: done, 200.0 MiB in 5.2 s``."""
    line = f"{label}: done, {human_size(size)} in {time.monotonic() - began:.1f} s"
    return line[: max(width - 1, 1)]


def render(label: str, phase: str, done: int, total: int | None, started: float, width: int) -> str:
    """The bar's text, at most ``width - 1`` characters (the last column would wrap).

    Pieces are dropped when they do not fit: the bar first, then the time left, the
    rate, and the byte counts; the label is cut last.
    """
    elapsed = max(time.monotonic() - started, 1e-3)
    rate = done / elapsed
    head = f"{label} {phase}"
    pieces: list[tuple[int, str]] = []  # (priority: lower stays longer, text)
    if total:
        shown = min(done, total)
        fraction = shown / total
        left = (total - shown) / rate if rate else 0.0
        pieces += [
            (0, f"{fraction:4.0%}"),
            (4, f"[{'#' * round(fraction * _BAR_CELLS):<{_BAR_CELLS}}]"),
            (1, f"{human_size(shown)} / {human_size(total)}"),
            (2, f"{human_size(rate)}/s"),
            (3, f"{int(left) // 60}:{int(left) % 60:02d} left"),
        ]
    else:
        pieces += [(1, human_size(done)), (2, f"{human_size(rate)}/s")]
    limit = max(width - 1, 1)
    kept = list(pieces)
    while len(kept) > 1 and len("  ".join([head, *(text for _, text in kept)])) > limit:
        kept.remove(max(kept, key=lambda piece: piece[0]))
    tail = "  ".join(text for _, text in kept)
    room = limit - len(tail) - 1  # the label gives way last, down to nothing
    return (f"{head[:room]} {tail}" if room > 0 else tail)[:limit]


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns or 80
    except OSError:
        return 80
