"""The JSON API over HTTP, on both backends: every read endpoint, its status codes, its
ETag and 304, and the error bodies."""

from __future__ import annotations

import pytest

from tests.server.conftest import HOSTILE, Filled, Live

pytestmark = pytest.mark.timeout(120)


def test_healthz(live: Live) -> None:
    answer = live.client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_list_artifacts_shows_newest_version_and_aliases(live: Live, filled: Filled) -> None:
    answer = live.client.get("/api/artifacts")
    assert answer.status_code == 200
    by_name = {a["name"]: a for a in answer.json()["artifacts"]}
    assert sorted(by_name) == ["data", "model"]
    model = by_name["model"]
    assert model["newest_version"]["version"] == "3"
    assert model["newest_version"]["sha256"] == filled.v3.sha256
    assert model["latest"]["version"] == "LATEST"
    assert model["versions"] == 3
    [prod] = model["aliases"]
    assert prod["alias"] == "prod"
    assert prod["split"] == [{"version": "1", "percent": 80}, {"version": "2", "percent": 20}]
    assert by_name["data"]["aliases"] == []


def test_list_versions_with_aliases_and_metadata(live: Live, filled: Filled) -> None:
    answer = live.client.get("/api/artifacts/model/versions")
    assert answer.status_code == 200
    versions = {v["version"]: v for v in answer.json()["versions"]}
    assert list(versions) == ["LATEST", "3", "2", "1"]
    assert versions["1"]["aliases"] == ["prod"]
    assert versions["2"]["aliases"] == ["prod"]
    assert versions["3"]["aliases"] == []
    assert versions["3"]["metadata"] == {"note": HOSTILE, "git_sha": "1a2b3c"}
    assert versions["1"]["content_type"] == "application/x-model"
    assert versions["2"]["size"] == len(b"model two two")
    assert versions["1"]["download_url"] == "/api/artifacts/model/versions/1/download"


def test_soft_deleted_versions_only_on_request(live: Live, filled: Filled) -> None:
    filled.repo.delete_artifact_version("model", 3)
    shown = [
        v["version"] for v in live.client.get("/api/artifacts/model/versions").json()["versions"]
    ]
    assert shown == ["LATEST", "2", "1"]
    every = live.client.get("/api/artifacts/model/versions?include_deleted=true").json()
    deleted = {v["version"]: v["is_deleted"] for v in every["versions"]}
    assert deleted == {"LATEST": False, "3": True, "2": False, "1": False}


def test_one_version(live: Live, filled: Filled) -> None:
    answer = live.client.get("/api/artifacts/model/versions/2")
    assert answer.status_code == 200
    assert answer.json()["sha256"] == filled.v2.sha256
    assert live.client.get("/api/artifacts/model/versions/LATEST").json()["version"] == "LATEST"


def test_aliases_and_one_alias(live: Live) -> None:
    listed = live.client.get("/api/artifacts/model/aliases").json()
    assert [a["alias"] for a in listed["aliases"]] == ["prod"]
    prod = live.client.get("/api/artifacts/model/aliases/prod").json()
    assert prod["revision"] == 3
    assert (prod["version"], prod["secondary_version"], prod["secondary_version_weight"]) == (
        "1",
        "2",
        20,
    )


def test_alias_history_newest_first_and_paged(live: Live) -> None:
    page = live.client.get("/api/artifacts/model/aliases/prod/history").json()
    changes = page["changes"]
    assert [c["revision"] for c in changes] == [3, 2, 1]
    assert page["next_before_revision"] is None
    assert changes[0]["reason"] == "canary of v2"
    assert changes[0]["before"] == {
        "version": "3",
        "secondary_version": None,
        "secondary_version_weight": None,
    }
    assert changes[0]["after"]["secondary_version_weight"] == 20
    assert changes[2]["before"] is None
    assert changes[1]["reason"] == f"try v3 {HOSTILE}"
    assert all(c["action"] == "set" and c["who"] for c in changes)
    first = live.client.get("/api/artifacts/model/aliases/prod/history?limit=2").json()
    assert [c["revision"] for c in first["changes"]] == [3, 2]
    assert first["next_before_revision"] == 2
    rest = live.client.get("/api/artifacts/model/aliases/prod/history?limit=2&before_revision=2")
    assert [c["revision"] for c in rest.json()["changes"]] == [1]


