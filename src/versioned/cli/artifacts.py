"""The commands on artifacts and their versions: put, publish, get, show, versions, names,
delete, restore. Each takes the context and the parsed arguments and returns a result
for :func:`versioned.cli.output.emit`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from ..arguments import check_version
from ..exc import ArtifactNotFoundError, ConcurrentWriteError, IntegrityError
from ..model import Alias, Artifact
from ..notation import describe_targets
from ..stores.base import CountingStream
from .context import Context, Failure
from .files import open_source, output_kind, stream_size
from .output import Done, Result, Shown, human_size
from .parser import UsageError
from .progress import Meter


@contextlib.contextmanager
def explain_missing(ctx: Context, name: str) -> Iterator[None]:
    """Turn "version X not found" into what is actually the matter: no artifact of that
    name at all, or a version that is soft-deleted (and how to bring it back)."""
    try:
        yield
    except ArtifactNotFoundError as error:
        every = ctx.repo.list_artifact_versions(name, ctx.bsm, include_deleted=True)
        if not every:
            raise no_artifact(name) from None
        version = error.version or "LATEST"
        if any(v.version == version and v.is_deleted for v in every):
            raise Failure(
                f"{name} version {version} is soft-deleted: "
                f"'versioned restore {name} --version {version}' brings it back"
            ) from None
        raise


def no_artifact(name: str) -> ArtifactNotFoundError:
    """The error for a name with no versions at all."""
    return ArtifactNotFoundError(
        f"no artifact named {name!r} ('versioned names' lists them)", name=name
    )


def require_artifact(ctx: Context, name: str) -> list[Artifact]:
    """Every version of ``name``, soft-deleted ones included; raises if there is none."""
    every: list[Artifact] = list(
        ctx.repo.list_artifact_versions(name, ctx.bsm, include_deleted=True)
    )
    if not every:
        raise no_artifact(name)
    return every


def put(ctx: Context, args: argparse.Namespace) -> Result:
    """Store FILE (``-``: stdin) as LATEST of NAME; the result is the LATEST artifact."""
    with open_source(args.file) as raw:
        meter = Meter(
            "reading", stream_size(raw), then=("sending", "completing the upload, committing")
        )
        with ctx.progress(f"put {args.name}", meter):
            return ctx.repo.put_artifact(
                args.name,
                CountingStream(raw, meter.add),
                args.content_type,
                dict(args.metadata) or None,
                dict(args.tag) or None,
                ctx.bsm,
                progress=meter.adder("sending"),
            )


def publish(ctx: Context, args: argparse.Namespace) -> Result:
    """Freeze LATEST as the next number: that number, or the artifact with --json.

    Content identical to the last published version is published again with a warning,
    or with ``--if-changed`` not at all: then nothing is printed (``v=$(versioned publish
    NAME --if-changed)`` is empty), and a remark on stderr names the version it equals.
    """
    live = require_artifact(ctx, args.name)
    latest = next((v for v in live if v.version == "LATEST" and not v.is_deleted), None)
    last = next((v for v in live if v.version != "LATEST" and not v.is_deleted), None)
    if latest is not None and last is not None and latest.sha256 == last.sha256:
        if args.if_changed:
            ctx.note(f"LATEST of {args.name} equals version {last.version}: nothing published")
            return None
        ctx.note(
            f"warning: LATEST of {args.name} equals version {last.version}; publishing the "
            "same bytes under a new number (--if-changed skips this)"
        )
    size = latest.size if latest is not None and latest.size is not None else 0
    # on S3 the copy is made by S3 and reports nothing: the bar says what it waits for
    verb = "copying" if getattr(ctx.repo, "s3_bucket", None) else "freezing"
    meter = Meter.waiting(size, f"{verb} {human_size(size)} of LATEST into a new version")
    with explain_missing(ctx, args.name), ctx.progress(f"publish {args.name}", meter):
        artifact: Artifact = ctx.repo.publish_artifact_version(args.name, ctx.bsm)
    return artifact if ctx.json else artifact.version


def get(ctx: Context, args: argparse.Namespace) -> Result:
    """Write a version's bytes to -o PATH or standard output; with --alias, the version
    the alias routes to (by --key, else drawn by its weights).

    Returns the artifact with ``--json -o PATH`` (stdout holds nothing else), else nothing.
    Through an alias whose record carries the target's hash, the bytes are fetched and
    verified without reading the version's record (two requests on S3, not three).
    """
    kind, target = output_kind(args.output or "-")  # a bad -o fails before any request
    if args.output is None and sys.stdout.isatty():
        # as curl does: bytes on a terminal garble it, and a person rarely wants them there
        raise UsageError(
            "standard output is a terminal: write to a file with -o FILE, pipe it, "
            "or add -o - to print the bytes here anyway"
        )
    if args.key is not None and args.alias is None:
        raise UsageError("--key routes through an alias: give --alias too")
    target_of = _target(ctx, args)
    artifact = target_of.artifact
    if artifact is None and (ctx.shows_progress or (ctx.json and kind == "file")):
        artifact = target_of.load(ctx)  # the bar's total, or the --json result
    meter = Meter(
        "receiving", _known_size(ctx, artifact) if ctx.shows_progress and artifact else None
    )
    name, version, sha256 = target_of.name, target_of.version, target_of.sha256
    try:
        with ctx.progress(f"get {name}", meter):
            if kind == "file":
                ctx.repo.download_version(name, version, sha256, target, ctx.bsm, meter.add)
            elif kind == "stream":
                with open(target, "wb") as out:
                    ctx.repo.write_version(name, version, sha256, out, ctx.bsm, meter.add)
            else:
                ctx.repo.write_version(name, version, sha256, sys.stdout.buffer, ctx.bsm, meter.add)
                sys.stdout.buffer.flush()
    except (IntegrityError, ConcurrentWriteError) as error:
        if kind == "file":
            raise
        where = "standard output" if kind == "stdout" else target
        raise Failure(f"{error}; the bytes written to {where} are not the stored ones") from None
    if kind == "file":
        ctx.note(f"wrote {args.output} ({name} version {version})")
        return artifact if ctx.json else None
    return None


@dataclass
class _Target:
    """The version a ``get`` reads: its record when it was read, else what an alias
    record says of it (its number and, for a published version, its hash)."""

    name: str
    version: str
    sha256: str | None
    artifact: Artifact | None = None

    def load(self, ctx: Context) -> Artifact:
        """The version's record (one more request)."""
        with explain_missing(ctx, self.name):
            return ctx.repo.get_artifact_version(self.name, self.version, ctx.bsm)


