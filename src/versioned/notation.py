"""How versioned writes alias targets and identities for people: the one implementation
that the command line and the docs follow (the web page can import it too).

A target is ``5``; a split is ``5 (80%) + 6 (20%)``: each version with its share of the
picks, the primary first. An identity is shortened to what tells people apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import AliasState


def describe_targets(version: str, secondary_version: str | None, weight: int | None) -> str:
    """``5`` for one version; ``5 (80%) + 6 (20%)`` when ``weight`` percent of the picks go
    to ``secondary_version``."""
    if secondary_version is None or weight is None:
        return version
    return f"{version} ({100 - weight}%) + {secondary_version} ({weight}%)"


def describe_state(state: AliasState | None) -> str:
    """Where an alias pointed (:func:`describe_targets`), ``-`` where it did not exist."""
    if state is None:
        return "-"
    return describe_targets(state.version, state.secondary_version, state.secondary_version_weight)


def short_who(who: str) -> str:
    """``who`` short enough for a table column: an AWS ARN loses its partition and account
    (``arn:aws:sts::123456789012:assumed-role/deploy/ci`` is ``deploy/ci``, an IAM user
    ``user/alice``); anything else (``alice@build-7``) stays as it is."""
    parts = who.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return who
    resource = parts[5]
    # an assumed role's session says which role and which session: the useful part
    kind, _, rest = resource.partition("/")
    return rest if kind == "assumed-role" and rest else resource
