"""The HTML page: server-rendered, no JavaScript needed.

Four views: the artifacts, a page at a time (``/``), one artifact's versions and aliases
(``/artifacts/{name}``, soft-deleted versions with ``?deleted=1``), one version in full
(``/artifacts/{name}/versions/{version}``), one alias with its
split, rollouts and history (``/artifacts/{name}/aliases/{alias}``). Templates escape everything
they print (autoescape), so names, metadata and reasons always show as text; pages are
sent with a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..arguments import check_name
from ..exc import AliasNotFoundError, InvalidArgumentError
from ..model import AliasState
from ..notation import describe_state, describe_targets
from . import catalog
from .query import ARTIFACT_PAGE, HISTORY_PAGE, flag, page_size, path_version, whole_number
from .rollout_views import for_page
from .state import state_of
from .views import alias_json, download_name, download_path

HERE = Path(__file__).parent
STATIC_URL = "/static/style.css"
#: no script, no frames, styles from this server (and the bars' inline widths)
POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _shown(version: str) -> str:
    return version if version == "LATEST" else f"v{version}"


def _size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _duration(seconds: float) -> str:
    """``90`` as ``1 min 30 s``, ``7200`` as ``2 h``: a hold, or the time left to one."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{secs} s" if secs or not (hours or minutes) else "")
    return " ".join(p for p in parts if p)


def _split_label(shares: list[dict[str, Any]]) -> str:
    """A split's shares in the CLI's notation: ``5`` or ``5 (80%) + 6 (20%)``."""
    if len(shares) == 1:
        return describe_targets(shares[0]["version"], None, None)
    primary, secondary = shares
    return describe_targets(primary["version"], secondary["version"], secondary["percent"])


def _state_label(state: dict[str, Any] | None) -> str:
    """Where an alias pointed at one revision (a :func:`.views.state_json`), in the CLI's
    notation; ``-`` where it did not exist."""
    return describe_state(None if state is None else AliasState(**state))


def _stamp(iso: str) -> str:
    """``2026-11-26T11:15:18+00:00`` as ``2026-11-26 11:15:18 UTC``: every time the page
    shows carries its zone (the server's times are all UTC)."""
    return iso.replace("T", " ").removesuffix("+00:00") + " UTC"


def _artifact_url(name: str) -> str:
    return f"/artifacts/{quote(name, safe='')}"


def _version_url(pair: tuple[str, str]) -> str:
    name, version = pair
    return f"{_artifact_url(name)}/versions/{quote(version, safe='')}"


def _alias_url(alias: dict[str, Any]) -> str:
    return f"{_artifact_url(alias['name'])}/aliases/{quote(alias['alias'], safe='')}"


def _download_url(pair: tuple[str, str]) -> str:
    return download_path(*pair)


def _shell(word: str) -> str:
    """``word`` quoted for a POSIX shell when it needs it (a URI with ``?`` and ``&``)."""
    return shlex.quote(word)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_env.filters.update(
    shown=_shown,
    stamp=_stamp,
    size=_size,
    duration=_duration,
    split_label=_split_label,
    state_label=_state_label,
    artifact_url=_artifact_url,
    alias_url=_alias_url,
    version_url=_version_url,
    download_url=_download_url,
    shell=_shell,
)


def render(
    template: str, code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """The page ``template`` filled with ``context``."""
    context.setdefault("repo_uri", "")
    page = _env.get_template(template).render(static_url=STATIC_URL, **context)
    return HTMLResponse(
        page,
        code,
        {**(headers or {}), "Content-Security-Policy": POLICY, "Cache-Control": "no-cache"},
    )


def index(request: Request) -> HTMLResponse:
    """``GET /[?limit=N&after=NAME]``: a page of artifacts, each with its newest version
    and its aliases."""
    repo = state_of(request).repo
    limit = page_size(request, ARTIFACT_PAGE)
    found = catalog.overview(repo, limit, request.query_params.get("after"))
    return render("index.html", limit=limit, repo_uri=repo.uri, **found)


def artifact_page(request: Request) -> HTMLResponse:
    """``GET /artifacts/{name}[?deleted=1]``: versions and aliases of one artifact."""
    repo = state_of(request).repo
    name = request.path_params["name"]
    include_deleted = flag(request, "deleted")
    found = catalog.versions(repo, name, include_deleted)
    return render("artifact.html", include_deleted=include_deleted, repo_uri=repo.uri, **found)


def version_page(request: Request) -> HTMLResponse:
    """``GET /artifacts/{name}/versions/{version}``: one version (LATEST too) in full, the
    aliases pointing at it and its download; a soft-deleted one says so and shows the
    command that restores it. Raises ArtifactNotFoundError (404) for a version that never
    existed."""
    repo = state_of(request).repo
    name = request.path_params["name"]
    found = catalog.version(repo, name, path_version(request))
    shown = found["version"]
    return render(
        "version.html",
        file_name=download_name(name, shown["version"], repo.suffix),
        repo_uri=repo.uri,
        **found,
    )


def alias_page(request: Request) -> HTMLResponse:
    """``GET /artifacts/{name}/aliases/{alias}[?before_revision=R]``: split, the rollout
    in progress and the ended ones (one more read), and history.

    A deleted alias keeps its page: it says so and shows the history, whose rollback
    commands bring the alias back. Raises AliasNotFoundError (404) for an alias without
    history either.
    """
    repo = state_of(request).repo
    name, alias = request.path_params["name"], request.path_params["alias"]
    before = whole_number(request.query_params.get("before_revision"), "before_revision")
    try:
        found: dict[str, Any] = {**alias_json(repo.get_alias(name, alias)), "deleted": False}
    except AliasNotFoundError:
        if not repo.list_alias_history(name, alias, limit=1):
            raise  # never existed (or its history is gone): nothing to show
        # no current revision: every revision that set it is a rollback target
        found = {"name": name, "alias": alias, "revision": None, "deleted": True}
    history = catalog.history(repo, name, alias, HISTORY_PAGE, before)
    rollouts = for_page(repo, name, alias)
    return render("alias.html", alias=found, history=history, rollouts=rollouts, repo_uri=repo.uri)


def error_page(
    request: Request,
    status: int,
    kind: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """An error as a page (for a browser; API clients get JSON): inside the layout, with
    the header naming the repository, a link back to the artifacts and, when the URL
    names an artifact below its own page (a version, an alias), a link to that artifact.
    """
    return render(
        "error.html",
        status,
        headers,
        status=status,
        kind=kind,
        message=message,
        back_to=_artifact_named(request.scope.get("path", "")),
        repo_uri=state_of(request).repo.uri,
    )


def _artifact_named(path: str) -> str | None:
    """The artifact ``path`` (decoded) lies below, as in ``/artifacts/NAME/versions/5``;
    None for any other path, the artifact's own page, or a name no artifact can have."""
    parts = path.split("/")
    if len(parts) < 4 or parts[1] != "artifacts" or not parts[3]:
        return None
    try:
        return check_name(parts[2])
    except InvalidArgumentError:
        return None
