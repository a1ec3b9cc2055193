"""What the page and the API show, read from the repository (blocking calls: the routes
run them in a worker thread).

Each function returns plain data built by :mod:`.views`, so the HTML page and the JSON
API show the same facts.
"""

from __future__ import annotations

from typing import Any

from ..exc import ArtifactNotFoundError
from ..model import Alias, Artifact
from .views import alias_json, aliases_by_version, artifact_json, change_json

#: a page of alias history, unless the client asks for another size
HISTORY_PAGE = 50
MAX_HISTORY_PAGE = 500


def newest_published(versions: list[Artifact]) -> Artifact | None:
    """The highest numbered live version (``versions`` come LATEST first, newest next)."""
    return next((v for v in versions if v.version != "LATEST" and not v.is_deleted), None)


def overview(repo: Any) -> list[dict[str, Any]]:
    """Every artifact: its LATEST, newest published version and aliases."""
    found = []
    for name in repo.list_artifact_names():
        versions = repo.list_artifact_versions(name)
        latest = next((v for v in versions if v.version == "LATEST"), None)
        newest = newest_published(versions)
        found.append(
            {
                "name": name,
                "latest": artifact_json(latest) if latest is not None else None,
                "newest_version": artifact_json(newest) if newest is not None else None,
                "versions": sum(1 for v in versions if v.version != "LATEST"),
                "aliases": [alias_json(a) for a in repo.list_aliases(name)],
            }
        )
    return found


def versions(repo: Any, name: str, include_deleted: bool) -> dict[str, Any]:
    """One artifact's versions (soft-deleted ones too with ``include_deleted``), each with
    the aliases pointing at it, and its aliases. Raises ArtifactNotFoundError when it has
    no version at all, InvalidArgumentError for a bad name."""
    listed: list[Artifact] = repo.list_artifact_versions(name, include_deleted=include_deleted)
    aliases: list[Alias] = repo.list_aliases(name)
    # nothing live: a 404 unless soft-deleted versions exist
    if (
        not listed
        and not aliases
        and (include_deleted or not repo.list_artifact_versions(name, include_deleted=True))
    ):
        raise ArtifactNotFoundError(f"artifact {name!r} not found", name=name)
    pointing = aliases_by_version(aliases)
    return {
        "name": name,
        "versions": [artifact_json(v, pointing.get(v.version, [])) for v in listed],
        "aliases": [alias_json(a) for a in aliases],
    }


def history_page_size(limit: str | None) -> int:
    """The page size a client asked for (``?limit=``), bounded. Raises ValueError."""
    if limit is None:
        return HISTORY_PAGE
    size = int(limit)
    if not 1 <= size <= MAX_HISTORY_PAGE:
        raise ValueError(f"limit must be from 1 to {MAX_HISTORY_PAGE}")
    return size


def history(
    repo: Any, name: str, alias: str, limit: int, before_revision: int | None
) -> dict[str, Any]:
    """A page of an alias's history, newest first, and where the next page starts."""
    changes = repo.list_alias_history(name, alias, limit=limit, before_revision=before_revision)
    more = len(changes) == limit and changes[-1].revision > 1
    return {
        "name": name,
        "alias": alias,
        "changes": [change_json(c) for c in changes],
        "next_before_revision": changes[-1].revision if more else None,
    }
