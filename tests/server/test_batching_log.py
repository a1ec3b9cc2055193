"""The access log's :class:`BatchingHandler`: lines are written in batches, in order,
within ``flush_seconds``; a warning goes out at once, after the lines before it; nothing
is lost at close."""

from __future__ import annotations

import io
import logging
import time

import pytest

from versioned.server.access_log import BATCH_LINES, BatchingHandler

pytestmark = pytest.mark.timeout(60)


def _logger(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(f"tests.batching.{name}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def test_lines_are_written_together_within_the_flush_time() -> None:
    stream = io.StringIO()
    handler = BatchingHandler(stream, flush_seconds=0.2)
    logger = _logger(handler, "timed")
    logger.info("one")
    logger.info("two %s", "and more")
    assert stream.getvalue() == ""  # held for the batch
    deadline = time.monotonic() + 10
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "one\ntwo and more\n"
    handler.close()


def test_a_warning_is_written_at_once_after_the_lines_before_it() -> None:
    stream = io.StringIO()
    handler = BatchingHandler(stream, flush_seconds=60)
    logger = _logger(handler, "warning")
    logger.info("request")
    logger.warning("trouble")
    assert stream.getvalue() == "request\ntrouble\n"
    handler.close()


def test_a_full_batch_is_written_at_once() -> None:
    stream = io.StringIO()
    handler = BatchingHandler(stream, flush_seconds=60)
    logger = _logger(handler, "full")
    for number in range(BATCH_LINES):
        logger.info("line %d", number)
    assert stream.getvalue().count("\n") == BATCH_LINES
    handler.close()


def test_close_writes_what_is_held() -> None:
    stream = io.StringIO()
    handler = BatchingHandler(stream, flush_seconds=60)
    _logger(handler, "close").info("last words")
    handler.close()
    assert stream.getvalue() == "last words\n"


def test_a_formatter_is_used_when_set() -> None:
    stream = io.StringIO()
    handler = BatchingHandler(stream, flush_seconds=60)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    _logger(handler, "formatted").info("hello")
    handler.flush()
    assert stream.getvalue() == "[INFO] hello\n"
    handler.close()
