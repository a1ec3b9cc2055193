"""Immutable, numbered versions of binary artifacts, and aliases that point at them.

Two backends, one set of rules::

    from versioned import open_repository
    repo = open_repository("./artifacts")                       # embedded, local
    repo = open_repository("s3://bucket/prefix?table=t&region=us-east-1")  # S3 + DynamoDB
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import exc
from .acting import acting_as
from .model import Alias, AliasChange, AliasState, Artifact, ExpiredVersion, HistoryCheck
from .resolver import AliasResolver, Resolved
from .uri import open_repository

if TYPE_CHECKING:
    from .rollout_plan import PRESETS, Rollout
    from .rollouts import Rollouts, StepResult

__version__ = "2.0.0.dev0"

#: Imported on first use, so that the command line starts without them.
_LAZY = {
    "PRESETS": "rollout_plan",
    "Rollout": "rollout_plan",
    "Rollouts": "rollouts",
    "StepResult": "rollouts",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "PRESETS",
    "Alias",
    "AliasChange",
    "AliasResolver",
    "AliasState",
    "Artifact",
    "ExpiredVersion",
    "HistoryCheck",
    "Resolved",
    "Rollout",
    "Rollouts",
    "StepResult",
    "__version__",
    "acting_as",
    "exc",
    "open_repository",
]
