"""The repository's objects as plain data: the JSON API's bodies and the page's rows.

Times are ISO 8601 in UTC; versions are strings (``"LATEST"``, ``"5"``) as the library
spells them; a split is a list of ``{"version", "percent"}`` shares that add up to 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..model import Alias, Artifact

if TYPE_CHECKING:
    from ..model import AliasChange, AliasState


@dataclass(frozen=True)
class Share:
    """One target of an alias and the percent of picks it gets."""

    version: str
    percent: int


def when(moment: datetime) -> str:
    """A time as ISO 8601 (UTC, seconds)."""
    return moment.isoformat(timespec="seconds")


def download_path(name: str, version: str) -> str:
    """The server path that downloads ``name``/``version``."""
    return f"/api/artifacts/{quote(name, safe='')}/versions/{quote(version, safe='')}/download"


def download_name(name: str, version: str, suffix: str) -> str:
    """The file name a download of ``name``/``version`` is saved as: ``NAME-vN`` (or
    ``NAME-LATEST``) followed by the repository's ``suffix`` (``model-v6.zip``).

    A name that already ends with the suffix keeps it once, after the version
    (``webapp-build.zip`` → ``webapp-build-v3.zip``); a name that is nothing but the
    suffix keeps it whole. Names are ``A-Z a-z 0-9 . _ -`` only, so the result needs no
    quoting in a header.
    """
    label = version if version == "LATEST" else f"v{version}"
    if suffix and name.endswith(suffix) and len(name) > len(suffix):
        name = name[: -len(suffix)]
    return f"{name}-{label}{suffix}"


def split(target: Alias | AliasState) -> list[Share]:
    """The alias's shares: the primary version alone, or primary and secondary."""
    weight = target.secondary_version_weight or 0
    if target.secondary_version is None or weight == 0:
        return [Share(target.version, 100)]
    return [Share(target.version, 100 - weight), Share(target.secondary_version, weight)]


def artifact_json(artifact: Artifact, aliases: list[str] | None = None) -> dict[str, Any]:
    """A version as JSON; ``aliases``: the aliases pointing at it, when known."""
    data: dict[str, Any] = {
        "name": artifact.name,
        "version": artifact.version,
        "update_at": when(artifact.update_at),
        "sha256": artifact.sha256,
        "size": artifact.size,
        "content_type": artifact.content_type,
        "metadata": artifact.metadata,
        "is_deleted": artifact.is_deleted,
        "download_url": download_path(artifact.name, artifact.version),
    }
    if aliases is not None:
        data["aliases"] = aliases
    return data


def alias_json(alias: Alias) -> dict[str, Any]:
    """An alias as JSON, its split included."""
    return {
        "name": alias.name,
        "alias": alias.alias,
        "revision": alias.revision,
        "update_at": when(alias.update_at),
        "version": alias.version,
        "secondary_version": alias.secondary_version,
        "secondary_version_weight": alias.secondary_version_weight,
        "split": [{"version": s.version, "percent": s.percent} for s in split(alias)],
    }


def state_json(state: AliasState | None) -> dict[str, Any] | None:
    """An alias's targets at one revision (None: it did not exist)."""
    if state is None:
        return None
    return {
        "version": state.version,
        "secondary_version": state.secondary_version,
        "secondary_version_weight": state.secondary_version_weight,
    }


def change_json(change: AliasChange) -> dict[str, Any]:
    """One history entry as JSON."""
    return {
        "revision": change.revision,
        "update_at": when(change.update_at),
        "action": change.action,
        "who": change.who,
        "reason": change.reason,
        "before": state_json(change.before),
        "after": state_json(change.after),
        "sha256": change.sha256,
        "previous_sha256": change.previous_sha256,
    }


def aliases_by_version(aliases: list[Alias]) -> dict[str, list[str]]:
    """For each version, the names of the aliases pointing at it (primary or secondary)."""
    found: dict[str, list[str]] = {}
    for alias in aliases:
        for share in split(alias):
            found.setdefault(share.version, []).append(alias.alias)
        if alias.secondary_version is not None and not alias.secondary_version_weight:
            found.setdefault(alias.secondary_version, []).append(alias.alias)
    return found
