"""Tab completion from the repository: artifact names, alias names, versions and
revisions, and the rollout presets (argcomplete calls these while the shell asks;
nothing here runs otherwise).

A shell waits for the answer, so each lookup is bounded (:data:`TIMEOUT` seconds, then
nothing is offered), its answer cached briefly (:data:`CACHE_SECONDS`) so that pressing
TAB again does not ask S3 again, and any failure (no repository, no credentials) offers
nothing. Completing never creates a repository.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: how long a lookup may take before the shell gets nothing
TIMEOUT = 2.0
#: how long an answer is reused
CACHE_SECONDS = 15.0


def offer(what: str, prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The words for ``what`` ("names", "aliases", "versions", "revisions", "presets")
    that start with ``prefix``, in the repository ``parsed_args`` names; [] when unknown."""
    if what == "presets":  # fixed names: no repository to ask
        from ..rollout_plan import PRESETS

        return [name for name in PRESETS if name.startswith(prefix)]
    look = _LOOKUPS.get(what)
    if look is None:
        return []
    repo_uri = str(getattr(parsed_args, "repo", "") or "")
    name = getattr(parsed_args, "name", None)
    alias = getattr(parsed_args, "alias", None)
    key = json.dumps([repo_uri, what, name, alias])
    words = _cached(key)
    if words is None:
        words = _bounded(lambda: look(_open(repo_uri), name, alias))
        if words is not None:
            _store(key, words)
    return [word for word in words or [] if word.startswith(prefix)]


def _open(repo_uri: str) -> Any:
    from .. import open_repository

    return open_repository(repo_uri, create=False)


def _names(repo: Any, name: str | None, alias: str | None) -> list[str]:
    return list(repo.list_artifact_names())


def _aliases(repo: Any, name: str | None, alias: str | None) -> list[str]:
    return [a.alias for a in repo.list_aliases(name)] if name else []


def _versions(repo: Any, name: str | None, alias: str | None) -> list[str]:
    return [v.version for v in repo.list_artifact_versions(name)] if name else []


def _revisions(repo: Any, name: str | None, alias: str | None) -> list[str]:
    if not (name and alias):
        return []
    return [str(c.revision) for c in repo.list_alias_history(name, alias, limit=50)]


_LOOKUPS: dict[str, Callable[[Any, str | None, str | None], list[str]]] = {
    "names": _names,
    "aliases": _aliases,
    "versions": _versions,
    "revisions": _revisions,
}


def _bounded(lookup: Callable[[], list[str]]) -> list[str] | None:
    """``lookup()`` if it answers within TIMEOUT seconds without an error, else None.
    The thread is a daemon: a lookup still hanging does not keep the shell waiting."""
    answer: list[list[str]] = []

    def run() -> None:
        # no repository, no credentials, a network error: offer nothing
        with contextlib.suppress(Exception):
            answer.append(lookup())

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    return answer[0] if answer else None


def _cache_file(key: str) -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return Path(root, "versioned", "completion", digest)


def _cached(key: str) -> list[str] | None:
    path = _cache_file(key)
    try:
        if time.time() - path.stat().st_mtime > CACHE_SECONDS:
            return None
        words = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return [str(w) for w in words] if isinstance(words, list) else None


def _store(key: str, words: list[str]) -> None:
    path = _cache_file(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(words))
    except OSError:
        pass  # a cache that cannot be written only costs the next TAB a lookup
