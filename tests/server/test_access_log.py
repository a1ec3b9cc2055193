"""The access log (:mod:`versioned.server.access_log`): a request notes its line and the
writer thread logs it within LOG_SECONDS, in the order requests ended; a log that falls
BEHIND makes requests log their own lines; :func:`write_noted` logs what is held at once."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from versioned.server import access_log
from versioned.server.access_log import LOG_SECONDS, AccessLog, write_noted

pytestmark = pytest.mark.timeout(60)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def lines() -> Iterator[Lines]:
    write_noted()  # nothing of another test's left behind
    handler = Lines()
    logger = logging.getLogger("versioned.server.access")
    before = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield handler
    write_noted()
    logger.handlers[:], logger.level, logger.propagate = before


async def _answer(scope: dict[str, object], receive: object, send: object) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"hello"})  # type: ignore[operator]


def _scope(path: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"user-agent", b"tests")],
        "client": ("127.0.0.1", 5000),
        "http_version": "1.1",
    }


def _requests(paths: list[str]) -> None:
    app = AccessLog(_answer)  # type: ignore[arg-type]

    async def run() -> None:
        async def send(message: object) -> None:
            pass

        for path in paths:
            await app(_scope(path), None, send)  # type: ignore[arg-type]

    asyncio.run(run())


def test_lines_are_logged_in_order_within_the_log_time(lines: Lines) -> None:
    _requests(["/one", "/two", "/three"])
    deadline = time.monotonic() + LOG_SECONDS + 10
    while len(lines.lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [line.split('"')[1] for line in lines.lines] == [
        "GET /one HTTP/1.1",
        "GET /two HTTP/1.1",
        "GET /three HTTP/1.1",
    ]
    assert all(' 200 5 "-" "tests" ' in line for line in lines.lines)


def test_write_noted_logs_what_is_held_at_once(lines: Lines) -> None:
    _requests(["/held"])
    write_noted()
    assert len(lines.lines) == 1 and "GET /held HTTP/1.1" in lines.lines[0]


def test_a_log_that_falls_behind_makes_requests_log_their_own(
    lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access_log, "BEHIND", 2)
    with access_log._draining:  # the writer is busy (a slow stream): nothing is drained
        _requests(["/a", "/b", "/c", "/d"])
        assert len(access_log._noted) == 2  # bounded
        assert [line.split('"')[1] for line in lines.lines] == [
            "GET /c HTTP/1.1",
            "GET /d HTTP/1.1",
        ]
    write_noted()
    assert len(lines.lines) == 4


def test_a_blocked_stream_holds_one_thread_and_bounded_memory(
    lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access_log, "BEHIND", 20)
    release = threading.Event()
    blocked = threading.Event()

    def stuck(record: logging.LogRecord) -> None:
        blocked.set()
        release.wait(30)
        lines.lines.append(record.getMessage())

    monkeypatch.setattr(lines, "emit", stuck)

    def others() -> int:  # threads that are not this test's requests
        return sum(not t.name.startswith("request ") for t in threading.enumerate())

    before = others()
    try:
        for number in range(10):
            _requests([f"/first{number}"])
        assert blocked.wait(10)  # the writer is stuck in the stream
        for number in range(30):
            if number < 15:
                time.sleep(LOG_SECONDS / 2)
            threading.Thread(
                target=_requests, args=([f"/more{number}"],), name=f"request {number}", daemon=True
            ).start()
        time.sleep(0.5)
        assert others() - before <= 1  # at most the writer, however many lines wait
        assert len(access_log._noted) <= 20
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while len(lines.lines) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    write_noted()
    assert len(lines.lines) == 40


def test_lines_stay_in_order_when_two_drains_meet(lines: Lines) -> None:
    slow = lines.emit

    def emit(record: logging.LogRecord) -> None:
        time.sleep(0.001)
        slow(record)

    lines.emit = emit  # type: ignore[method-assign]
    paths = [f"/n{number}" for number in range(200)]
    _requests(paths)
    time.sleep(LOG_SECONDS * 1.5)  # the writer is draining
    write_noted()  # waits for it, then drains the rest
    assert [line.split('"')[1].split()[1] for line in lines.lines] == paths
