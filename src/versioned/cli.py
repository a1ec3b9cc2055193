"""The ``versioned`` command line: each repository operation as a subcommand.

``versioned [--repo URI] [--json] [--quiet] COMMAND ...`` opens the repository named by
``--repo``, else by ``$VERSIONED_REPO``, else the local folder ``./.versioned``, runs one
command and exits 0 on success, 1 when the operation failed, 2 on bad usage or bad input,
130 on Ctrl-C. Errors are one line on standard error; data goes to standard output (a
table or plain text for people, JSON with ``--json``), remarks to standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn, TypeAlias
from urllib.parse import unquote, urlparse

from . import __version__, exc, open_repository
from .model import Alias, Artifact

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from .local_backend import Repository as LocalRepository
    from .s3_and_dynamodb_backend import Repository as S3Repository

__all__ = ["build_parser", "main"]

REPO_ENV = "VERSIONED_REPO"
DEFAULT_REPO = ".versioned"
#: transfers smaller than this show no progress bar
PROGRESS_MIN_BYTES = 1 << 20
EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

#: the fields of the JSON objects, in this order
ARTIFACT_FIELDS = ("name", "version", "sha256", "update_at", "uri")
ALIAS_FIELDS = (
    "name",
    "alias",
    "version",
    "secondary_version",
    "secondary_version_weight",
    "update_at",
)
#: the columns of a table of them, for people (the name is the command's NAME)
ARTIFACT_COLUMNS = ("version", "update_at", "sha256", "uri")
ALIAS_COLUMNS = ("alias", "version", "secondary_version", "secondary_version_weight", "update_at")

Repository: TypeAlias = "LocalRepository | S3Repository"
Result: TypeAlias = (
    "Artifact | Alias | Sequence[Artifact] | Sequence[Alias] | Sequence[str] | str | None"
)
Handler: TypeAlias = "Callable[[Context, argparse.Namespace], Result]"


class UsageError(Exception):
    """The command line is wrong (exit code 2)."""


@dataclass
class Context:
    """What a command needs besides its arguments: the repository and the output style."""

    repo: Repository
    json: bool
    quiet: bool

    def note(self, message: str) -> None:
        """Tell a person ``message`` on standard error, unless ``--quiet``."""
        if not self.quiet:
            print(f"versioned: {message}", file=sys.stderr, flush=True)

    def progress(
        self, label: str, measure: Callable[[], int], total: int | None
    ) -> contextlib.AbstractContextManager[object]:
        """A progress bar for a transfer, or a no-op unless stderr is a terminal, not --quiet."""
        if self.quiet or not sys.stderr.isatty():
            return contextlib.nullcontext()
        return Progress(label, measure, total)


# --- commands -------------------------------------------------------------------------


def _cmd_init(ctx: Context, args: argparse.Namespace) -> Result:
    """Make the bucket and table, or the folder, if missing (idempotent); prints nothing."""
    ctx.repo.bootstrap()
    ctx.note(f"repository ready: {args.repo}")
    return None


def _cmd_put(ctx: Context, args: argparse.Namespace) -> Result:
    """Store FILE (``-``: stdin) as LATEST of NAME; the result is the LATEST artifact."""
    options = {"content_type": args.content_type, "metadata": dict(args.metadata) or None}
    with (
        _open_source(args.file) as source,
        ctx.progress(f"put {args.name}", lambda: source.position, source.size()),
    ):
        return ctx.repo.put_artifact(args.name, source, **options)


def _cmd_publish(ctx: Context, args: argparse.Namespace) -> Result:
    """Freeze LATEST as the next number: that number, or the artifact with --json."""
    artifact: Artifact = ctx.repo.publish_artifact_version(args.name)
    return artifact if ctx.json else artifact.version


def _cmd_get(ctx: Context, args: argparse.Namespace) -> Result:
    """Write a version's verified bytes to -o PATH or stdout; with --alias, pick by weight.

    Returns the artifact with ``--json -o`` (stdout holds nothing else), else nothing.
    """
    version = args.version
    if args.alias is not None:
        alias: Alias = ctx.repo.get_alias(args.name, args.alias)
        version = alias.random_version()
        split = (
            f" ({100 - alias.secondary_version_weight}% {alias.version}, "
            f"{alias.secondary_version_weight}% {alias.secondary_version})"
            if alias.secondary_version is not None and alias.secondary_version_weight is not None
            else ""
        )
        ctx.note(f"alias {args.alias} of {args.name} took version {version}{split}")
    artifact: Artifact = ctx.repo.get_artifact_version(args.name, version)
    if args.output is None:
        with tempfile.TemporaryDirectory(prefix="versioned-") as folder:
            path = Path(folder, "content")
            _download(ctx, artifact, path)
            with path.open("rb") as content:
                shutil.copyfileobj(content, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        return None
    _download(ctx, artifact, Path(args.output))
    ctx.note(f"wrote {args.output} ({artifact.name} version {artifact.version})")
    return artifact if ctx.json else None


def _cmd_versions(ctx: Context, args: argparse.Namespace) -> Result:
    """The live versions of NAME, LATEST first."""
    return ctx.repo.list_artifact_versions(args.name)


def _cmd_names(ctx: Context, args: argparse.Namespace) -> Result:
    """Every artifact name, sorted."""
    return ctx.repo.list_artifact_names()


def _cmd_delete(ctx: Context, args: argparse.Namespace) -> Result:
    """Soft-delete a version (LATEST by default); prints nothing."""
    ctx.repo.delete_artifact_version(args.name, args.version)
    ctx.note(f"deleted {args.name} version {args.version or 'LATEST'} (restore brings it back)")
    return None


def _cmd_restore(ctx: Context, args: argparse.Namespace) -> Result:
    """Undo a soft delete; the result is the restored artifact."""
    return ctx.repo.restore_artifact_version(args.name, args.version)


def _cmd_alias_set(ctx: Context, args: argparse.Namespace) -> Result:
    """Create or move an alias; the result is the alias."""
    return ctx.repo.put_alias(
        args.name,
        args.alias,
        version=args.version,
        secondary_version=args.secondary_version,
        secondary_version_weight=args.weight,
    )


def _cmd_alias_get(ctx: Context, args: argparse.Namespace) -> Result:
    """The alias, or AliasNotFoundError."""
    return ctx.repo.get_alias(args.name, args.alias)


def _cmd_alias_list(ctx: Context, args: argparse.Namespace) -> Result:
    """The aliases of NAME, sorted by alias."""
    return ctx.repo.list_aliases(args.name)


def _cmd_alias_delete(ctx: Context, args: argparse.Namespace) -> Result:
    """Delete an alias (a missing one is a no-op); prints nothing."""
    ctx.repo.delete_alias(args.name, args.alias)
    ctx.note(f"deleted alias {args.alias} of {args.name}")
    return None


def _cmd_purge(ctx: Context, args: argparse.Namespace) -> Result:
    """Retention (soft; the result is the purged versions), or with --all --yes a hard
    delete of everything under NAME (prints nothing). --all without --yes is a UsageError.
    """
    retention = {
        key: value
        for key, value in (
            ("keep_last_n", args.keep_last),
            ("purge_older_than_secs", args.older_than),
        )
        if value is not None
    }
    if not args.all:
        _, deleted = ctx.repo.purge_artifact_versions(args.name, **retention)
        ctx.note(f"purged {len(deleted)} version(s) of {args.name}")
        return deleted
    if not args.yes:
        raise UsageError(
            f"purge --all deletes every version, alias and byte of {args.name} for good: "
            "add --yes to confirm"
        )
    if retention:
        raise UsageError("purge --all takes no --keep-last or --older-than")
    ctx.repo.purge_artifact(args.name)
    ctx.note(f"purged {args.name} entirely")
    return None


# --- transfers ------------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """A readable binary stream over ``raw`` whose ``position`` counts the bytes read so far."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        view[: len(data)] = data
        self.position += len(data)
        return len(data)

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self.position = self._raw.seek(offset, whence)
        return self.position

    def tell(self) -> int:
        return self.position

    def size(self) -> int | None:
        """The number of bytes a regular file holds; ``None`` for a pipe or a terminal."""
        info = os.fstat(self._raw.fileno())
        return info.st_size if stat.S_ISREG(info.st_mode) else None


