"""Fixtures for the server tests: a repository filled with artifacts, aliases and history,
and the app served by uvicorn on a free loopback port in a thread of the test process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from tests.helpers import Repository
from versioned.server import ServerSettings, create_app
from versioned.server.run import bind, url_of

HOSTILE = '<script>document.title="pwned"</script>'
TOKEN = "s3cret-token"


@dataclass
class Filled:
    """What :func:`fill` put in the repository."""

    repo: Repository
    v1: Any
    v2: Any
    v3: Any


def fill(repo: Repository) -> Filled:
    """``model`` v1-v3 (v3 with hostile metadata), ``prod`` at 1 (80%) + 2 (20%) after a
    history of three changes, ``data`` with one version and no alias."""
    v1 = repo.put_artifact("model", b"model one", content_type="application/x-model")
    v1 = repo.publish_artifact_version("model")
    repo.put_artifact("model", b"model two two")
    v2 = repo.publish_artifact_version("model")
    repo.put_artifact("model", b"model three", metadata={"note": HOSTILE, "git_sha": "1a2b3c"})
    v3 = repo.publish_artifact_version("model")
    repo.put_alias("model", "prod", 1, reason="first release")
    repo.put_alias("model", "prod", 3, expected_revision=1, reason=f"try v3 {HOSTILE}")
    repo.put_alias("model", "prod", 1, 2, 20, expected_revision=2, reason="canary of v2")
    repo.put_artifact("data", b"rows")
    repo.publish_artifact_version("data")
    return Filled(repo, v1, v2, v3)


class Live:
    """A running server: ``url`` and an httpx client on it."""

    def __init__(self, url: str, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
        self._server = server
        self._thread = thread

    def stop(self) -> None:
        self.client.close()
        self._server.should_exit = True
        self._thread.join(timeout=30)


def start(repo: Repository, settings: ServerSettings | None = None) -> Live:
    """Serve ``repo`` with uvicorn on a free loopback port (in a thread)."""
    sock = bind("127.0.0.1", 0)
    app = create_app(repo, settings or ServerSettings())
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    return Live(url_of(sock), server, thread)


@pytest.fixture
def serve() -> Iterator[Callable[..., Live]]:
    """``serve(repo, settings=None)``: a live server, stopped after the test."""
    running: list[Live] = []

    def make(repo: Repository, settings: ServerSettings | None = None) -> Live:
        live = start(repo, settings)
        running.append(live)
        return live

    yield make
    for live in running:
        live.stop()


@pytest.fixture
def filled(repo: Repository) -> Filled:
    return fill(repo)


@pytest.fixture
def live(filled: Filled, serve: Callable[..., Live]) -> Live:
    """The filled repository served with the token ``TOKEN``."""
    return serve(filled.repo, ServerSettings(token=TOKEN))
