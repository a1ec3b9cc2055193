"""Immutable, numbered versions of binary artifacts, and aliases that point at them.

Two backends, one set of rules::

    from versioned import open_repository
    repo = open_repository("./artifacts")                       # embedded, local
    repo = open_repository("s3://bucket/prefix?table=t&region=us-east-1")  # S3 + DynamoDB
"""

from __future__ import annotations

from . import exc
from .acting import acting_as
from .model import Alias, AliasChange, AliasState, Artifact, ExpiredVersion, HistoryCheck
from .resolver import AliasResolver, Resolved
from .rollout_plan import PRESETS, Rollout
from .rollouts import Rollouts, StepResult
from .uri import open_repository

__version__ = "2.0.0.dev0"

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