@contextlib.contextmanager
def _open_source(file: str) -> Iterator[CountingReader]:
    """Open FILE for reading (``-``: standard input), closing it afterwards."""
    if file == "-":
        yield CountingReader(sys.stdin.buffer)
        return
    with open(file, "rb") as raw:
        yield CountingReader(raw)


def _download(ctx: Context, artifact: Artifact, target: Path) -> None:
    """Stream ``artifact`` into ``target``, which appears (or is replaced) only when complete.

    Downloads into a private folder beside ``target`` so the bar can watch the bytes arrive.
    """
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(target.parent))
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".versioned-") as folder:
        part = Path(folder, "content")
        with ctx.progress(
            f"get {artifact.name}", lambda: _folder_bytes(folder), _stored_size(artifact)
        ):
            artifact.download(part)
        os.replace(part, target)


def _folder_bytes(folder: str) -> int:
    """How many bytes the files directly in ``folder`` hold now (0 for any that vanish)."""
    total = 0
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                total += entry.stat().st_size
    return total


def _stored_size(artifact: Artifact) -> int | None:
    """The artifact's size where it is cheap to know (a ``size`` field or a local file)."""
    size = getattr(artifact, "size", None)
    if isinstance(size, int):
        return size
    uri = urlparse(artifact.uri)
    if uri.scheme == "file":
        with contextlib.suppress(OSError):
            return os.path.getsize(unquote(uri.path))
    return None


