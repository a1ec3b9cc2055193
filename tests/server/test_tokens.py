"""Named tokens: each write is recorded in the alias history as made by its token's name
(``token:NAME``), tokens are compared in constant time against every one, and a tokens
file whose tokens could never match is refused at start-up, naming the line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import versioned
from tests.cli.conftest import child_environment, versioned_command
from tests.helpers import LocalBackend
from tests.server.conftest import Filled, Live, fill
from versioned.exc import InvalidArgumentError
from versioned.server import ServerSettings, auth
from versioned.server.tokens import DEFAULT_NAME, read_tokens_file

pytestmark = pytest.mark.timeout(180)

PROD = "/api/artifacts/model/aliases/prod"
NAMED = (("alice", "tok-alice-1"), ("bob", "tok-bob-2"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_change_records_the_name_of_its_token(filled: Filled, serve: Callable[..., Live]) -> None:
    live = serve(filled.repo, ServerSettings(tokens=NAMED))
    moved = live.client.put(
        PROD, json={"version": 3, "expected_revision": 3}, headers=bearer("tok-alice-1")
    )
    assert moved.status_code == 200, moved.text
    back = live.client.put(
        PROD, json={"version": 1, "expected_revision": 4}, headers=bearer("tok-bob-2")
    )
    assert back.status_code == 200, back.text
    history = live.client.get(f"{PROD}/history").json()["changes"]
    assert [c["who"] for c in history[:2]] == ["token:bob", "token:alice"]
    assert filled.repo.list_alias_history("model", "prod", limit=1)[0].who == "token:bob"
    # outside a request the library records its own identity
    filled.repo.put_alias("model", "prod", 2, expected_revision=5)
    assert not filled.repo.list_alias_history("model", "prod", limit=1)[0].who.startswith("token:")


def test_a_rollback_through_the_api_records_its_token(
    filled: Filled, serve: Callable[..., Live]
) -> None:
    live = serve(filled.repo, ServerSettings(tokens=NAMED))
    at = filled.repo.get_alias("model", "prod").revision
    moved = live.client.put(
        PROD, json={"version": 3, "expected_revision": at}, headers=bearer("tok-alice-1")
    )
    assert moved.status_code == 200, moved.text
    back = live.client.post(
        f"{PROD}/rollback", json={"expected_revision": at + 1}, headers=bearer("tok-bob-2")
    )
    assert back.status_code == 200, back.text
    assert back.json()["revision"] == at + 2
    newest = filled.repo.list_alias_history("model", "prod", limit=1)[0]
    assert (newest.action, newest.who) == ("rollback", "token:bob")


def test_the_single_token_has_the_default_name(filled: Filled, serve: Callable[..., Live]) -> None:
    live = serve(filled.repo, ServerSettings(token="only-one", tokens=NAMED))
    for token in ("only-one", "tok-alice-1"):
        revision = filled.repo.get_alias("model", "prod").revision
        answer = live.client.put(
            PROD, json={"version": 3, "expected_revision": revision}, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.text
    whos = [c.who for c in filled.repo.list_alias_history("model", "prod", limit=2)]
    assert whos == ["token:alice", f"token:{DEFAULT_NAME}"]
    wrong = live.client.put(PROD, json={"version": 1, "expected_revision": 5}, headers=bearer("x"))
    assert wrong.status_code == 401


def test_every_token_is_compared(
    filled: Filled, serve: Callable[..., Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[bytes] = []
    real = auth.hmac.compare_digest

    def counted(a: Any, b: Any) -> bool:
        compared.append(b)
        return bool(real(a, b))

    monkeypatch.setattr(auth.hmac, "compare_digest", counted)
    live = serve(filled.repo, ServerSettings(tokens=NAMED))
    for token in ("tok-alice-1", "tok-bob-2", "nobody"):
        compared.clear()
        live.client.put(PROD, json={"version": 9, "expected_revision": 0}, headers=bearer(token))
        # the first token matching or not, every token is compared: no early exit
        assert sorted(compared) == [b"tok-alice-1", b"tok-bob-2"]


def test_acting_as_names_who_made_a_library_change(filled: Filled) -> None:
    repo = filled.repo
    with versioned.acting_as("ci:deploy-42"):
        repo.put_alias("model", "prod", 3, expected_revision=3)
    repo.put_alias("model", "prod", 2, expected_revision=4)
    first, second = reversed(repo.list_alias_history("model", "prod", limit=2))
    assert first.who == "ci:deploy-42"
    assert second.who != "ci:deploy-42"
    for bad in ("", " padded", "two\nlines", 42):
        with pytest.raises((InvalidArgumentError, TypeError)), versioned.acting_as(bad):  # type: ignore[arg-type]
            pass


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokens"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_tokens_file_names_each_token(tmp_path: Path) -> None:
    path = write(
        tmp_path, "# deployers\n\nalice tok-alice-1\n  # indented comment\nbob tok-bob-2\n"
    )
    assert read_tokens_file(path) == NAMED


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("alice tok-1 \n", 1, "whitespace"),
        ("alice\ttok-1\n", 1, "NAME TOKEN"),
        ("alice  tok-1\n", 1, "whitespace"),
        ("# c\nalice tök-1\n", 2, "ASCII"),
        ("alice\n", 1, "NAME TOKEN"),
        ("alice \n", 1, "empty"),
        ("alice tok-1\nalice tok-2\n", 2, "name 'alice'"),
        ("alice tok-1\nbob tok-1\n", 2, "same token"),
        ("al ice tok-1\n", 1, "whitespace"),
        ("al/ice tok-1\n", 1, "name"),
        ("# nothing\n", 1, "no token"),
    ],
)
def test_a_tokens_file_that_could_never_match_is_refused(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidArgumentError) as info:
        read_tokens_file(path)
    message = str(info.value)
    assert f"{path} line {line}" in message or "no token" in message
    assert says in message
    assert "\n" not in message


@pytest.mark.parametrize("token", [" padded", "padded ", "tök", "", "two words"])
def test_a_single_token_that_could_never_match_is_refused(
    filled: Filled, serve: Callable[..., Live], token: str
) -> None:
    with pytest.raises(InvalidArgumentError, match="token"):
        serve(filled.repo, ServerSettings(token=token))


def test_serve_refuses_a_bad_tokens_file_naming_the_line(
    local_backend: LocalBackend, tmp_path: Path
) -> None:
    fill(local_backend.repo)
    path = write(tmp_path, "alice tok-1\nbob tok-1\n")
    done = subprocess.run(
        [
            versioned_command(),
            "--repo",
            local_backend.uri,
            "serve",
            "--port",
            "0",
            "--tokens-file",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=child_environment({"VERSIONED_SERVER_TOKEN": ""}),
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert f"{path} line 2" in done.stderr and "same token" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
