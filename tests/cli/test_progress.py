"""Honest progress (issue 9, item 8): the bar counts the bytes read, then the bytes the
backend reads to send them, with a total and a percentage when the size is known; it
never wraps onto new lines, however narrow the terminal."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

from tests.cli.conftest import Cli, on_terminal

NAME = "model"
SIZE = 12 << 20  # above S3's 8 MiB part size: the upload goes in parts


def _drawn(cli: Cli, args: list[str], columns: int) -> bytes:
    """What the command draws on a pseudo-terminal ``columns`` wide as its stderr."""
    code, drawn = on_terminal(cli, args, columns=columns, stdout=False)
    assert code == 0, drawn
    return drawn


def _lines(drawn: bytes) -> list[str]:
    """The successive states of the bar, control sequences and remarks removed."""
    text = re.sub(r"\x1b\[K", "", drawn.decode())
    parts = re.split(r"[\r\n]+", text)
    return [part for part in parts if part and not part.startswith("versioned: ")]


def test_put_and_get_bars_count_bytes_and_fit_a_narrow_terminal(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(SIZE))
    wide = _drawn(cli, ["put", NAME, "big.bin"], 120)
    states = _lines(wide)
    assert wide.count(b"\n") <= 2, wide  # the bar line ends once (a pty may add \r\n)
    assert any("reading" in s and "100%" in s and "12.0 MiB / 12.0 MiB" in s for s in states)
    if cli.repo is not None and cli.repo.startswith("s3://"):
        # the upload is a phase of its own, counted as the parts are read to be sent
        sending = [s for s in states if "sending" in s]
        assert sending and "100%" in sending[-1] and "12.0 MiB / 12.0 MiB" in sending[-1]
    got = _lines(_drawn(cli, ["get", NAME, "-o", "copy.bin"], 120))
    assert any("receiving" in s and "100%" in s and "12.0 MiB / 12.0 MiB" in s for s in got)
    assert (tmp_path / "copy.bin").read_bytes() == (tmp_path / "big.bin").read_bytes()
    for columns in (40, 20):
        narrow = _drawn(cli, ["get", NAME, "-o", "copy.bin"], columns)
        states = _lines(narrow)
        assert states and all(len(s) < columns for s in states), states
        assert narrow.count(b"\n") <= 2
        assert any("100%" in s for s in states), states


def test_after_the_bytes_the_bar_says_what_it_waits_for_and_ends_with_a_summary() -> None:
    from versioned.cli.progress import Meter, ProgressBar

    meter = Meter("reading", SIZE, then=("sending", "completing the upload, committing"))
    meter.add(SIZE)  # hashed: not yet the phase that ends with a wait
    assert meter.then_started is None
    meter.adder("sending")(SIZE)
    assert meter.then_started is not None
    drawn = io.StringIO()
    with contextlib.redirect_stderr(drawn):
        bar = ProgressBar("put model", meter)
        bar._draw()
        now = drawn.getvalue().rsplit("\r", 1)[-1]  # what the terminal shows
        assert now.startswith("put model: completing the upload, committing… 0 s"), now
        bar._draw(final=True)
    assert drawn.getvalue().rsplit("\r", 1)[-1].startswith("put model: done, 12.0 MiB in ")


def test_a_large_publish_shows_its_copy(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(SIZE))
    cli.run("put", NAME, "big.bin")
    states = _lines(_drawn(cli, ["publish", NAME], 120))
    assert states and states[-1].startswith("publish model: done, 12.0 MiB in "), states
