"""What the page and the API show, read from the repository (blocking calls: the routes
run them in a worker thread).

Each function returns plain data built by :mod:`.views`, so the HTML page and the JSON
API show the same facts.
"""

from __future__ import annotations

import bisect
from typing import Any

from ..exc import ArtifactNotFoundError
from ..model import Alias, Artifact
from .views import alias_json, aliases_by_version, artifact_json, change_json


def newest_published(versions: list[Artifact]) -> Artifact | None:
    """The highest numbered live version (``versions`` come LATEST first, newest next)."""
    return next((v for v in versions if v.version != "LATEST" and not v.is_deleted), None)


def overview(repo: Any, limit: int, after: str | None = None) -> dict[str, Any]:
    """A page of artifacts, by name: each with its LATEST, newest published version and
    aliases; how many there are in all, and the name the next page starts after.

    Only the page's artifacts are read (two requests each on S3), so a repository of
    thousands of artifacts costs one listing and ``limit`` artifacts per page.
    """
    names: list[str] = repo.list_artifact_names()
    start = 0 if after is None else bisect.bisect_right(names, after)
    page = names[start : start + limit]
    more = start + limit < len(names)
    return {
        "artifacts": [_summary(repo, name) for name in page],
        "total": len(names),
        "first": start + 1 if page else None,
        "next_after": page[-1] if more and page else None,
    }


def _summary(repo: Any, name: str) -> dict[str, Any]:
    versions = repo.list_artifact_versions(name)
    latest = next((v for v in versions if v.version == "LATEST"), None)
    newest = newest_published(versions)
    return {
        "name": name,
        "latest": artifact_json(latest) if latest is not None else None,
        "newest_version": artifact_json(newest) if newest is not None else None,
        "versions": sum(1 for v in versions if v.version != "LATEST"),
        "aliases": [alias_json(a) for a in repo.list_aliases(name)],
    }


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


def version(repo: Any, name: str, version: str) -> dict[str, Any]:
    """One version (LATEST too), live or soft-deleted (then ``is_deleted`` is true), with
    the aliases pointing at it (as primary or secondary target).

    Raises ArtifactNotFoundError for a version that never existed (or was purged),
    InvalidArgumentError for a bad name or version.
    """
    try:
        found: Artifact = repo.get_artifact_version(name, version)
    except ArtifactNotFoundError:
        # get_artifact_version checked the version: a number or LATEST ("007" is 7)
        wanted = "LATEST" if version == "LATEST" else str(int(version))
        listed = repo.list_artifact_versions(name, include_deleted=True)
        deleted = next((v for v in listed if v.version == wanted), None)
        if deleted is None:
            raise
        found = deleted
    aliases: list[Alias] = repo.list_aliases(name)
    pointing = [a for a in aliases if found.version in (a.version, a.secondary_version)]
    return {
        "name": name,
        "version": artifact_json(found, [a.alias for a in pointing]),
        "aliases": [alias_json(a) for a in pointing],
    }


def history(
    repo: Any, name: str, alias: str, limit: int, before_revision: int | None
) -> dict[str, Any]:
    """A page of an alias's history, newest first, and where the next page starts:
    ``next_before_revision`` is the last entry's revision whenever that is above 1
    (None on the page that reaches revision 1, or an empty one)."""
    changes = repo.list_alias_history(name, alias, limit=limit, before_revision=before_revision)
    # not "a full page means more": a store may answer fewer than asked (DynamoDB stops a
    # Query at 1 MB) with older entries still to come; at worst the last page is empty
    more = bool(changes) and changes[-1].revision > 1
    return {
        "name": name,
        "alias": alias,
        "changes": [change_json(c) for c in changes],
        "next_before_revision": changes[-1].revision if more else None,
    }
