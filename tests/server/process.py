"""``versioned serve`` as a child process: started on a free loopback port (``--port 0``),
its address read from the line it prints, its standard error collected (access logs)."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.cli.conftest import child_environment, versioned_command

_SERVING = re.compile(r"serving .* at (http://\S+/)")


class ServeProcess:
    """A running ``versioned serve``: ``url`` and the lines of its standard error."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_for_address()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def _wait_for_address(self, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    found = _SERVING.search(line)
                    if found:
                        return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise AssertionError(f"versioned serve did not start: {self.stderr()}")

    def stderr(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def stop(self) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        return self.process.returncode


@contextmanager
def serving(repo_uri: str, *args: str, env: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    """Run ``versioned --repo REPO serve --port 0 ARGS...`` for the ``with`` block."""
    process = subprocess.Popen(
        [versioned_command(), "--repo", repo_uri, "serve", "--port", "0", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_environment(env),
    )
    served = ServeProcess(process)
    try:
        yield served
    finally:
        served.stop()
