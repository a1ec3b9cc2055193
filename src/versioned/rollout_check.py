"""Running a rollout's check command: a shell command whose exit code judges a step.

Exit 0 passes, exit 1 fails, and anything else (another code, a signal, a timeout, a
command that can't start) is inconclusive. The command runs in a session of its own, so
a timeout kills everything it started, not only the shell (but not what it moved to a
session of its own: `setsid cmd &`; the verdict does not wait for that).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from .rollout_plan import FAILED, INCONCLUSIVE, PASSED

#: How much of the command's output a check keeps (its last lines) as its detail.
_DETAIL_CHARS = 300
#: How much of the output is held while reading it (the rest is dropped as it comes).
_KEPT_BYTES = 64 * 1024
#: How long the output is still read once the shell exited.
_DRAIN_SECONDS = 1.0


@dataclass(frozen=True)
class CheckOutcome:
    """What one run of the check said: ``outcome`` (passed, failed, inconclusive), the
    exit code (None: it did not exit by itself) and a short detail for the record."""

    outcome: str
    exit_code: int | None
    detail: str


#: Runs ``command`` with ``environment`` added, for at most ``timeout`` seconds.
CheckRunner = Callable[[str, Mapping[str, str], float], CheckOutcome]


def _tail(output: str) -> str:
    text = " | ".join(line.strip() for line in output.strip().splitlines()[-3:] if line.strip())
    return text[-_DETAIL_CHARS:]


def _keep_tail(stream: IO[bytes], tail: bytearray) -> None:
    """Read ``stream`` to its end, keeping only its last ``_KEPT_BYTES`` in ``tail``."""
    with contextlib.suppress(OSError, ValueError), stream:
        while chunk := os.read(stream.fileno(), 65536):
            tail += chunk
            if len(tail) > 2 * _KEPT_BYTES:
                del tail[:-_KEPT_BYTES]


def run_check_command(command: str, environment: Mapping[str, str], timeout: float) -> CheckOutcome:
    """Run ``command`` through the shell; its exit code decides (see the module).

    Its output is read as it comes and only its tail kept, and the verdict waits for the
    shell's exit, not for the end of the output: a process the check leaves behind may
    hold it open for ever."""
    try:
        process = subprocess.Popen(
            command,
            shell=True,
            env={**os.environ, **environment},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        return CheckOutcome(INCONCLUSIVE, None, f"could not start the check: {error}")
    assert process.stdout is not None
    tail = bytearray()
    reader = threading.Thread(target=_keep_tail, args=(process.stdout, tail), daemon=True)
    reader.start()
    code: int | None
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        code = None
    reader.join(_DRAIN_SECONDS)
    output = bytes(tail).decode("utf-8", errors="replace")
    if code is None:
        return CheckOutcome(
            INCONCLUSIVE, None, f"timed out after {timeout:g} s; {_tail(output)}".rstrip("; ")
        )
    outcome = PASSED if code == 0 else FAILED if code == 1 else INCONCLUSIVE
    return CheckOutcome(outcome, code, f"exit {code}; {_tail(output)}".rstrip("; "))
