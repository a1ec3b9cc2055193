"""Files the command reads and writes: the content to put, and where ``get`` writes.

``get -o PATH`` treats what is at PATH the way a careful tool does: a regular file (or
nothing) is replaced only once the new content is complete and verified; a FIFO or a
character device (``/dev/null``, a terminal) is written through, never replaced; a
symlink is followed and its target handled by those rules; anything else (a folder, a
socket, a block device) is refused.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO


class UnusableOutput(Exception):
    """``-o PATH`` names something the command will not write (exit code 2)."""


@contextlib.contextmanager
def open_source(file: str) -> Iterator[BinaryIO]:
    """Open FILE for reading (``-``: standard input), closing it afterwards."""
    if file == "-":
        yield sys.stdin.buffer
        return
    with open(file, "rb") as raw:
        yield raw


def stream_size(stream: BinaryIO) -> int | None:
    """The number of bytes a regular file holds; ``None`` for a pipe or a terminal."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def output_kind(output: str) -> tuple[str, str]:
    """How ``get -o output`` writes, and where: ``("stdout", "-")``, ``("stream", path)``
    for a FIFO or character device, ``("file", path)`` for a regular file or a new one
    (a symlink resolved to its target). Raises UnusableOutput for anything else."""
    if output == "-":
        return "stdout", "-"
    target = os.path.realpath(output) if os.path.islink(output) else output
    try:
        info = os.stat(target)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(folder):
            raise UnusableOutput(f"cannot write {output}: no folder {folder}") from None
        return "file", target
    if stat.S_ISREG(info.st_mode):
        return "file", target
    if stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode):
        return "stream", target
    kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
    raise UnusableOutput(f"cannot write {output}: it is {kind} (give a file path or -)")
