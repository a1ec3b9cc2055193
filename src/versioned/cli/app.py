"""``main``: parse, open the repository the command needs, run it, print, exit.

Exit codes: 0 done, 1 the operation failed, 2 bad usage or input, 130 Ctrl-C; ``rollout
run`` and ``rollout step`` also 3 (aborted) and 4 (paused). Errors are
one line on standard error, naming the command line's flags; data goes to standard
output; remarks go to standard error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence

from .. import exc, open_repository
from .context import Context, Failure
from .errors import not_ready
from .files import UnusableOutput
from .output import emit
from .parser import Command, UsageError, build_parser
from .table import COMMANDS

EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

#: library parameter names, as the command line spells them
_FLAGS = {
    "secondary_version_weight": "--weight",
    "secondary_version": "--secondary-version",
    "keep_last_n": "--keep-last",
    "purge_older_than_secs": "--older-than",
    "grace_seconds": "--grace",
    "content_type": "--content-type",
}
_FLAG_RE = re.compile(r"\b(" + "|".join(_FLAGS) + r")\b")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    ctx: Context | None = None
    try:
        parser = build_parser(COMMANDS)
        if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions: answer, exit
            _complete(parser)
        if not arguments:
            parser.print_help()
            return 0
        args = parser.parse_args(arguments)
        command: Command = args.command
        ctx = Context(args)
        _open(ctx, command, args)
        result = command.run(ctx, args)
        emit(
            result,
            as_json=ctx.json,
            quiet=ctx.quiet,
            show_deleted=bool(getattr(args, "deleted", False) or getattr(args, "all", False)),
        )
        sys.stdout.flush()
        return ctx.exit_code
    except BrokenPipeError:
        # the reader went away (| head): say nothing, and keep Python's exit flush quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:
        code, message = describe(error, ctx.opened if ctx is not None else None)
        print(f"versioned: error: {message}", file=sys.stderr)
        return code


def _open(ctx: Context, command: Command, args: argparse.Namespace) -> None:
    """Open the repository as the command needs it; with --verbose, trace its calls."""
    if command.opens == "none":
        return
    repo = open_repository(args.repo, create=command.opens == "create")
    ctx.opened = repo
    if args.verbose:
        from .trace import TracedBackend, traced_session

        def say(line: str) -> None:
            print(f"versioned: {line}", file=sys.stderr, flush=True)

        region = getattr(repo, "aws_region", None)
        if region is not None:
            ctx.bsm = traced_session(say, region)
        else:
            repo._trace(lambda backend: TracedBackend(backend, say))  # type: ignore[arg-type,return-value]


def _complete(parser: argparse.ArgumentParser) -> None:
    try:
        import argcomplete
    except ImportError:
        sys.exit(1)
    # options only once a "-" is typed: an empty word completes the NAME or ALIAS
    argcomplete.autocomplete(parser, always_complete_options=False)
    sys.exit(0)  # argcomplete exits itself; this is for a version that would not


def describe(error: Exception, repo: object = None) -> tuple[int, str]:
    """The exit code and the one-line message for ``error`` (``repo``: the repository the
    command opened, if any, to name what is missing); re-raises bugs."""
    if isinstance(error, (UsageError, UnusableOutput)):
        return EXIT_USAGE, str(error)
    if isinstance(error, (exc.InvalidArgumentError, exc.InvalidArgumentTypeError)):
        return EXIT_USAGE, _FLAG_RE.sub(lambda m: _FLAGS[m.group(1)], str(error))
    if isinstance(error, exc.RepositoryNotFoundError):
        return EXIT_FAILURE, (
            f"{error}: 'versioned init' makes one there, or name another with --repo "
            "or $VERSIONED_REPO"
        )
    if isinstance(error, exc.RepositoryNotReadyError):
        return EXIT_FAILURE, not_ready(error, repo)
    if isinstance(error, (exc.VersionedError, Failure)):
        return EXIT_FAILURE, str(error)
    if isinstance(error, OSError):
        where = error.filename2 or error.filename
        return EXIT_FAILURE, f"{error.strerror or error}" + (f": {where}" if where else "")
    raise error
