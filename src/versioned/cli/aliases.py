"""The alias commands: set, get, list, delete, history, rollback."""

from __future__ import annotations

import argparse

from ..notation import describe_targets
from .artifacts import explain_missing, require_artifact
from .context import Context, Failure
from .output import Done, History, Result, print_json
from .parser import UsageError


def alias_set(ctx: Context, args: argparse.Namespace) -> Result:
    """Create or move an alias; the result is the alias (with its new revision). Without
    --version it points at LATEST, and a remark on stderr says that LATEST moves."""
    if (args.secondary_version is None) != (args.weight is None):
        raise UsageError(
            "--secondary-version and --weight go together: the second version and the "
            "percent of picks it gets"
        )
    with explain_missing(ctx, args.name):
        alias = ctx.repo.put_alias(
            args.name,
            args.alias,
            args.version,
            args.secondary_version,
            args.weight,
            ctx.bsm,
            expected_revision=args.if_revision,
            reason=args.reason,
        )
    if args.version is None:  # the default is easy to take for a pinned version
        ctx.note(
            f"alias {args.alias} of {args.name} points at LATEST, which changes with every "
            "put (--version N pins a published version)"
        )
    return alias


def alias_get(ctx: Context, args: argparse.Namespace) -> Result:
    """The alias now, or with --as-of where it pointed then; AliasNotFoundError when
    there is (was) none."""
    return ctx.repo.get_alias(args.name, args.alias, ctx.bsm, as_of=args.as_of)


def alias_list(ctx: Context, args: argparse.Namespace) -> Result:
    """The aliases of NAME, sorted by alias; an error when NAME does not exist."""
    aliases = ctx.repo.list_aliases(args.name, ctx.bsm)
    if not aliases:
        require_artifact(ctx, args.name)
    return aliases


def alias_delete(ctx: Context, args: argparse.Namespace) -> Result:
    """Delete an alias; one that does not exist is an error (AliasNotFoundError)."""
    if args.if_revision is None:
        ctx.repo.get_alias(args.name, args.alias, ctx.bsm)
    ctx.repo.delete_alias(
        args.name,
        args.alias,
        ctx.bsm,
        expected_revision=args.if_revision,
        reason=args.reason,
    )
    return Done(
        f"deleted alias {args.alias} of {args.name}",
        {"name": args.name, "alias": args.alias, "deleted": True},
    )


def alias_history(ctx: Context, args: argparse.Namespace) -> Result:
    """A page of the alias's changes, newest first (a remark on stderr says when older ones
    exist and how to see them); with --verify, the check of the whole chain (a failure
    when an entry was removed or altered)."""
    if args.verify:
        check = ctx.repo.verify_alias_history(args.name, args.alias, ctx.bsm)
        data = {
            "name": args.name,
            "alias": args.alias,
            "ok": check.ok,
            "entries": check.entries,
            "problems": check.problems,
        }
        if not check.ok:
            if ctx.json:
                print_json(data)
            raise Failure(
                f"the history of alias {args.alias} of {args.name} was tampered with: "
                + "; ".join(check.problems)
            )
        return Done(
            f"the history of alias {args.alias} of {args.name} is intact ({check.entries} entries)",
            data,
        )
    # one entry more than asked tells whether there is a next page, for no extra request
    changes = ctx.repo.list_alias_history(
        args.name, args.alias, ctx.bsm, limit=args.limit + 1, before_revision=args.before
    )
    if not changes:
        ctx.repo.get_alias(args.name, args.alias, ctx.bsm)  # says when there is no alias
    if len(changes) > args.limit:
        changes = changes[: args.limit]
        ctx.note(
            f"older entries exist: 'versioned alias history {args.name} {args.alias} "
            f"--before {changes[-1].revision}' shows the next page"
        )
    return History(changes)


def alias_rollback(ctx: Context, args: argparse.Namespace) -> Result:
    """Point the alias back (see ``Repository.rollback_alias`` for where); the result is
    the alias, and a remark names the targets and the new revision."""
    alias = ctx.repo.rollback_alias(
        args.name,
        args.alias,
        to_revision=args.to,
        reason=args.reason,
        bsm=ctx.bsm,
        expected_revision=args.if_revision,
    )
    ctx.note(
        f"alias {args.alias} of {args.name} rolled back to version "
        + describe_targets(alias.version, alias.secondary_version, alias.secondary_version_weight)
        + f" (now revision {alias.revision})"
    )
    return alias