class Progress:
    """A one-line progress bar on standard error, redrawn five times a second.

    ``measure()`` says how many bytes are done; with ``total`` known the line has a bar, a
    percentage and the time left, else bytes and rate. Nothing is drawn until the transfer
    involves ``PROGRESS_MIN_BYTES``; the line is finished on exit.
    """

    def __init__(self, label: str, measure: Callable[[], int], total: int | None) -> None:
        self._label, self._measure, self._total = label, measure, total
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._drawn = False

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if kind is None:
            self._draw()
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._draw()

    def _draw(self) -> None:
        done = self._measure()
        total = self._total
        if max(done, total or 0) < PROGRESS_MIN_BYTES:
            return
        rate = done / max(time.monotonic() - self._start, 1e-3)
        parts = [self._label, _human_bytes(done), f"{_human_bytes(rate)}/s"]
        if total:
            fraction = min(done / total, 1.0)
            left = (total - done) / rate if rate else 0.0
            parts[1:2] = [
                f"[{'#' * round(fraction * 20):<20}] {fraction:4.0%}",
                f"{_human_bytes(done)} / {_human_bytes(total)}",
            ]
            parts.append(f"{int(left) // 60}:{int(left) % 60:02d} left")
        sys.stderr.write("\r" + "  ".join(parts) + "\x1b[K")
        sys.stderr.flush()
        self._drawn = True


def _human_bytes(count: float) -> str:
    """``count`` bytes for people: ``512 B``, ``1.5 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


# --- output ---------------------------------------------------------------------------


def _emit(result: Result, ctx: Context) -> None:
    """Print a command's result on standard output: JSON, or plain text for people."""
    if result is None:
        return
    if isinstance(result, str):
        text = result
    elif ctx.json:
        text = json.dumps(_to_json(result), indent=2)
    elif isinstance(result, (Artifact, Alias)):
        text = _align([[key, _cell(value)] for key, value in _record(result).items()])
    elif all(isinstance(item, str) for item in result):
        text = "\n".join(str(item) for item in result)
    else:
        records = [_record(item) for item in result if not isinstance(item, str)]
        columns = ALIAS_COLUMNS if "alias" in records[0] else ARTIFACT_COLUMNS
        header = [column.replace("_version", "").upper() for column in columns]
        # a table is for people: a hash prefix tells versions apart (--json has it all)
        rows = [[_cell(r[c])[: 12 if c == "sha256" else None] for c in columns] for r in records]
        text = _align([header, *rows])
    if text:
        print(text)


