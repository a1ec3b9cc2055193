"""Rollouts over HTTP: their status as JSON, and ``pause``/``resume``/``promote``/``abort``
behind the token.

A rollout answers as ``Rollout.to_json()``: the JSON ``versioned rollout status --json``
prints. The server only reads rollouts and steers them; it never starts one and never
runs a check command (its controller's runner refuses to): a controller elsewhere
(``versioned rollout run`` or ``step``) drives them.

Errors: an alias without a rollout (or without rollout N) answers 404 ``RolloutError``; a
``RolloutError`` of an action (too late to pause a completed rollout, a resume onto an
alias changed outside the rollout without the right ``expected_revision``) answers 409
with the rollout's ``number``, ``state`` and ``state_reason`` (and for a resume, what it
would do, ``resume_plan``, and the alias's ``current_revision`` to pass as
``expected_revision``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import arguments as args
from ..exc import RolloutError
from ..rollout_plan import Rollout
from ..rollouts import Rollouts
from .api import _as_writer, _body, answer
from .auth import require_writer
from .errors import ApiError
from .query import page_size, whole_number
from .rollout_views import controller
from .state import state_of

#: rollouts a list answers unless the client asks for another number
ROLLOUT_PAGE = 20
#: the actions ``POST …/rollout/{action}`` takes, and the body fields each accepts
ACTIONS: Mapping[str, frozenset[str]] = {
    "pause": frozenset({"reason"}),
    "resume": frozenset({"reason", "expected_revision"}),
    "promote": frozenset({"reason"}),
    "abort": frozenset({"reason"}),
}


def _where(request: Request) -> tuple[str, str]:
    """The path's artifact and alias, checked (InvalidArgumentError: 400)."""
    return args.check_name(request.path_params["name"]), args.check_alias(
        request.path_params["alias"]
    )


def find(rollouts: Rollouts, name: str, alias: str, number: int | None = None) -> Rollout:
    """The alias's newest rollout (or number ``number``); ApiError 404 when there is none."""
    try:
        return rollouts.get(name, alias, number)
    except RolloutError as error:
        raise ApiError(
            404,
            str(error),
            kind="RolloutError",
            details={"name": name, "alias": alias, "number": number},
        ) from None


def newest(request: Request) -> Response:
    """``GET …/aliases/{alias}/rollout``: the alias's newest rollout (running, paused or
    ended)."""
    name, alias = _where(request)
    return answer(request, find(controller(state_of(request).repo), name, alias).to_json())


def one(request: Request) -> Response:
    """``GET …/aliases/{alias}/rollouts/{number}``: rollout ``number`` of the alias."""
    name, alias = _where(request)
    number = whole_number(request.path_params["number"], "the rollout number")
    found = find(controller(state_of(request).repo), name, alias, number)
    return answer(request, found.to_json())


def listed(request: Request) -> Response:
    """``GET …/aliases/{alias}/rollouts[?limit=N]``: the alias's rollouts, newest first."""
    name, alias = _where(request)
    limit = page_size(request, ROLLOUT_PAGE)
    found = controller(state_of(request).repo).list(name, alias, limit=limit)
    body = {"name": name, "alias": alias, "rollouts": [r.to_json() for r in found]}
    return answer(request, body)


def _conflict(rollouts: Rollouts, error: RolloutError, name: str, alias: str) -> ApiError:
    """``error`` as a 409 naming the rollout and the state it is in now."""
    details: dict[str, Any] = {"name": name, "alias": alias, "number": error.number}
    try:
        now = rollouts.get(name, alias, error.number)
    except RolloutError:
        now = None
    if now is not None:
        details.update(number=now.number, state=now.state, state_reason=now.state_reason)
    return ApiError(409, str(error), kind="RolloutError", details=details)


def _act(
    repo: Any, action: str, name: str, alias: str, data: dict[str, Any]
) -> Callable[[], Rollout]:
    """The change ``action`` makes, run in a worker thread as the token's writer."""

    def change() -> Rollout:
        rollouts = controller(repo)
        find(rollouts, name, alias)  # none: 404, not a state conflict
        try:
            if action == "resume":
                return rollouts.resume(
                    name, alias, data.get("expected_revision"), data.get("reason")
                )
            method: Callable[[str, str, object], Rollout] = getattr(rollouts, action)
            return method(name, alias, data.get("reason"))
        except RolloutError as error:
            conflict = _conflict(rollouts, error, name, alias)
            if action == "resume":
                conflict.details.update(_resume_words(rollouts, name, alias))
            raise conflict from None

    return change


def _resume_words(rollouts: Rollouts, name: str, alias: str) -> dict[str, Any]:
    """What a resume would do, and the revision it must name (empty when it can't say)."""
    try:
        _, words, revision = rollouts.resume_plan(name, alias)
    except RolloutError:
        return {}
    return {"resume_plan": words, "current_revision": revision}


def action_route(action: str) -> Callable[[Request], Any]:
    """The route of ``POST …/aliases/{alias}/rollout/{action}`` (token)."""
    fields = ACTIONS[action]

    async def route(request: Request) -> Response:
        state = state_of(request)
        who = require_writer(request, state.writers)
        name, alias = _where(request)
        # no body at all is no field (``curl -X POST`` pauses); a body must be an object
        data = await _body(request, set(fields)) if await request.body() else {}
        found = await _as_writer(who, _act(state.repo, action, name, alias, data))
        return answer(request, found.to_json())

    route.__name__ = f"rollout_{action}"
    route.__doc__ = f"``POST …/aliases/{{alias}}/rollout/{action}`` (token)."
    return route


__all__ = ["ACTIONS", "action_route", "controller", "find", "listed", "newest", "one"]
