"""Downloads: verified bytes with ETag and Range locally, presigned redirects on S3, 304
for a client that holds the current bytes, and the alias's choice for a key."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable

import httpx
import pytest

from tests.helpers import LocalBackend, S3Backend
from tests.server.conftest import Filled, Live, fill
from versioned.server import ServerSettings
from versioned.server.blobs import RECHECK_SECONDS

pytestmark = pytest.mark.timeout(120)

V1 = "/api/artifacts/model/versions/1/download"


def fetch(live: Live, path: str, **headers: str) -> httpx.Response:
    """GET ``path``; on S3 follow the redirect to the presigned URL (headers not forwarded)."""
    answer = live.client.get(path, headers=headers)
    if answer.status_code == 307:
        return httpx.get(answer.headers["location"], timeout=30)
    return answer


def test_download_gives_the_bytes_and_their_hash(live: Live, filled: Filled) -> None:
    answer = live.client.get(V1)
    assert answer.headers["etag"] == f'"{filled.v1.sha256}"'
    assert answer.headers["x-versioned-version"] == "1"
    got = fetch(live, V1)
    assert got.status_code == 200
    assert got.content == b"model one"
    assert hashlib.sha256(got.content).hexdigest() == filled.v1.sha256


def test_if_none_match_answers_304_without_content(live: Live, filled: Filled) -> None:
    etag = f'"{filled.v1.sha256}"'
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        answer = live.client.get(V1, headers={"If-None-Match": header})
        assert answer.status_code == 304, header
        assert answer.content == b""
        assert answer.headers["etag"] == etag
    assert live.client.get(V1, headers={"If-None-Match": '"old"'}).status_code in (200, 307)


def test_latest_download_follows_a_new_put(live: Live, filled: Filled) -> None:
    path = "/api/artifacts/model/versions/LATEST/download"
    etag = live.client.get(path).headers["etag"]
    filled.repo.put_artifact("model", b"fresh bytes")
    answer = live.client.get(path, headers={"If-None-Match": etag})
    assert answer.status_code in (200, 307)
    assert fetch(live, path).content == b"fresh bytes"


def test_alias_download_gives_the_keys_version(live: Live, filled: Filled) -> None:
    prod = filled.repo.get_alias("model", "prod")
    expected = {"1": b"model one", "2": b"model two two"}
    for n in range(20):
        key = f"host-{n}"
        path = f"/api/artifacts/model/aliases/prod/download?key={key}"
        answer = live.client.get(path)
        assert answer.headers["x-versioned-version"] == prod.route(key)
        assert fetch(live, path).content == expected[prod.route(key)]
        etag = answer.headers["etag"]
        assert live.client.get(path, headers={"If-None-Match": etag}).status_code == 304


def test_alias_download_without_a_key_draws_by_weight(live: Live) -> None:
    seen = {
        live.client.get("/api/artifacts/model/aliases/prod/download").headers["x-versioned-version"]
        for _ in range(60)
    }
    assert seen == {"1", "2"}  # 80/20: both appear in 60 draws (p of not: < 1e-5)


# --- local: streamed, verified, ranged ---------------------------------------------------


@pytest.fixture
def local_live(local_backend: LocalBackend, serve: Callable[..., Live]) -> tuple[Live, Filled]:
    filled = fill(local_backend.repo)
    return serve(filled.repo), filled


@pytest.mark.parametrize(
    ("range_header", "status", "content", "content_range"),
    [
        ("bytes=0-4", 206, b"model", "bytes 0-4/9"),
        ("bytes=6-", 206, b"one", "bytes 6-8/9"),
        ("bytes=-3", 206, b"one", "bytes 6-8/9"),
        ("bytes=6-100", 206, b"one", "bytes 6-8/9"),
        ("bytes=0-0", 206, b"m", "bytes 0-0/9"),
        ("bytes=0-1,4-5", 200, b"model one", None),  # several ranges: the whole content
        ("items=0-1", 200, b"model one", None),
        ("bytes=5-2", 200, b"model one", None),
    ],
)
def test_range_requests(
    local_live: tuple[Live, Filled],
    range_header: str,
    status: int,
    content: bytes,
    content_range: str | None,
) -> None:
    live, _ = local_live
    answer = live.client.get(V1, headers={"Range": range_header})
    assert answer.status_code == status
    assert answer.content == content
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["content-length"] == str(len(content))
    assert answer.headers.get("content-range") == content_range


@pytest.mark.parametrize("range_header", ["bytes=9-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_range_is_416(local_live: tuple[Live, Filled], range_header: str) -> None:
    live, _ = local_live
    answer = live.client.get(V1, headers={"Range": range_header})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == "bytes */9"
    assert answer.json()["error"]["kind"] == "RangeNotSatisfiable"


def test_if_range_with_another_etag_sends_everything(local_live: tuple[Live, Filled]) -> None:
    live, filled = local_live
    stale = live.client.get(V1, headers={"Range": "bytes=0-1", "If-Range": '"old"'})
    assert (stale.status_code, stale.content) == (200, b"model one")
    current = f'"{filled.v1.sha256}"'
    fresh = live.client.get(V1, headers={"Range": "bytes=0-1", "If-Range": current})
    assert (fresh.status_code, fresh.content) == (206, b"mo")


def test_head_sends_headers_only(local_live: tuple[Live, Filled]) -> None:
    live, filled = local_live
    answer = live.client.head(V1)
    assert answer.status_code == 200
    assert answer.content == b""
    assert answer.headers["content-length"] == "9"
    assert answer.headers["etag"] == f'"{filled.v1.sha256}"'
    assert answer.headers["content-type"] == "application/x-model"
    assert answer.headers["content-disposition"] == 'attachment; filename="model-v1"'


def test_large_content_streams_whole(
    local_backend: LocalBackend, serve: Callable[..., Live]
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    repo = local_backend.repo
    repo.put_artifact("big", data)
    repo.publish_artifact_version("big")
    live = serve(repo)
    answer = live.client.get("/api/artifacts/big/versions/1/download")
    assert answer.status_code == 200
    assert answer.content == data
    part = live.client.get(
        "/api/artifacts/big/versions/1/download", headers={"Range": "bytes=1048570-2097160"}
    )
    assert part.content == data[1048570:2097161]


def test_corrupted_bytes_are_refused_before_a_byte_is_sent(
    local_backend: LocalBackend, serve: Callable[..., Live]
) -> None:
    filled = fill(local_backend.repo)
    live = serve(filled.repo)
    assert live.client.get(V1).content == b"model one"  # checked once, kept
    local_backend.overwrite_stored(filled.v1, b"evil bytes")
    # the kept bytes (which hashed right) may go out until the file is due for another
    # look (RECHECK_SECONDS); the altered ones never do, and then the version is refused
    refused: set[str] = set()
    deadline = time.monotonic() + RECHECK_SECONDS + 10
    while len(refused) < 2 and time.monotonic() < deadline:
        for label, headers in (("whole", {}), ("range", {"Range": "bytes=0-3"})):
            answer = live.client.get(V1, headers=headers)
            if answer.status_code == 500:
                assert answer.json()["error"]["kind"] == "IntegrityError"
                refused.add(label)
            else:
                assert answer.status_code in (200, 206)
                assert answer.content in (b"model one", b"mode")
        time.sleep(0.05)
    assert refused == {"whole", "range"}


@pytest.mark.parametrize("writer", ["same repository", "another repository"])
def test_a_kept_record_is_dropped_by_any_write(
    local_backend: LocalBackend, serve: Callable[..., Live], writer: str
) -> None:
    filled = fill(local_backend.repo)
    filled.repo.put_artifact("model", b"model three")
    number = filled.repo.publish_artifact_version("model").version
    path = f"/api/artifacts/model/versions/{number}/download"
    live = serve(filled.repo)
    for _ in range(3):  # read once, then answered from the kept record and bytes
        assert live.client.get(path).content == b"model three"
    repo = filled.repo if writer == "same repository" else local_backend.new_repository()
    repo.delete_artifact_version("model", number)
    answer = live.client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"]["kind"] == "ArtifactNotFoundError"
    repo.restore_artifact_version("model", number)
    assert live.client.get(path).content == b"model three"


# --- S3: the bytes never pass through the server -------------------------------------------


def test_s3_download_redirects_to_a_short_lived_presigned_url(
    s3_backend: S3Backend, serve: Callable[..., Live]
) -> None:
    filled = fill(s3_backend.repo)
    live = serve(filled.repo, ServerSettings(presign_seconds=120))
    answer = live.client.get(V1)
    assert answer.status_code == 307
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["etag"] == f'"{filled.v1.sha256}"'
    location = httpx.URL(answer.headers["location"])
    assert location.host == "127.0.0.1"  # moto, on loopback
    assert location.params["X-Amz-Expires"] == "120"
    assert location.path.endswith("/model/000001")
    assert httpx.get(str(location), timeout=30).content == b"model one"
    alias = live.client.get("/api/artifacts/model/aliases/prod/download?key=k")
    assert alias.status_code == 307