def test_resolve_is_sticky_and_carries_hash_and_link(live: Live, filled: Filled) -> None:
    prod = filled.repo.get_alias("model", "prod")
    picked = {}
    for n in range(200):
        key = f"user-{n}"
        answer = live.client.get(f"/api/artifacts/model/aliases/prod/resolve?key={key}")
        assert answer.status_code == 200
        body = answer.json()
        assert body["version"] == prod.route(key)
        assert body["key"] == key
        assert body["revision"] == 3
        assert body["stale"] is False
        assert body["sha256"] == {"1": filled.v1.sha256, "2": filled.v2.sha256}[body["version"]]
        assert (
            body["download_url"]
            == f"{live.url}api/artifacts/model/versions/{body['version']}/download"
        )
        picked[key] = body["version"]
    again = live.client.get("/api/artifacts/model/aliases/prod/resolve?key=user-7").json()
    assert again["version"] == picked["user-7"]
    share = sum(v == "2" for v in picked.values()) / len(picked)
    assert 0.08 < share < 0.35  # 20 % by weight, over 200 keys


def test_resolve_of_latest_gives_the_current_hash(live: Live, filled: Filled) -> None:
    filled.repo.put_alias("model", "edge")  # LATEST
    body = live.client.get("/api/artifacts/model/aliases/edge/resolve?key=k").json()
    assert body["version"] == "LATEST"
    assert body["sha256"] == filled.repo.get_artifact_version("model").sha256


def test_every_get_answers_304_to_its_etag(live: Live) -> None:
    for path in (
        "/api/artifacts",
        "/api/artifacts/model/versions",
        "/api/artifacts/model/versions/1",
        "/api/artifacts/model/aliases",
        "/api/artifacts/model/aliases/prod",
        "/api/artifacts/model/aliases/prod/history",
        "/api/artifacts/model/aliases/prod/resolve?key=k",
        "/healthz",
    ):
        first = live.client.get(path)
        etag = first.headers["etag"]
        again = live.client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        other = live.client.get(path, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200, path


def test_etag_changes_when_the_alias_moves(live: Live, filled: Filled) -> None:
    before = live.client.get("/api/artifacts/model/aliases/prod").headers["etag"]
    filled.repo.put_alias("model", "prod", 2)
    answer = live.client.get("/api/artifacts/model/aliases/prod", headers={"If-None-Match": before})
    assert answer.status_code == 200
    assert answer.json()["version"] == "2"


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/api/artifacts/nothing/versions", 404, "ArtifactNotFoundError"),
        ("/api/artifacts/model/versions/99", 404, "ArtifactNotFoundError"),
        ("/api/artifacts/model/versions/99/download", 404, "ArtifactNotFoundError"),
        ("/api/artifacts/model/aliases/nope", 404, "AliasNotFoundError"),
        ("/api/artifacts/model/aliases/nope/resolve?key=k", 404, "AliasNotFoundError"),
        ("/api/artifacts/model/aliases/nope/download", 404, "AliasNotFoundError"),
        ("/api/artifacts/model/versions/two", 400, "InvalidArgumentError"),
        ("/api/artifacts/bad name!/versions", 400, "InvalidArgumentError"),
        ("/api/artifacts/model/aliases/bad-alias", 400, "InvalidArgumentError"),
        ("/api/artifacts/model/aliases/prod/history?limit=0", 400, "InvalidArgumentError"),
        (
            "/api/artifacts/model/aliases/prod/history?before_revision=x",
            400,
            "InvalidArgumentError",
        ),
        ("/api/no/such/route", 404, "NotFound"),
    ],
)
def test_errors_are_json_with_the_library_kinds(
    live: Live, path: str, status: int, kind: str
) -> None:
    answer = live.client.get(path)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["kind"] == kind
    assert error["status"] == status
    assert error["message"]


def test_method_not_allowed_is_json(live: Live) -> None:
    answer = live.client.delete("/api/artifacts/model/versions")
    assert answer.status_code == 405
    assert answer.json()["error"]["kind"] == "MethodNotAllowed"


def test_the_artifact_that_does_not_exist_has_no_aliases_either(live: Live) -> None:
    answer = live.client.get("/api/artifacts/nothing/aliases")
    assert answer.status_code == 200
    assert answer.json() == {"name": "nothing", "aliases": []}