def _to_json(result: object) -> object:
    """The JSON form: an object per artifact or alias, an array for a list."""
    if isinstance(result, (Artifact, Alias)):
        return _record(result)
    if isinstance(result, (list, tuple)):
        return [_to_json(item) for item in result]
    return result


def _record(item: Artifact | Alias) -> dict[str, object]:
    """The public fields of ``item``; ``update_at`` as an ISO 8601 string."""
    fields = ALIAS_FIELDS if isinstance(item, Alias) else ARTIFACT_FIELDS
    record = {field: getattr(item, field) for field in fields}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _align(rows: list[list[str]]) -> str:
    """The rows as text with every column padded to its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- the parser -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError`, for ``main`` to report."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _metadata_item(text: str) -> tuple[str, str]:
    """Parse ``KEY=VALUE`` for ``--metadata``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _command(
    group: argparse._SubParsersAction[_Parser],
    name: str,
    run: Handler,
    summary: str,
    examples: str,
    *arguments: str,
) -> _Parser:
    """Add the subcommand ``name`` running ``run``, with the positional ``arguments``
    (``NAME``, ``ALIAS``...) and ``examples`` in its help."""
    parser = group.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples.splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for argument in arguments:
        parser.add_argument(argument.lower(), metavar=argument, help=_ARGUMENT_HELP[argument])
    parser.set_defaults(run=run)
    return parser


