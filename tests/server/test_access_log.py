"""The access log (:mod:`versioned.server.access_log`): a request notes its line and the
writer thread logs it within LOG_SECONDS, in the order requests ended; a log that falls
BEHIND makes requests log their own lines; :func:`write_noted` logs what is held at once."""

from __future__ import annotations

import asyncio
import logging
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
    monkeypatch.setattr(access_log, "LOG_SECONDS", 60)  # the writer stays away
    write_noted()
    _requests(["/a", "/b", "/c", "/d"])
    assert len(access_log._noted) == 2  # bounded
    assert [line.split('"')[1] for line in lines.lines] == ["GET /c HTTP/1.1", "GET /d HTTP/1.1"]
    write_noted()
    assert len(lines.lines) == 4
