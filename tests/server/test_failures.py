"""When the backend fails: the statuses of server-side errors, and resolve answering from
the resolver's cache (one backend read per TTL; the last good answer, marked stale, while
the backend is down)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import LocalBackend
from tests.server.conftest import Live, fill
from versioned import exc
from versioned.server import ServerSettings

pytestmark = pytest.mark.timeout(120)

RESOLVE = "/api/artifacts/model/aliases/prod/resolve?key=k"


def failing(error: Exception) -> Callable[..., Any]:
    def fail(*args: object, **kwargs: object) -> Any:
        raise error

    return fail


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (exc.BackendError("DynamoDB said no"), 502, "BackendError"),
        (exc.RepositoryNotReadyError("no table"), 503, "RepositoryNotReadyError"),
        (exc.ConcurrentWriteError("taken over"), 503, "ConcurrentWriteError"),
        (RuntimeError("a bug, with a secret path /etc/x"), 500, "InternalError"),
    ],
)
def test_server_side_failures(
    local_backend: LocalBackend,
    serve: Callable[..., Live],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    kind: str,
) -> None:
    repo = fill(local_backend.repo).repo
    live = serve(repo)
    monkeypatch.setattr(repo, "list_artifact_names", failing(error))
    answer = live.client.get("/api/artifacts")
    assert answer.status_code == status
    body = answer.json()["error"]
    assert body["kind"] == kind
    if status == 503:
        assert answer.headers["retry-after"] == "1"
    if kind == "InternalError":
        assert "secret" not in answer.text  # the log has it, the client does not
        assert "Traceback" not in answer.text


def test_resolve_reads_the_alias_once_per_ttl(
    local_backend: LocalBackend, serve: Callable[..., Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = fill(local_backend.repo).repo
    reads = []
    real = repo.get_alias

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(repo, "get_alias", counted)
    live = serve(repo, ServerSettings(resolver_ttl_seconds=60.0))
    for n in range(50):
        assert (
            live.client.get(f"/api/artifacts/model/aliases/prod/resolve?key=u{n}").status_code
            == 200
        )
        download = live.client.get(f"/api/artifacts/model/aliases/prod/download?key=u{n}")
        assert download.status_code == 200
    assert len(reads) == 1


def test_resolve_serves_the_last_good_answer_while_the_backend_fails(
    local_backend: LocalBackend, serve: Callable[..., Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = fill(local_backend.repo).repo
    live = serve(repo, ServerSettings(resolver_ttl_seconds=0.05))
    good = live.client.get(RESOLVE).json()
    assert good["stale"] is False
    monkeypatch.setattr(repo, "get_alias", failing(exc.BackendError("DynamoDB is down")))
    time.sleep(0.2)
    answer = live.client.get(RESOLVE)
    assert answer.status_code == 200
    stale = answer.json()
    assert stale["stale"] is True
    assert stale["version"] == good["version"]
    # the direct read (not cached) says what is wrong
    direct = live.client.get("/api/artifacts/model/aliases/prod")
    assert (direct.status_code, direct.json()["error"]["kind"]) == (502, "BackendError")


def test_a_moved_alias_shows_in_resolve_after_the_ttl(
    local_backend: LocalBackend, serve: Callable[..., Live]
) -> None:
    repo = fill(local_backend.repo).repo
    live = serve(repo, ServerSettings(resolver_ttl_seconds=0.2))
    assert live.client.get(RESOLVE).json()["revision"] == 3
    repo.put_alias("model", "prod", 3)
    deadline = time.monotonic() + 10
    while live.client.get(RESOLVE).json()["revision"] != 4:
        assert time.monotonic() < deadline, "resolve never saw the change"
        time.sleep(0.05)
    assert live.client.get(RESOLVE).json()["version"] == "3"
