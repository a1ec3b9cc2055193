"""The OpenAPI 3.1 description of the JSON API, served at ``/openapi.json``.

Written out here rather than generated, so that it says what clients need: which
errors each route answers with, which routes need the token, what a 304 means. A test
checks that every route of the app is described and every described route exists.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from .openapi_parts import (
    _NOT_MODIFIED,
    _READ_ERRORS,
    _WRITE_ERRORS,
    ALIAS,
    KEY,
    LIMIT,
    NAME,
    VERSION,
    _errors,
    _get,
    _json,
    _param,
    _ref,
    text_or_null_schema,
)
from .openapi_rollouts import rollout_paths, rollout_schema

_DOWNLOAD_OK = {
    "200": {
        "description": "local repository: the verified bytes; ETag is their quoted sha256",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    "206": {"description": "local repository: the requested Range (Content-Range says which)"},
    "307": {"description": "S3 repository: a redirect to a presigned GET URL valid a few minutes"},
    **_NOT_MODIFIED,
}


def _schemas() -> dict[str, Any]:
    text_or_null = {"type": ["string", "null"]}
    share = {
        "type": "object",
        "properties": {"version": {"type": "string"}, "percent": {"type": "integer"}},
    }
    state = {
        "type": ["object", "null"],
        "properties": {
            "version": {"type": "string"},
            "secondary_version": text_or_null,
            "secondary_version_weight": {"type": ["integer", "null"]},
        },
    }
    return {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "kind", "message"],
                    "properties": {
                        "status": {"type": "integer"},
                        "kind": {
                            "type": "string",
                            "description": "a versioned.exc class name, or an HTTP-layer kind",
                        },
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "Version": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "update_at": {"type": "string", "format": "date-time"},
                "sha256": {"type": "string"},
                "size": {"type": ["integer", "null"]},
                "content_type": text_or_null,
                "metadata": {
                    "type": ["object", "null"],
                    "additionalProperties": {"type": "string"},
                },
                "is_deleted": {"type": "boolean"},
                "aliases": {"type": "array", "items": {"type": "string"}},
                "download_url": {"type": "string"},
            },
        },
        "Alias": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "alias": {"type": "string"},
                "revision": {"type": "integer"},
                "update_at": {"type": "string", "format": "date-time"},
                "version": {"type": "string"},
                "secondary_version": text_or_null,
                "secondary_version_weight": {"type": ["integer", "null"]},
                "split": {"type": "array", "items": share},
            },
        },
        "AliasChange": {
            "type": "object",
            "properties": {
                "revision": {"type": "integer"},
                "update_at": {"type": "string", "format": "date-time"},
                "action": {"enum": ["set", "rollback", "delete", "outside"]},
                "who": {"type": "string"},
                "reason": text_or_null,
                "before": state,
                "after": state,
                "sha256": {"type": "string"},
                "previous_sha256": text_or_null,
            },
        },
        "Rollout": rollout_schema(),
        "Resolved": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "alias": {"type": "string"},
                "key": text_or_null,
                "version": {"type": "string"},
                "sha256": {"type": "string"},
                "revision": {"type": "integer"},
                "stale": {"type": "boolean", "description": "the backend failed: last good answer"},
                "download_url": {"type": "string"},
            },
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document of the app."""
    base = "/api/artifacts/{name}"
    alias = f"{base}/aliases/{{alias}}"
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "versioned",
            "version": __version__,
            "description": "Artifacts, versions and aliases of one versioned repository. "
            "Reads are open; alias changes need 'Authorization: Bearer <token>' and are "
            "compare-and-set on the alias's revision. Every GET answers 304 to an "
            "If-None-Match naming its current ETag.",
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/healthz": _get("the server is up", [], _json({"type": "object"}, "ok"), {}),
            "/api/artifacts": _get(
                "a page of artifacts by name, each with its LATEST, newest version and aliases",
                [
                    LIMIT,
                    _param(
                        "after",
                        "query",
                        "next page: the next_after of the page before",
                        {"type": "string"},
                    ),
                ],
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "artifacts": {"type": "array", "items": {"type": "object"}},
                            "total": {"type": "integer"},
                            "first": {"type": ["integer", "null"]},
                            "next_after": {"type": ["string", "null"]},
                        },
                    },
                    "{artifacts: [...], total, first, next_after}",
                ),
                _errors(400, 502, 503),
            ),
            f"{base}/versions": _get(
                "the versions of an artifact, LATEST first",
                [
                    NAME,
                    _param(
                        "include_deleted",
                        "query",
                        "true: soft-deleted ones too",
                        {"type": "boolean"},
                    ),
                ],
                _json({"type": "object"}, "{name, versions: [Version], aliases: [Alias]}"),
                _READ_ERRORS,
            ),
            f"{base}/versions/{{version}}": _get(
                "one version", [NAME, VERSION], _json(_ref("Version"), "the version"), _READ_ERRORS
            ),
            f"{base}/versions/{{version}}/download": {
                "get": {
                    "summary": "the bytes of a version (Range supported locally)",
                    "parameters": [NAME, VERSION],
                    "responses": {**_DOWNLOAD_OK, **_errors(400, 404, 416, 502, 504)},
                }
            },
            f"{base}/aliases": _get(
                "the aliases of an artifact",
                [NAME],
                _json({"type": "object"}, "{name, aliases: [Alias]}"),
                _READ_ERRORS,
            ),
            alias: {
                **_get(
                    "one alias (read from the backend)",
                    [NAME, ALIAS],
                    _json(_ref("Alias"), "the alias"),
                    _READ_ERRORS,
                ),
                "put": {
                    "summary": "create or move the alias (compare-and-set)",
                    "security": bearer,
                    "parameters": [NAME, ALIAS],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["expected_revision"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "version": {"type": ["string", "integer", "null"]},
                                        "secondary_version": {
                                            "type": ["string", "integer", "null"]
                                        },
                                        "secondary_version_weight": {"type": ["integer", "null"]},
                                        "expected_revision": {
                                            "type": "integer",
                                            "description": "0: must not exist yet",
                                        },
                                        "reason": text_or_null_schema(),
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(_ref("Alias"), "the alias at its new revision"),
                        **_WRITE_ERRORS,
                    },
                },
            },
            f"{alias}/history": _get(
                "the alias's changes, newest first",
                [
                    NAME,
                    ALIAS,
                    LIMIT,
                    _param(
                        "before_revision",
                        "query",
                        "next page: the last revision seen",
                        {"type": "integer"},
                    ),
                ],
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "changes": {"type": "array", "items": _ref("AliasChange")},
                            "next_before_revision": {"type": ["integer", "null"]},
                        },
                    },
                    "a page of history",
                ),
                _READ_ERRORS,
            ),
            f"{alias}/rollback": {
                "post": {
                    "summary": "set the alias back to an earlier revision's targets "
                    "(compare-and-set)",
                    "security": bearer,
                    "parameters": [NAME, ALIAS],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["expected_revision"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "to_revision": {
                                            "type": ["integer", "null"],
                                            "description": (
                                                "exactly this revision's targets; without "
                                                "it, the newest earlier state serving none "
                                                "of the versions the current one introduced"
                                            ),
                                        },
                                        "expected_revision": {
                                            "type": "integer",
                                            "description": "the alias's current revision",
                                        },
                                        "reason": text_or_null_schema(),
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(_ref("Alias"), "the alias at its new revision"),
                        **_WRITE_ERRORS,
                    },
                }
            },
            f"{alias}/resolve": _get(
                "the version the alias sends a key to (from the server's cache)",
                [NAME, ALIAS, KEY],
                _json(_ref("Resolved"), "the chosen version"),
                {**_READ_ERRORS, **_errors(504)},
            ),
            f"{alias}/download": {
                "get": {
                    "summary": "the bytes of the version the alias sends a key to",
                    "parameters": [NAME, ALIAS, KEY],
                    "responses": {**_DOWNLOAD_OK, **_errors(400, 404, 416, 502, 504)},
                }
            },
            **rollout_paths(alias, bearer),
        },
    }
