"""The rollout routes' part of the OpenAPI description (see :mod:`.rollouts`)."""

from __future__ import annotations

from typing import Any

from .openapi_parts import (
    _NOT_MODIFIED,
    ALIAS,
    NAME,
    _errors,
    _json,
    _param,
    _ref,
    text_or_null_schema,
)

_STATES = ["running", "paused", "completed", "aborted"]


def rollout_schema() -> dict[str, Any]:
    """The Rollout schema: ``Rollout.to_json()``, as ``versioned rollout status --json``."""
    moment = {"type": ["string", "null"], "description": "UTC, 2026-01-01T12:00:00.000000+0000"}
    targets = {
        "type": "object",
        "properties": {
            "version": {"type": ["integer", "null"], "description": "null: LATEST"},
            "secondary_version": {"type": ["integer", "null"]},
            "secondary_version_weight": {"type": ["integer", "null"]},
        },
    }
    check = {
        "type": "object",
        "properties": {
            "step": {"type": "integer"},
            "weight": {"type": "integer"},
            "at": moment,
            "outcome": {"enum": ["passed", "failed", "inconclusive"]},
            "exit_code": {"type": ["integer", "null"]},
            "detail": {"type": "string"},
        },
    }
    event = {
        "type": "object",
        "properties": {"at": moment, "what": {"type": "string"}, "who": {"type": "string"}},
    }
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "alias": {"type": "string"},
            "number": {"type": "integer"},
            "version": {"type": "integer"},
            "steps": {"type": "array", "items": {"type": "integer"}},
            "step": {"type": "integer", "description": "steps applied (1-based current one)"},
            "weight": {"type": "integer", "description": "percent to the new version now"},
            "state": {"enum": _STATES},
            "state_reason": text_or_null_schema(),
            "next_action": {"type": "string"},
            "due_at": {**moment, "description": "when the next action is due (null: none)"},
            "hold_seconds": {"type": "number"},
            "bake_seconds": {"type": "number"},
            "check": text_or_null_schema(),
            "check_timeout_seconds": {"type": "number"},
            "failure_limit": {"type": "integer"},
            "failures": {"type": "integer"},
            "checks": {"type": "array", "items": check},
            "events": {"type": "array", "items": event},
            "before": {**targets, "description": "the targets an abort restores"},
            "started_revision": {"type": "integer"},
            "last_revision": {"type": "integer"},
            "reason": text_or_null_schema(),
            "preset": text_or_null_schema(),
            "who": {"type": "string"},
            "created_at": moment,
            "updated_at": moment,
            "lease_owner": text_or_null_schema(),
            "lease_until": moment,
            "seq": {"type": "integer"},
            "format": {"type": "integer"},
        },
    }


_NONE = {"404": _json(_ref("Error"), "RolloutError: the alias has no (such) rollout")}
_CONFLICT = {
    "409": _json(
        _ref("Error"),
        "RolloutError: the rollout's state refuses the action (the body names its number, "
        "state and state_reason; for resume onto an alias changed outside the rollout, "
        "resume_plan says what resume would do and current_revision is the "
        "expected_revision to send)",
    )
}
_SAID = {
    "pause": "stop advancing (a controller stops at its next wake-up); pausing a paused "
    "rollout answers it",
    "resume": "continue a paused rollout; when the alias was changed outside it, only with "
    "expected_revision equal to the alias's revision (409 otherwise, saying what resume "
    "would do)",
    "promote": "go straight to 100 %: the new version alone, the rollout completed",
    "abort": "put the alias back on its targets from before the rollout and end it",
}


def _action(action: str, bearer: list[dict[str, list[str]]]) -> dict[str, Any]:
    properties: dict[str, Any] = {"reason": text_or_null_schema()}
    if action == "resume":
        properties["expected_revision"] = {
            "type": ["integer", "null"],
            "description": "the alias's current revision, when it was changed outside the rollout",
        }
    body = {"type": "object", "additionalProperties": False, "properties": properties}
    return {
        "post": {
            "summary": f"{action} the alias's newest rollout: {_SAID[action]}",
            "security": bearer,
            "parameters": [NAME, ALIAS],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": body}},
            },
            "responses": {
                "200": _json(_ref("Rollout"), "the rollout after the action"),
                **_errors(400, 401, 403, 502, 503),
                **_NONE,
                **_CONFLICT,
            },
        }
    }


def rollout_paths(alias: str, bearer: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The rollout routes below ``alias`` (the alias's path)."""
    read_errors = {**_errors(400, 502, 503), **_NONE}

    def get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any]) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "parameters": params,
                "responses": {"200": ok, **_NOT_MODIFIED, **read_errors},
            }
        }

    limit = _param(
        "limit",
        "query",
        "how many, 1-500 (default 20)",
        {"type": "integer", "minimum": 1, "maximum": 500},
    )
    number = _param("number", "path", "the rollout's number", {"type": "integer"})
    listing = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "alias": {"type": "string"},
            "rollouts": {"type": "array", "items": _ref("Rollout")},
        },
    }
    return {
        f"{alias}/rollout": get(
            "the alias's newest rollout (running, paused or ended)",
            [NAME, ALIAS],
            _json(_ref("Rollout"), "the rollout"),
        ),
        f"{alias}/rollouts": get(
            "the alias's rollouts, newest first (none: an empty list)",
            [NAME, ALIAS, limit],
            _json(listing, "{name, alias, rollouts: [Rollout]}"),
        ),
        f"{alias}/rollouts/{{number}}": get(
            "one rollout of the alias", [NAME, ALIAS, number], _json(_ref("Rollout"), "it")
        ),
        **{f"{alias}/rollout/{a}": _action(a, bearer) for a in _SAID},
    }
