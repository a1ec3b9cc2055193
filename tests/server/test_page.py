"""The page's contents over HTTP (the browser tests check the layout): the target
notation shared with the CLI, times marked UTC, a page per version, error pages inside
the layout with a way back, and download names that keep the repository's suffix."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from html import unescape
from pathlib import Path

import httpx
import pytest

from tests.helpers import LocalBackend, S3Backend
from tests.server.conftest import Filled, Live, fill

pytestmark = pytest.mark.timeout(120)

HTML = {"Accept": "text/html"}


@pytest.fixture
def site(local_backend: LocalBackend, serve: Callable[..., Live]) -> tuple[Live, Filled]:
    """The filled local repository, served read-only."""
    filled = fill(local_backend.repo)
    return serve(filled.repo), filled


def page(live: Live, path: str, status: int = 200) -> str:
    answer = live.client.get(path, headers=HTML)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def commands(html: str) -> list[list[str]]:
    return [
        shlex.split(unescape(c))
        for c in re.findall(r'<code class="command">(.*?)</code>', html, re.S)
    ]


# --- one notation (issue 17, item 7) ----------------------------------------------------


def test_splits_are_written_as_the_cli_writes_them(site: tuple[Live, Filled]) -> None:
    live, _ = site
    overview = text_of(page(live, "/"))
    assert "1 (80%) + 2 (20%)" in overview
    assert "80 % v1" not in overview
    history = text_of(page(live, "/artifacts/model/aliases/prod"))
    assert "3 → 1 (80%) + 2 (20%)" in history
    assert "1 → 3" in history
    assert "- → 1" in history  # the alias did not exist before revision 1


# --- times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/artifacts/model", "/artifacts/model/aliases/prod"],
)
def test_every_time_shown_is_marked_utc(site: tuple[Live, Filled], path: str) -> None:
    live, _ = site
    html = page(live, path)
    shown = re.findall(r'<time datetime="([^"]+)">([^<]*)</time>', html)
    assert shown, "no time on the page"
    for iso, text in shown:
        assert iso.endswith("+00:00")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text), text


# --- a page per version -------------------------------------------------------------


def test_a_version_has_a_page_linked_from_the_versions_table(site: tuple[Live, Filled]) -> None:
    live, filled = site
    assert 'href="/artifacts/model/versions/1"' in page(live, "/artifacts/model")
    html = page(live, "/artifacts/model/versions/1")
    text = text_of(html)
    assert filled.v1.sha256 in text  # in full, not a prefix
    assert "9 B" in text and "application/x-model" in text
    assert re.search(r'<li class="alias"[^>]*data-alias="prod"', html)  # prod serves it
    assert 'href="/artifacts/model/aliases/prod"' in html
    assert 'href="/api/artifacts/model/versions/1/download"' in html
    assert 'href="/artifacts/model"' in html  # back to the artifact
    assert "deleted" not in text.lower()


def test_a_version_page_shows_metadata_as_text(site: tuple[Live, Filled]) -> None:
    live, _ = site
    html = page(live, "/artifacts/model/versions/3")
    assert "<script>" not in html
    assert "<dt>git_sha</dt><dd>1a2b3c</dd>" in html
    assert "No alias points at v3" in text_of(html)


def test_latest_has_a_page_too(site: tuple[Live, Filled]) -> None:
    live, filled = site
    filled.repo.put_artifact("model", b"next")
    text = text_of(page(live, "/artifacts/model/versions/LATEST"))
    assert "LATEST" in text
    assert filled.repo.get_artifact_version("model").sha256 in text


def test_a_deleted_version_says_so_and_how_to_restore_it(site: tuple[Live, Filled]) -> None:
    live, filled = site
    filled.repo.delete_artifact_version("model", 3)
    html = page(live, "/artifacts/model/versions/3")
    assert "This version is deleted" in text_of(html)
    assert "/download" not in html  # nothing to download
    assert commands(html) == [
        ["versioned", "--repo", filled.repo.uri, "restore", "model", "--version", "3"]
    ]
    # the versions table with deleted ones links to it too
    assert 'href="/artifacts/model/versions/3"' in page(live, "/artifacts/model?deleted=1")


def test_a_version_that_never_existed_is_a_404_page_back_to_its_artifact(
    site: tuple[Live, Filled],
) -> None:
    live, _ = site
    html = page(live, "/artifacts/model/versions/42", 404)
    assert 'class="top"' in html
    assert 'href="/artifacts/model"' in html
    assert 'href="/"' in html


def test_the_version_page_is_not_an_api_route(site: tuple[Live, Filled]) -> None:
    live, _ = site
    paths = live.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith("/api/") and p != "/healthz"]


def test_the_version_page_marks_its_time_utc(site: tuple[Live, Filled]) -> None:
    test_every_time_shown_is_marked_utc(site, "/artifacts/model/versions/1")


# --- error pages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "back"),
    [
        ("/artifacts/nothing", 404, None),  # the artifact itself is missing: the overview
        ("/artifacts/model/aliases/never", 404, "/artifacts/model"),
        ("/artifacts/model/aliases/prod?before_revision=x", 400, "/artifacts/model"),
        ("/artifacts/model/aliases/no-such!alias", 400, "/artifacts/model"),
        ("/artifacts/bad!name/aliases/prod", 400, None),
        ("/no/such/page", 404, None),
        ("/?limit=0", 400, None),
    ],
)
def test_error_pages_keep_the_header_and_a_way_back(
    site: tuple[Live, Filled], path: str, status: int, back: str | None
) -> None:
    live, filled = site
    html = page(live, path, status)
    assert '<header class="top">' in html
    assert unescape(re.search(r'<span class="repo"[^>]*>(.*?)</span>', html).group(1)) == (  # type: ignore[union-attr]
        filled.repo.uri
    )
    links = re.findall(r"<main>.*?</main>", html, re.S)[0]
    assert 'href="/"' in links
    if back is None:
        assert 'href="/artifacts/' not in links
    else:
        assert f'href="{back}"' in links


def test_api_errors_stay_json(site: tuple[Live, Filled]) -> None:
    live, _ = site
    answer = live.client.get("/api/artifacts/model/versions/42", headers=HTML)
    assert answer.status_code == 404
    assert answer.json()["error"]["kind"] == "ArtifactNotFoundError"


# --- download names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "suffix", "expected"),
    [
        ("model", "6", "", "model-v6"),
        ("model", "6", ".zip", "model-v6.zip"),
        ("model", "LATEST", ".zip", "model-LATEST.zip"),
        ("model", "LATEST", "", "model-LATEST"),
        ("webapp-build.zip", "3", ".zip", "webapp-build-v3.zip"),
        ("webapp-build.zip", "3", "", "webapp-build.zip-v3"),
        ("backup.tar.gz", "2", ".tar.gz", "backup-v2.tar.gz"),
        (".zip", "1", ".zip", ".zip-v1.zip"),  # nothing would be left of the name
    ],
)
def test_download_names(name: str, version: str, suffix: str, expected: str) -> None:
    from versioned.server.views import download_name

    assert download_name(name, version, suffix) == expected


def test_a_local_download_is_named_with_the_repositorys_suffix(
    tmp_path: Path, serve: Callable[..., Live]
) -> None:
    backend = LocalBackend(tmp_path / "zipped", suffix=".zip")
    repo = backend.repo
    repo.put_artifact("webapp-build.zip", b"PK")
    repo.publish_artifact_version("webapp-build.zip")
    repo.put_artifact("model", b"weights")
    repo.publish_artifact_version("model")
    live = serve(repo)
    for path, expected in [
        ("/api/artifacts/model/versions/1/download", "model-v1.zip"),
        ("/api/artifacts/model/versions/LATEST/download", "model-LATEST.zip"),
        ("/api/artifacts/webapp-build.zip/versions/1/download", "webapp-build-v1.zip"),
    ]:
        answer = live.client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-disposition"] == f'attachment; filename="{expected}"'


def test_an_s3_download_link_names_the_file_too(
    make_s3_backend: Callable[..., S3Backend], serve: Callable[..., Live]
) -> None:
    repo = make_s3_backend(suffix=".zip").repo
    repo.put_artifact("model", b"weights")
    repo.publish_artifact_version("model")
    live = serve(repo)
    answer = live.client.get("/api/artifacts/model/versions/1/download")
    assert answer.status_code == 307
    location = httpx.URL(answer.headers["location"])
    expected = 'attachment; filename="model-v1.zip"'
    assert location.params["response-content-disposition"] == expected
    fetched = httpx.get(str(location), timeout=30)
    assert fetched.content == b"weights"
    assert fetched.headers["content-disposition"] == expected
