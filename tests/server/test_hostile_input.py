"""Requests built to break the server: numbers too large for any backend, a JSON body
nested past the parser's depth, keys that are not UTF-8. Each gets a clear 4xx, never a
500; and a local download of text keeps the content type exactly as stored."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import LocalBackend
from tests.server.conftest import TOKEN, Filled, Live
from versioned.server import ServerSettings

pytestmark = pytest.mark.timeout(120)

HUGE = str(10**30)
PROD = "/api/artifacts/model/aliases/prod"


@pytest.mark.parametrize(
    "path",
    [
        f"{PROD}/history?before_revision={HUGE}",
        f"/artifacts/model/aliases/prod?before_revision={HUGE}",
        "/api/artifacts/model/versions/100000000000000000000000",
        "/api/artifacts/model/versions/100000000000000000000000/download",
    ],
)
def test_numbers_too_large_are_refused(live: Live, path: str) -> None:
    answer = live.client.get(path)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["kind"] == "InvalidArgumentError"


@pytest.mark.parametrize(
    "header",
    ["bytes=0-99999999999999999999999", "bytes=99999999999999999999999-", "bytes=-1" + "0" * 5000],
)
def test_a_range_with_huge_numbers_is_answered(live: Live, filled: Filled, header: str) -> None:
    answer = live.client.get("/api/artifacts/model/versions/1/download", headers={"Range": header})
    assert answer.status_code in (200, 206, 307, 416), answer.text
    if answer.status_code in (200, 206):
        assert answer.content == b"model one"


def test_a_body_nested_too_deep_is_refused(live: Live, filled: Filled) -> None:
    answer = live.client.put(
        PROD,
        content=b"[" * 100_000,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["kind"] == "InvalidArgumentError"
    assert filled.repo.get_alias("model", "prod").revision == 3


@pytest.mark.parametrize("key", ["%FF", "%FE", "%C3", "ok%ED%A0%80"])
def test_a_key_that_is_not_utf8_is_refused(live: Live, key: str) -> None:
    for route in ("resolve", "download"):
        answer = live.client.get(f"{PROD}/{route}?key={key}")
        assert answer.status_code == 400, (route, answer.text)
        assert "UTF-8" in answer.json()["error"]["message"]
    good = live.client.get(f"{PROD}/resolve?key=%C3%A9")  # é, well formed
    assert (good.status_code, good.json()["key"]) == (200, "é")


@pytest.mark.parametrize("content_type", ["text/plain", "text/csv; header=present", "text/x-py"])
def test_local_text_downloads_keep_the_stored_content_type(
    local_backend: LocalBackend, serve: Callable[..., Live], content_type: str
) -> None:
    repo = local_backend.repo
    repo.put_artifact("notes", b"a,b\n", content_type=content_type)
    repo.publish_artifact_version("notes")
    live = serve(repo, ServerSettings())
    for version in ("1", "LATEST"):
        answer = live.client.get(f"/api/artifacts/notes/versions/{version}/download")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == content_type
        assert answer.content == b"a,b\n"
