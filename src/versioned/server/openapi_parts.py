"""The pieces the OpenAPI description (:mod:`.openapi`) is built of: parameters, error
answers, references."""

from __future__ import annotations

from typing import Any

from .query import ARTIFACT_PAGE, MAX_PAGE


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "a bad name, version, alias, field or parameter (InvalidArgumentError...)",
        401: "Unauthorized: the token is missing or wrong",
        403: "ReadOnly: the server was started without a token",
        404: "ArtifactNotFoundError or AliasNotFoundError",
        409: "RevisionMismatchError (someone changed the alias first), RolloutError (a "
        "rollout in a state that refuses the action), "
        "VersionDeletedError (a target was soft-deleted)",
        416: "RangeNotSatisfiable: the range starts past the end",
        502: "BackendError: S3, DynamoDB or the local store failed",
        503: "ConcurrentWriteError or RepositoryNotReadyError: retry (Retry-After)",
        504: "AliasResolveTimeoutError: the backend has not answered yet (Retry-After)",
    }
    return {str(s): _json(_ref("Error"), meaning[s]) for s in statuses}


_NOT_MODIFIED = {"304": {"description": "the If-None-Match ETag is current: no body"}}
_READ_ERRORS = _errors(400, 404, 502, 503)
_WRITE_ERRORS = _errors(400, 401, 403, 404, 409, 502, 503)


def _param(
    name: str, where: str, description: str, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


NAME = _param("name", "path", "artifact name (A-Z a-z 0-9 . _ -)")
ALIAS = _param("alias", "path", "alias name (A-Z a-z 0-9 _, not all digits)")
VERSION = _param("version", "path", "a version number or LATEST")
LIMIT = _param(
    "limit",
    "query",
    f"page size, 1-{MAX_PAGE} (default {ARTIFACT_PAGE})",
    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
)
KEY = _param(
    "key",
    "query",
    "the caller's routing key (a user id, a host name): the same key always gets the "
    "same version for the same split; without it, a weighted random draw",
)


def _get(
    summary: str, params: list[dict[str, Any]], ok: dict[str, Any], errors: dict[str, Any]
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {"200": ok, **_NOT_MODIFIED, **errors},
        }
    }


def text_or_null_schema() -> dict[str, Any]:
    """A string or null."""
    return {"type": ["string", "null"]}
