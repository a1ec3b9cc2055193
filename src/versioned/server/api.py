"""The JSON API's routes (downloads are in :mod:`.downloads`).

Every answer carries an ``ETag`` (the SHA-256 of its body) and ``Cache-Control:
no-cache``; a GET whose ``If-None-Match`` names the current ETag gets 304 with no body.
Writes (``PUT`` an alias, ``POST`` a rollback) need the server's token (see :mod:`.auth`)
and are compare-and-set: ``expected_revision`` is required, so a deploy script never
overwrites a change it has not seen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import __version__
from ..acting import acting_as
from ..exc import InvalidArgumentError
from . import catalog
from .auth import require_writer
from .conditional import etag_of_body, matches, not_modified
from .query import ARTIFACT_PAGE, HISTORY_PAGE, flag, page_size, path_version, text, whole_number
from .resolve import choose
from .state import state_of
from .tokens import WHO_PREFIX
from .views import alias_json, artifact_json, download_path

T = TypeVar("T")


def answer(request: Request, data: object, status: int = 200) -> Response:
    """``data`` as JSON with its ETag; 304 when the client already holds it."""
    content = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    etag = etag_of_body(content)
    headers = {"Cache-Control": "no-cache"}
    if status == 200 and request.method in ("GET", "HEAD") and matches(request, etag):
        return not_modified(etag, headers)
    return Response(content, status, {**headers, "ETag": etag}, "application/json")


async def healthz(request: Request) -> Response:
    """``GET /healthz``: the process answers (it does not call the backend, nor need a
    worker thread: it answers while every thread is busy)."""
    return answer(request, {"status": "ok", "version": __version__})


def list_artifacts(request: Request) -> Response:
    """``GET /api/artifacts[?limit=N&after=NAME]``: a page of artifacts with their newest
    version and aliases, and ``next_after`` for the next page."""
    limit = page_size(request, ARTIFACT_PAGE)
    found = catalog.overview(state_of(request).repo, limit, request.query_params.get("after"))
    return answer(request, found)


def list_versions(request: Request) -> Response:
    """``GET /api/artifacts/{name}/versions[?include_deleted=true]``."""
    repo = state_of(request).repo
    found = catalog.versions(repo, request.path_params["name"], flag(request, "include_deleted"))
    return answer(request, found)


def get_version(request: Request) -> Response:
    """``GET /api/artifacts/{name}/versions/{version}``."""
    repo = state_of(request).repo
    found = repo.get_artifact_version(request.path_params["name"], path_version(request))
    return answer(request, artifact_json(found))


def list_aliases(request: Request) -> Response:
    """``GET /api/artifacts/{name}/aliases``."""
    repo = state_of(request).repo
    name = request.path_params["name"]
    return answer(
        request, {"name": name, "aliases": [alias_json(a) for a in repo.list_aliases(name)]}
    )


def get_alias(request: Request) -> Response:
    """``GET /api/artifacts/{name}/aliases/{alias}``: read from the backend (not cached)."""
    repo = state_of(request).repo
    found = repo.get_alias(request.path_params["name"], request.path_params["alias"])
    return answer(request, alias_json(found))


def alias_history(request: Request) -> Response:
    """``GET /api/artifacts/{name}/aliases/{alias}/history[?limit=N&before_revision=R]``."""
    repo = state_of(request).repo
    limit = page_size(request, HISTORY_PAGE)
    before = whole_number(request.query_params.get("before_revision"), "before_revision")
    found = catalog.history(
        repo, request.path_params["name"], request.path_params["alias"], limit, before
    )
    return answer(request, found)


async def resolve(request: Request) -> Response:
    """``GET /api/artifacts/{name}/aliases/{alias}/resolve?key=K``: from the cached
    resolver, the version the alias sends ``K`` to, its sha256 and where to get it."""
    state = state_of(request)
    name, alias = request.path_params["name"], request.path_params["alias"]
    choice = await choose(state.resolver, name, alias, text(request, "key"))
    sha256 = choice.sha256
    if sha256 is None:  # LATEST (its bytes can change): the record says which they are now
        found = await run_in_threadpool(state.repo.get_artifact_version, name, choice.version)
        sha256 = found.sha256
    data = {
        "name": name,
        "alias": alias,
        "key": choice.key,
        "version": choice.version,
        "sha256": sha256,
        "revision": choice.alias.revision,
        "stale": choice.stale,
        "download_url": str(request.base_url).rstrip("/") + download_path(name, choice.version),
    }
    return answer(request, data)


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    try:
        data = await request.json()
    except RecursionError:  # nested deeper than the parser goes: not a body we take
        raise InvalidArgumentError("the request body is nested too deep") from None
    except ValueError:
        raise InvalidArgumentError("the request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError("the request body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidArgumentError(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    return data


async def put_alias(request: Request) -> Response:
    """``PUT /api/artifacts/{name}/aliases/{alias}`` (token): create or move an alias.

    Body: ``{"version", "secondary_version", "secondary_version_weight",
    "expected_revision" (required; 0 = must not exist yet), "reason"}``.
    """
    state = state_of(request)
    who = require_writer(request, state.writers)
    fields = {
        "version",
        "secondary_version",
        "secondary_version_weight",
        "expected_revision",
        "reason",
    }
    data = await _body(request, fields)
    _require_expected_revision(data, "the alias's current revision (0 to create it)")
    found = await _as_writer(
        who,
        lambda: state.repo.put_alias(
            request.path_params["name"],
            request.path_params["alias"],
            data.get("version"),
            data.get("secondary_version"),
            data.get("secondary_version_weight"),
            expected_revision=data["expected_revision"],
            reason=data.get("reason"),
        ),
    )
    return answer(request, alias_json(found))


async def rollback(request: Request) -> Response:
    """``POST /api/artifacts/{name}/aliases/{alias}/rollback`` (token): without
    ``to_revision``, the versions the current state introduced taken out of traffic (the
    rule of ``rollback_plan``); with it, exactly that revision's targets; as a
    compare-and-set on ``expected_revision`` (required). Answers the alias at its new
    revision; 409 RevisionMismatchError (with the current revision and targets) when
    it is not at ``expected_revision``."""
    state = state_of(request)
    who = require_writer(request, state.writers)
    data = await _body(request, {"to_revision", "reason", "expected_revision"})
    _require_expected_revision(data, "the alias's current revision")
    found = await _as_writer(
        who,
        lambda: state.repo.rollback_alias(
            request.path_params["name"],
            request.path_params["alias"],
            to_revision=data.get("to_revision"),
            reason=data.get("reason"),
            expected_revision=data["expected_revision"],
        ),
    )
    return answer(request, alias_json(found))


async def _as_writer(who: str, change: Callable[[], T]) -> T:
    """Run ``change`` in a worker thread as made by the token named ``who``: the alias
    history records ``token:<who>`` (see :mod:`.tokens`). Raises what ``change`` raises."""

    def run() -> T:
        # set inside the thread: whether the thread pool carries context variables over
        # depends on the anyio version
        with acting_as(WHO_PREFIX + who):
            return change()

    return await run_in_threadpool(run)


def _require_expected_revision(data: dict[str, Any], what: str) -> None:
    """Raise InvalidArgumentError unless the body names ``expected_revision`` (``what``
    says which revision that is): writes are compare-and-sets."""
    if "expected_revision" not in data:
        raise InvalidArgumentError(
            f"expected_revision is required: {what}, so that a change made meanwhile is "
            "not overwritten"
        )
