"""Running a rollout's check command: a shell command whose exit code judges a step.

Exit 0 passes, exit 1 fails, and anything else (another code, a signal, a timeout, a
command that can't start) is inconclusive. The command runs in a session of its own, so
a timeout kills everything it started, not only the shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .rollout_plan import FAILED, INCONCLUSIVE, PASSED

#: How much of the command's output a check keeps (its last lines) as its detail.
_DETAIL_CHARS = 300


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


def run_check_command(command: str, environment: Mapping[str, str], timeout: float) -> CheckOutcome:
    """Run ``command`` through the shell; its exit code decides (see the module)."""
    try:
        process = subprocess.Popen(
            command,
            shell=True,
            env={**os.environ, **environment},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as error:
        return CheckOutcome(INCONCLUSIVE, None, f"could not start the check: {error}")
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return CheckOutcome(
            INCONCLUSIVE, None, f"timed out after {timeout:g} s; {_tail(output)}".rstrip("; ")
        )
    code = process.returncode
    outcome = PASSED if code == 0 else FAILED if code == 1 else INCONCLUSIVE
    return CheckOutcome(outcome, code, f"exit {code}; {_tail(output)}".rstrip("; "))
