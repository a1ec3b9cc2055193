"""No URL reaches a file outside the repository, user text is escaped on the page, pages
forbid scripts, and the OpenAPI description matches the routes."""

from __future__ import annotations

import re
import socket

import pytest

from tests.server.conftest import Filled, Live
from versioned.server.app import routes
from versioned.server.openapi import document

pytestmark = pytest.mark.timeout(120)

TRAVERSALS = [
    "/static/../pyproject.toml",
    "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2f..%2f..%2fpyproject.toml",
    "/static/..%5c..%5capp.py",
    "/static/%2e%2e%2fapp.py",
    "/static//etc/passwd",
    "/api/artifacts/..%2f..%2fetc/versions/1/download",
    "/api/artifacts/%2e%2e/versions/1/download",
    "/api/artifacts/../versions/1/download",
    "/api/artifacts/model/versions/..%2f..%2f..%2fetc%2fpasswd/download",
    "/api/artifacts/model/versions/%2e%2e/download",
    "/api/artifacts/model/versions/1%00/download",
    "/artifacts/..%2f..%2fetc%2fpasswd",
]


def raw_get(live: Live, target: str) -> tuple[int, bytes]:
    """Send ``target`` byte for byte (HTTP clients normalise dot segments away)."""
    host, port = live.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("target", TRAVERSALS)
def test_no_url_reaches_outside_the_repository(live: Live, target: str) -> None:
    status, body = raw_get(live, target)
    assert status in (400, 404), (target, status, body[:200])
    assert b"[project]" not in body
    assert b"root:" not in body
    assert b"import" not in body


def test_static_css_is_served(live: Live) -> None:
    answer = live.client.get("/static/style.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")


def test_hostile_text_is_escaped_on_every_page(live: Live, filled: Filled) -> None:
    for path in ("/", "/artifacts/model", "/artifacts/model/aliases/prod"):
        page = live.client.get(path)
        assert page.status_code == 200
        assert "<script" not in page.text.lower(), path
    versions = live.client.get("/artifacts/model").text
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in versions
    history = live.client.get("/artifacts/model/aliases/prod").text
    assert "try v3 &lt;script&gt;" in history


def test_pages_forbid_scripts(live: Live) -> None:
    policy = live.client.get("/").headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # none allowed: default-src 'none' covers them


def test_page_errors_are_pages_for_browsers_and_json_for_clients(live: Live) -> None:
    browser = live.client.get("/artifacts/nothing", headers={"Accept": "text/html"})
    assert browser.status_code == 404
    assert browser.headers["content-type"].startswith("text/html")
    assert "ArtifactNotFoundError" in browser.text
    hostile = live.client.get(
        "/artifacts/model/aliases/%3Cscript%3E", headers={"Accept": "text/html"}
    )
    assert hostile.status_code == 400
    assert "<script" not in hostile.text.lower()
    client = live.client.get("/artifacts/nothing")
    assert client.json()["error"]["kind"] == "ArtifactNotFoundError"


def test_soft_deleted_versions_on_request_on_the_page(live: Live, filled: Filled) -> None:
    filled.repo.delete_artifact_version("model", 3)
    assert 'data-version="3"' not in live.client.get("/artifacts/model").text
    shown = live.client.get("/artifacts/model?deleted=1").text
    assert re.search(r'class="version deleted" data-version="3"', shown)


def test_the_openapi_description_matches_the_routes(live: Live) -> None:
    served = live.client.get("/openapi.json").json()
    assert served == document()
    assert served["openapi"].startswith("3.")
    described = {
        (path, method.upper())
        for path, item in served["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete")
    }
    api_routes = {
        (route.path, method)
        for route in routes()
        if getattr(route, "methods", None) and route.path.startswith(("/api", "/healthz"))
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert described == api_routes