_ARGUMENT_HELP = {
    "NAME": "the artifact name (A-Z a-z 0-9 . _ -)",
    "ALIAS": "the alias name (A-Z a-z 0-9 _, not all digits)",
    "FILE": "the file to store, or - for standard input",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line; each subcommand sets ``run``, its handler."""
    parser = _Parser(
        prog="versioned",
        description="Keep immutable, numbered versions of binary artifacts, and aliases "
        "that point at them, on S3 + DynamoDB or in a local folder.",
        epilog="repository URIs: a folder path, file:///PATH, or "
        "s3://BUCKET/PREFIX?table=TABLE&region=REGION&suffix=.EXT\n"
        "exit codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted\n\n"
        "examples:\n  versioned init\n"
        "  versioned put model ./model.bin && versioned publish model\n"
        "  versioned --json versions model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--repo",
        metavar="URI",
        default=os.environ.get(REPO_ENV) or DEFAULT_REPO,
        help=f"the repository (default: ${REPO_ENV}, else the local folder {DEFAULT_REPO})",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no remarks, no progress bar")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _command(
        commands,
        "init",
        _cmd_init,
        "create the bucket and table (or the local folder)",
        "versioned init\nversioned --repo 's3://my-bucket/artifacts?table=artifacts' init",
    )
    put = _command(
        commands,
        "put",
        _cmd_put,
        "store FILE as the LATEST version of NAME",
        "versioned put model ./model.bin --metadata git_sha=1a2b3c\n"
        "tar c conf | versioned put conf - --content-type application/x-tar",
        "NAME",
        "FILE",
    )
    put.add_argument("--content-type", metavar="T", help="the MIME type to record")
    put.add_argument(
        "--metadata",
        metavar="KEY=VALUE",
        type=_metadata_item,
        action="append",
        default=[],
        help="user metadata (ASCII); repeat for more",
    )
    _command(
        commands,
        "publish",
        _cmd_publish,
        "freeze LATEST as a new numbered version; prints its number",
        "versioned publish model",
        "NAME",
    )
    get = _command(
        commands,
        "get",
        _cmd_get,
        "write the bytes of a version to -o PATH or standard output",
        "versioned get model --version 3 -o model.bin\n"
        "versioned get model --alias prod > model.bin",
        "NAME",
    )
    which = get.add_mutually_exclusive_group()
    which.add_argument("--version", metavar="V", help="a version number or LATEST (default)")
    which.add_argument(
        "--alias",
        metavar="A",
        help="the version an alias points at "
        "(with a canary, picked by weight; the pick is said on stderr)",
    )
    get.add_argument("-o", "--output", metavar="PATH", help="the file to write")
    _command(
        commands,
        "versions",
        _cmd_versions,
        "list the versions of NAME, LATEST first",
        "versioned versions model\nversioned --json versions model",
        "NAME",
    )
    _command(commands, "names", _cmd_names, "list the artifact names", "versioned names")
    delete = _command(
        commands,
        "delete",
        _cmd_delete,
        "soft-delete a version (restore undoes it)",
        "versioned delete model --version 2",
        "NAME",
    )
    delete.add_argument("--version", metavar="V", help="the version (default: LATEST)")
    restore = _command(
        commands,
        "restore",
        _cmd_restore,
        "bring back a soft-deleted version",
        "versioned restore model --version 2",
        "NAME",
    )
    restore.add_argument("--version", metavar="V", required=True, help="the version")

    alias = commands.add_parser(
        "alias",
        help="set, show, list and delete aliases",
        description="Set, show, list and delete the aliases of an artifact.",
        epilog="examples:\n  versioned alias set model prod --version 3\n"
        "  versioned alias list model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    aliases = alias.add_subparsers(dest="alias_command", metavar="COMMAND", required=True)
    alias_set = _command(
        aliases,
        "set",
        _cmd_alias_set,
        "point ALIAS at a version, optionally sending a share of the picks to a second one",
        "versioned alias set model prod --version 3\n"
        "versioned alias set model prod --version 3 --secondary-version 4 "
        "--weight 20",
        "NAME",
        "ALIAS",
    )
    alias_set.add_argument("--version", metavar="V", help="the version (default: LATEST)")
    alias_set.add_argument("--secondary-version", metavar="V", help="the canary version")
    alias_set.add_argument(
        "--weight", metavar="W", type=int, help="percent of picks (0-99) for the secondary version"
    )
    _command(
        aliases,
        "get",
        _cmd_alias_get,
        "show an alias",
        "versioned alias get model prod",
        "NAME",
        "ALIAS",
    )
    _command(
        aliases,
        "list",
        _cmd_alias_list,
        "list the aliases of NAME",
        "versioned alias list model",
        "NAME",
    )
    _command(
        aliases,
        "delete",
        _cmd_alias_delete,
        "delete an alias",
        "versioned alias delete model prod",
        "NAME",
        "ALIAS",
    )

    purge = _command(
        commands,
        "purge",
        _cmd_purge,
        "soft-delete old versions (LATEST and "
        "aliased ones stay), or with --all --yes erase NAME for good",
        "versioned purge model --keep-last 5 --older-than 86400\nversioned purge model --all --yes",
        "NAME",
    )
    purge.add_argument(
        "--keep-last",
        metavar="N",
        type=int,
        help="keep the N newest versions (library default: 10)",
    )
    purge.add_argument(
        "--older-than",
        metavar="SECONDS",
        type=int,
        help="only versions older than this (library default: 90 days)",
    )
    purge.add_argument("--all", action="store_true", help="hard-delete every version and alias")
    purge.add_argument("--yes", action="store_true", help="confirm --all")
    return parser


# --- main -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        args = build_parser().parse_args(argv)
        ctx = Context(open_repository(args.repo), json=args.json, quiet=args.quiet)
        _emit(args.run(ctx, args), ctx)
        sys.stdout.flush()
        return 0
    except BrokenPipeError:
        # the reader went away (| head): say nothing, and keep Python's exit flush quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:
        code, message = _describe(error)
        print(f"versioned: error: {message}", file=sys.stderr)
        return code


def _describe(error: Exception) -> tuple[int, str]:
    """The exit code and the one-line message for ``error``; re-raises bugs."""
    if isinstance(error, (UsageError, exc.InvalidArgumentError, exc.InvalidArgumentTypeError)):
        return EXIT_USAGE, str(error)
    if isinstance(error, exc.RepositoryNotReadyError):
        return EXIT_FAILURE, f"{error} (run 'versioned init' first)"
    if isinstance(error, exc.VersionedError):
        return EXIT_FAILURE, str(error)
    if isinstance(error, OSError):
        where = error.filename2 or error.filename
        return EXIT_FAILURE, f"{error.strerror or error}" + (f": {where}" if where else "")
    raise error
