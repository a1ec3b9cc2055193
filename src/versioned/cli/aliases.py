"""The alias commands: set, get, list, delete."""

from __future__ import annotations

import argparse

from .artifacts import explain_missing, require_artifact
from .context import Context
from .output import Done, Result
from .parser import UsageError


def alias_set(ctx: Context, args: argparse.Namespace) -> Result:
    """Create or move an alias; the result is the alias."""
    if (args.secondary_version is None) != (args.weight is None):
        raise UsageError(
            "--secondary-version and --weight go together: the second version and the "
            "percent of picks it gets"
        )
    with explain_missing(ctx, args.name):
        return ctx.repo.put_alias(
            args.name, args.alias, args.version, args.secondary_version, args.weight, ctx.bsm
        )


def alias_get(ctx: Context, args: argparse.Namespace) -> Result:
    """The alias; AliasNotFoundError when there is none."""
    return ctx.repo.get_alias(args.name, args.alias, ctx.bsm)


def alias_list(ctx: Context, args: argparse.Namespace) -> Result:
    """The aliases of NAME, sorted by alias; an error when NAME does not exist."""
    aliases = ctx.repo.list_aliases(args.name, ctx.bsm)
    if not aliases:
        require_artifact(ctx, args.name)
    return aliases


def alias_delete(ctx: Context, args: argparse.Namespace) -> Result:
    """Delete an alias; one that does not exist is an error (AliasNotFoundError)."""
    ctx.repo.get_alias(args.name, args.alias, ctx.bsm)
    ctx.repo.delete_alias(args.name, args.alias, ctx.bsm)
    return Done(
        f"deleted alias {args.alias} of {args.name}",
        {"name": args.name, "alias": args.alias, "deleted": True},
    )
