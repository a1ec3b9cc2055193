"""Setting up and cleaning up: init, purge, gc, and shell completion."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone

from ..model import ExpiredVersion
from .artifacts import require_artifact
from .context import Context, Failure
from .output import Done, Result, expiry_table, human_size
from .parser import UsageError
from .table import CONFIRM_YOUNGER_DAYS, KEEP_LAST, KEEP_ROLLBACK, OLDER_THAN

CONFIRM_YOUNGER_THAN = timedelta(days=CONFIRM_YOUNGER_DAYS)


def init(ctx: Context, args: argparse.Namespace) -> Result:
    """Make the bucket and table, or the folder, if missing (idempotent)."""
    ctx.repo.bootstrap(ctx.bsm)
    uri = ctx.repo.uri
    return Done(f"repository ready: {uri}", {"repository": uri, "ready": True})


def purge(ctx: Context, args: argparse.Namespace) -> Result:
    """Retention (soft; the result is the purged versions), or with --all --yes a hard
    delete of everything under NAME. --dry-run only says what would go."""
    if args.all:
        return _purge_all(ctx, args)
    keep = KEEP_LAST if args.keep_last is None else args.keep_last
    older = OLDER_THAN if args.older_than is None else args.older_than
    rollback = KEEP_ROLLBACK if args.keep_rollback_targets is None else args.keep_rollback_targets
    if not args.yes and not args.dry_run and ctx.on_terminal():
        _confirm_young(ctx, args.name, keep, older, rollback)
    _, chosen = ctx.repo.purge_artifact_versions(
        args.name, keep, older, ctx.bsm, dry_run=args.dry_run, keep_rollback_targets=rollback
    )
    verb = "would purge" if args.dry_run else "purged"
    ctx.note(f"{verb} {len(chosen)} version(s) of {args.name}")
    return chosen


def _confirm_young(ctx: Context, name: str, keep: int, older: int, rollback: int) -> None:
    """Ask before a purge removes versions younger than CONFIRM_YOUNGER_THAN."""
    _, would = ctx.repo.purge_artifact_versions(
        name, keep, older, ctx.bsm, dry_run=True, keep_rollback_targets=rollback
    )
    now = datetime.now(timezone.utc)
    young = [a.version for a in would if now - a.update_at < CONFIRM_YOUNGER_THAN]
    if young and not ctx.confirm(
        f"purge soft-deletes {len(would)} version(s) of {name}, of which "
        f"{', '.join(young)} are less than {CONFIRM_YOUNGER_THAN.days} days old. Go on?"
    ):
        raise Failure("purge cancelled: nothing deleted (--yes skips this question)")


def _purge_all(ctx: Context, args: argparse.Namespace) -> Result:
    if any(v is not None for v in (args.keep_last, args.older_than, args.keep_rollback_targets)):
        raise UsageError(
            "purge --all takes no --keep-last, --older-than or --keep-rollback-targets"
        )
    if args.dry_run:
        every = require_artifact(ctx, args.name)
        aliases = [a.alias for a in ctx.repo.list_aliases(args.name, ctx.bsm)]
        return Done(
            f"would erase {args.name}: {len(every)} version(s), {len(aliases)} alias(es)",
            {
                "name": args.name,
                "dry_run": True,
                "versions": [v.version for v in every],
                "aliases": aliases,
            },
        )
    if not args.yes:
        raise UsageError(
            f"purge --all deletes every version, alias and byte of {args.name} for good: "
            "add --yes to confirm"
        )
    ctx.repo.purge_artifact(args.name, ctx.bsm)
    return Done(f"purged {args.name} entirely", {"name": args.name, "purged": True})


def gc(ctx: Context, args: argparse.Namespace) -> Result:
    """Remove stored bytes no version needs (left by crashed puts), older than --grace;
    with --expire-deleted AGE first free the versions soft-deleted more than AGE ago;
    with --dry-run only list. The result is the URIs of the bytes removed (one a line; JSON
    an array); with --expire-deleted, first the expired versions (a table: NAME, VERSION,
    SIZE, DELETED; JSON an object with "expired", "bytes_freed" and "unreferenced")."""
    expired: list[ExpiredVersion] = []
    if args.expire_deleted is not None:
        expired = ctx.repo.expire_deleted_versions(
            args.expire_deleted,
            bsm=ctx.bsm,
            dry_run=args.dry_run,
            keep_rollback_targets=(
                KEEP_ROLLBACK if args.keep_rollback_targets is None else args.keep_rollback_targets
            ),
        )
    elif args.keep_rollback_targets is not None:
        raise UsageError("--keep-rollback-targets goes with --expire-deleted")
    found = ctx.repo.gc(args.dry_run, args.grace, ctx.bsm)
    would = args.dry_run
    if args.expire_deleted is not None:
        size = sum(e.size or 0 for e in expired) if would else sum(e.freed for e in expired)
        ctx.note(
            f"{'would expire' if would else 'expired'} {len(expired)} version(s) "
            + (
                f"of {human_size(size)} (less is freed where versions share content)"
                if would
                else f"freeing {human_size(size)}"
            )
        )
    ctx.note(f"{'found' if would else 'removed'} {len(found)} unreferenced object(s)")
    if args.expire_deleted is None:
        return found  # JSON: the array of URIs, as before expiry existed
    if ctx.json:
        return Done(
            "",
            {
                "dry_run": would,
                "expired": [
                    {
                        "name": e.name,
                        "version": e.version,
                        "size": e.size,
                        "deleted_at": e.deleted_at.isoformat(),
                        "freed": e.freed,
                    }
                    for e in expired
                ],
                "bytes_freed": sum(e.freed for e in expired),
                "unreferenced": found,
            },
        )
    lines = [expiry_table(expired)] if expired else []
    return "\n".join(lines + found)


def completion(ctx: Context, args: argparse.Namespace) -> Result:
    """The shell code that completes ``versioned`` (argcomplete, the 'completion' extra)."""
    try:
        from argcomplete.shell_integration import shellcode
    except ImportError:
        raise Failure(
            "shell completion needs argcomplete: install versioned with the 'completion' "
            "extra, or pip install argcomplete"
        ) from None
    code: str = shellcode(["versioned"], shell=args.shell)
    sys.stdout.write(code)
    return None
