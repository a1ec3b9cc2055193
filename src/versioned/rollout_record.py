"""A rollout's stored form: the JSON body a store keeps (``StoredRollout.body``), and
back. Format 1; every field of :class:`~versioned.rollout_plan.Rollout` but ``seq``,
which the store keeps beside the body."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .rollout_plan import CheckRun, Event, Rollout
from .stores.base import Targets
from .timestamps import from_storage, to_storage

#: The most characters a stored body takes (it is ASCII: JSON escapes the rest, up to 12
#: characters for one emoji): the oldest checks and events go first past it, leaving a
#: DynamoDB item room for its key and ``seq``.
_MOST_BODY = 350_000


def _targets_json(targets: Targets) -> dict[str, Any]:
    return {
        "version": targets.version,
        "secondary_version": targets.secondary_version,
        "secondary_version_weight": targets.secondary_version_weight,
    }


def _moment(value: datetime | None) -> str | None:
    return None if value is None else to_storage(value)


def fields(rollout: Rollout) -> dict[str, Any]:
    return {
        "format": 1,
        "name": rollout.name,
        "alias": rollout.alias,
        "number": rollout.number,
        "version": rollout.version,
        "steps": list(rollout.steps),
        "hold_seconds": rollout.hold_seconds,
        "bake_seconds": rollout.bake_seconds,
        "check": rollout.check,
        "check_timeout_seconds": rollout.check_timeout_seconds,
        "failure_limit": rollout.failure_limit,
        "reason": rollout.reason,
        "preset": rollout.preset,
        "before": _targets_json(rollout.before),
        "started_revision": rollout.started_revision,
        "state": rollout.state,
        "state_reason": rollout.state_reason,
        "step": rollout.step,
        "last_revision": rollout.last_revision,
        "due_at": _moment(rollout.due_at),
        "failures": rollout.failures,
        "created_at": to_storage(rollout.created_at),
        "updated_at": to_storage(rollout.updated_at),
        "who": rollout.who,
        "checks": [
            {
                "step": c.step,
                "weight": c.weight,
                "at": to_storage(c.at),
                "outcome": c.outcome,
                "exit_code": c.exit_code,
                "detail": c.detail,
            }
            for c in rollout.checks
        ],
        "events": [{"at": to_storage(e.at), "what": e.what, "who": e.who} for e in rollout.events],
        "lease_owner": rollout.lease_owner,
        "lease_until": _moment(rollout.lease_until),
    }


def encode(rollout: Rollout) -> str:
    """The rollout as the JSON text a store keeps (``StoredRollout.body``), at most
    ``_MOST_BODY`` characters unless its fixed fields alone are longer: past that the
    oldest checks and events are left out."""
    body = fields(rollout)
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    while len(text) > _MOST_BODY and (body["checks"] or body["events"]):
        longer = "checks" if len(body["checks"]) >= len(body["events"]) else "events"
        del body[longer][: max(1, len(body[longer]) // 10)]
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return text


def _parse_moment(value: str | None) -> datetime | None:
    return None if value is None else from_storage(value)


def decode(body: str, seq: int) -> Rollout:
    """The rollout a stored body spells. Raises ValueError/KeyError on a corrupt body."""
    raw = json.loads(body)
    before = raw["before"]
    return Rollout(
        name=raw["name"],
        alias=raw["alias"],
        number=int(raw["number"]),
        version=int(raw["version"]),
        steps=tuple(int(s) for s in raw["steps"]),
        hold_seconds=float(raw["hold_seconds"]),
        bake_seconds=float(raw["bake_seconds"]),
        check=raw["check"],
        check_timeout_seconds=float(raw["check_timeout_seconds"]),
        failure_limit=int(raw["failure_limit"]),
        reason=raw["reason"],
        preset=raw.get("preset"),
        before=Targets(
            before["version"], before["secondary_version"], before["secondary_version_weight"]
        ),
        started_revision=int(raw["started_revision"]),
        state=raw["state"],
        state_reason=raw.get("state_reason"),
        step=int(raw["step"]),
        last_revision=int(raw["last_revision"]),
        due_at=_parse_moment(raw["due_at"]),
        failures=int(raw["failures"]),
        created_at=from_storage(raw["created_at"]),
        updated_at=from_storage(raw["updated_at"]),
        who=raw["who"],
        checks=tuple(
            CheckRun(
                int(c["step"]),
                int(c["weight"]),
                from_storage(c["at"]),
                c["outcome"],
                c["exit_code"],
                c["detail"],
            )
            for c in raw["checks"]
        ),
        events=tuple(Event(from_storage(e["at"]), e["what"], e["who"]) for e in raw["events"]),
        lease_owner=raw["lease_owner"],
        lease_until=_parse_moment(raw["lease_until"]),
        seq=seq,
    )
