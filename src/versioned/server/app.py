"""The app factory: one Starlette app over one repository.

``create_app(repo, ServerSettings(token=...))`` works with either backend's repository;
run it with any ASGI server (``versioned serve`` uses uvicorn). Routes:

- pages: ``/``, ``/artifacts/{name}``, ``/artifacts/{name}/versions/{version}``,
  ``/artifacts/{name}/aliases/{alias}``,
  ``/static/…``;
- JSON API under ``/api/artifacts`` (see :mod:`.api`, :mod:`.downloads`,
  :mod:`.rollouts`), described at
  ``/openapi.json``; ``/healthz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from . import api, downloads, pages, rollouts
from .access_log import AccessLog
from .blobs import VerifiedBlobs
from .errors import HANDLERS
from .hosts import AllowedHosts
from .openapi import document
from .records import KeptRecords
from .state import ServerSettings, ServerState
from .tokens import writers_of

__all__ = ["ServerSettings", "create_app", "routes"]

_ARTIFACT = "/api/artifacts/{name}"
_ALIAS = _ARTIFACT + "/aliases/{alias}"


def _openapi(request: Request) -> Response:
    return JSONResponse(document())


def routes() -> list[BaseRoute]:
    """Every route of the app (GET routes answer HEAD too). Starlette tries them in
    order, so the downloads, the busiest by far, come first (no other route's pattern
    can match their paths)."""
    return [
        Route(_ARTIFACT + "/versions/{version}/download", downloads.version_download),
        Route(_ALIAS + "/download", downloads.alias_download),
        Route("/", pages.index, name="index"),
        Route("/artifacts/{name}", pages.artifact_page, name="artifact"),
        Route("/artifacts/{name}/versions/{version}", pages.version_page, name="version"),
        Route("/artifacts/{name}/aliases/{alias}", pages.alias_page, name="alias"),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        Route("/healthz", api.healthz),
        Route("/openapi.json", _openapi),
        Route("/api/artifacts", api.list_artifacts),
        Route(_ARTIFACT + "/versions", api.list_versions),
        Route(_ARTIFACT + "/versions/{version}", api.get_version),
        Route(_ARTIFACT + "/aliases", api.list_aliases),
        Route(_ALIAS, api.get_alias, methods=["GET"]),
        Route(_ALIAS, api.put_alias, methods=["PUT"]),
        Route(_ALIAS + "/history", api.alias_history),
        Route(_ALIAS + "/rollback", api.rollback, methods=["POST"]),
        Route(_ALIAS + "/resolve", api.resolve),
        Route(_ALIAS + "/rollout", rollouts.newest),
        Route(_ALIAS + "/rollouts", rollouts.listed),
        Route(_ALIAS + "/rollouts/{number}", rollouts.one),
        *(
            Route(f"{_ALIAS}/rollout/{action}", rollouts.action_route(action), methods=["POST"])
            for action in rollouts.ACTIONS
        ),
    ]


def create_app(repo: Any, settings: ServerSettings | None = None) -> Starlette:
    """The app serving ``repo`` (a local or S3 + DynamoDB repository).

    The resolver behind ``resolve`` and alias downloads is made here, once, with
    ``settings.resolver_ttl_seconds`` and ``settings.resolver_wait_seconds``. Raises
    InvalidArgumentError for a token that could never match (see :mod:`.tokens`).
    """
    settings = settings or ServerSettings()
    on_s3 = hasattr(repo, "aws_region")
    state = ServerState(
        repo=repo,
        settings=settings,
        resolver=repo.alias_resolver(
            ttl_seconds=settings.resolver_ttl_seconds,
            wait_seconds=settings.resolver_wait_seconds,
        ),
        blobs=None if on_s3 else VerifiedBlobs(repo._backend.open_blob),
        records=None if on_s3 else KeptRecords(repo._backend.change_stamp),
        presign=downloads.presigner(repo) if on_s3 else None,
        writers=writers_of(settings.token, settings.tokens),
    )
    middleware = [Middleware(AccessLog)]
    if settings.allowed_hosts is not None:
        middleware.append(Middleware(AllowedHosts, allowed=settings.allowed_hosts))
    app = Starlette(
        routes=routes(),
        middleware=middleware,
        exception_handlers=HANDLERS,
    )
    app.state.versioned = state
    return app