def _target(ctx: Context, args: argparse.Namespace) -> _Target:
    if args.alias is None:
        artifact = _chosen(ctx, args, pick=True)
        return _Target(artifact.name, artifact.version, artifact.sha256, artifact)
    with explain_missing(ctx, args.name):
        alias = ctx.repo.get_alias(args.name, args.alias, ctx.bsm)
    version = alias.route(args.key) if args.key is not None else alias.random_version()
    _say_pick(ctx, alias, version, "took" if args.key is None else f"routes key {args.key} to")
    sha256 = alias.target_sha256(version)
    if sha256 is None:  # LATEST, or an alias record that carries no hashes
        artifact = _Target(args.name, version, None).load(ctx)
        return _Target(args.name, version, artifact.sha256, artifact)
    return _Target(args.name, version, sha256)


def _say_pick(ctx: Context, alias: Alias, version: str, verb: str) -> None:
    """On a canary alias, say on stderr which version was taken and the split."""
    if alias.secondary_version is not None and alias.secondary_version_weight:
        split = describe_targets(
            alias.version, alias.secondary_version, alias.secondary_version_weight
        )
        ctx.note(f"alias {alias.alias} of {alias.name} {verb} version {version} of {split}")


def _chosen(ctx: Context, args: argparse.Namespace, *, pick: bool) -> Artifact:
    """The version ``get``/``show`` is about: --version, LATEST, or an --alias's primary
    version (with ``pick``, a version drawn by the alias's weights)."""
    version = args.version
    with explain_missing(ctx, args.name):
        if args.alias is not None:
            alias = ctx.repo.get_alias(args.name, args.alias, ctx.bsm)
            version = alias.random_version() if pick else alias.version
            _say_pick(ctx, alias, version, "took" if pick else "points at")
        return ctx.repo.get_artifact_version(args.name, version, ctx.bsm)


def _known_size(ctx: Context, artifact: Artifact) -> int | None:
    """The artifact's size, for the bar's total: recorded with it, else the local file's,
    else (a version whose item predates sizes) one HEAD of its S3 object."""
    if artifact.size is not None:
        return artifact.size
    uri = urlparse(artifact.uri)
    if uri.scheme == "file":
        with contextlib.suppress(OSError):
            return os.path.getsize(unquote(uri.path))
    path = getattr(artifact, "s3path", None)
    if path is not None:
        with contextlib.suppress(Exception):  # only the bar's total is at stake
            return int(path.head_object(bsm=ctx.bsm)["ContentLength"])
    return None


def show(ctx: Context, args: argparse.Namespace) -> Result:
    """One version in full, with the aliases pointing at it."""
    artifact = _chosen(ctx, args, pick=False)
    aliases = ctx.repo.list_aliases(args.name, ctx.bsm)
    pointing = [a.alias for a in aliases if artifact.version in (a.version, a.secondary_version)]
    return Shown(artifact, pointing)


def versions(ctx: Context, args: argparse.Namespace) -> Result:
    """The versions of NAME, LATEST first: live ones, or --deleted ones, or --all."""
    every = require_artifact(ctx, args.name)
    if args.all:
        return every
    return [v for v in every if v.is_deleted == args.deleted]


def names(ctx: Context, args: argparse.Namespace) -> Result:
    """Every artifact name, sorted."""
    return ctx.repo.list_artifact_names(ctx.bsm)


def delete(ctx: Context, args: argparse.Namespace) -> Result:
    """Soft-delete a version (LATEST by default). Like the library it succeeds when the
    version is missing or already deleted (a cleanup that runs twice), saying so."""
    version = args.version or "LATEST"
    wanted = check_version(version)
    every = ctx.repo.list_artifact_versions(args.name, ctx.bsm, include_deleted=True)
    found = next((v for v in every if check_version(v.version) == wanted), None)
    if found is None or found.is_deleted:
        why = "it is already deleted" if found else "there is no such version"
        return Done(
            f"nothing to delete: {args.name} version {found.version if found else version}: {why}",
            {"name": args.name, "version": version, "deleted": False},
        )
    ctx.repo.delete_artifact_version(args.name, version, ctx.bsm)
    return Done(
        f"deleted {args.name} version {found.version} (restore brings it back)",
        {"name": args.name, "version": found.version, "deleted": True},
    )


def restore(ctx: Context, args: argparse.Namespace) -> Result:
    """Undo a soft delete; the result is the restored artifact. A live version is an error:
    there is nothing to restore."""
    version = args.version or "LATEST"
    with contextlib.suppress(ArtifactNotFoundError):
        ctx.repo.get_artifact_version(args.name, version, ctx.bsm)
        raise Failure(f"{args.name} version {version} is not deleted: nothing to restore")
    with explain_missing(ctx, args.name):
        return ctx.repo.restore_artifact_version(args.name, version, ctx.bsm)
