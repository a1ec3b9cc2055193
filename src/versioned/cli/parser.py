"""The argument parser, built from the command table (:mod:`versioned.cli.table`).

Global options (``--repo``, ``--json``, ``--quiet``, ``--verbose``) are accepted before
or after the command; a mistyped command gets the nearest one suggested; every parse
error raises :class:`UsageError`, which ``main`` reports in one line with exit code 2.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from .. import __version__, arguments, exc

if TYPE_CHECKING:
    from .context import Context
    from .output import Result

REPO_ENV = "VERSIONED_REPO"
DEFAULT_REPO = ".versioned"


class UsageError(Exception):
    """The command line is wrong (exit code 2)."""


@dataclass(frozen=True)
class Arg:
    """One argument of a command: ``add_argument(*flags, **options)``, in ``group`` (a
    mutually exclusive group, by name) when given; ``completes`` names what tab
    completion offers from the repository (see :mod:`.completers`)."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    group: str | None = None
    completes: str | None = None


@dataclass(frozen=True)
class Command:
    """A row of the command table.

    ``handler`` is ``"module:function"`` in this package, imported when the command runs.
    ``opens``: ``"create"`` opens (and makes) the repository, ``"existing"`` opens it only
    if it exists, ``"none"`` opens nothing. ``prints`` says what goes to standard output
    (scripts rely on it; the help shows it).
    """

    path: tuple[str, ...]
    handler: str
    summary: str
    examples: str
    arguments: tuple[Arg, ...] = ()
    opens: str = "existing"
    prints: str = "nothing (with --json: an object saying what was done)"

    def run(self, ctx: Context, args: argparse.Namespace) -> Result:
        """Import the handler and run it."""
        module, function = self.handler.split(":")
        found: Callable[[Context, argparse.Namespace], Result] = getattr(
            importlib.import_module(f"{__package__}.{module}"), function
        )
        return found(ctx, args)


def positional(name: str, help: str, completes: str | None = None, **options: Any) -> Arg:
    """A positional argument shown as ``name`` (``NAME``, ``ALIAS``...)."""
    return Arg((name.lower(),), {"metavar": name, "help": help, **options}, None, completes)


def option(
    *flags: str, group: str | None = None, completes: str | None = None, **options: Any
) -> Arg:
    """An option such as ``--version V``."""
    return Arg(flags, options, group, completes)


class _Completer:
    """What argcomplete calls for an argument: :func:`.completers.offer`, imported only
    when the shell asks (``versioned --help`` and the commands never load it)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __call__(self, prefix: str, parsed_args: argparse.Namespace, **kwargs: Any) -> list[str]:
        from .completers import offer

        return offer(self.what, prefix, parsed_args, **kwargs)


# --- value types: their errors name the flag (argparse adds "argument --weight:") --------
# Each refuses what it cannot turn into a value with ArgumentTypeError: argparse reports a
# ValueError with the whole text (5,000 digits of it), and an OverflowError as a traceback.

#: More digits than any number a flag takes needs; int() refuses more than 4,300.
_MOST_DIGITS = 100


def key_value(text: str) -> tuple[str, str]:
    """Parse ``KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {arguments.shown(text)}")
    return key, value


def _digits(text: str, expected: str) -> int:
    """``text``, ASCII digits only, as an int; else ArgumentTypeError saying ``expected``."""
    if not re.fullmatch(r"[0-9]+", text):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {arguments.shown(text)}")
    if len(text.lstrip("0")) > _MOST_DIGITS:
        raise argparse.ArgumentTypeError(
            f"expected {expected}, got {arguments.shown(text)} ({len(text)} digits)"
        )
    return int(text)


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """A value type: a whole number from ``low`` (to ``high``, when given)."""
    expected = (
        f"a whole number from {low} to {high}"
        if high is not None
        else f"a whole number ({low} or more)"
    )

    def parse(text: str) -> int:
        number = _digits(text, expected)
        if number < low or (high is not None and number > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {arguments.shown(text)}")
        return number

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


#: ``--weight``: a percentage; ``--keep-last``, ``--if-revision``: 0 or more;
#: ``--limit``, ``--before``, ``--to``: 1 or more (no page is empty, revisions start at 1).
weight, count, positive = whole_number(0, 99), whole_number(0), whole_number(1)


def version(text: str) -> str:
    """Check a version as the library does (a number from 1, or LATEST); keep the text."""
    try:
        arguments.check_version(text)
    except exc.InvalidArgumentError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration_parts(text: str, number: str, expected: str) -> tuple[str, int]:
    """The number and the unit's seconds of ``text`` (``number`` is the number's regex)."""
    found = re.fullmatch(rf"({number})\s*([smhdw]?)", text.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {arguments.shown(text)}")
    return found.group(1), _UNITS[found.group(2)]


def duration(text: str) -> int:
    """Parse a duration in seconds: ``3600``, ``45s``, ``30m``, ``12h``, ``90d``, ``2w``."""
    expected = "a duration such as 90d, 12h, 30m or a number of seconds"
    number, unit = _duration_parts(text, "[0-9]+", expected)
    return _digits(number, expected) * unit


def short_duration(text: str) -> float:
    """A :func:`duration` that may have a fraction (``0.5s``, ``1.5m``), at most a year."""
    expected = "a duration such as 10m, 30s or 0.5s (at most 365d)"
    number, unit = _duration_parts(text, r"[0-9]{1,12}(?:\.[0-9]{1,6})?|\.[0-9]{1,6}", expected)
    seconds = float(number) * unit
    if seconds > arguments.MOST_SECONDS:  # the library's bound for a rollout's durations
        raise argparse.ArgumentTypeError(f"expected {expected}, got {arguments.shown(text)}")
    return seconds


def moment(text: str) -> datetime:
    """Parse a point in time: ISO 8601 (``2026-11-26T09:30:00Z``; without a zone it is
    UTC) or an age such as ``2h`` (that long ago), within the years 1 to 9999 in UTC."""
    try:
        ago = duration(text)
    except argparse.ArgumentTypeError:
        pass
    else:
        try:
            return datetime.now(timezone.utc) - timedelta(seconds=ago)
        except OverflowError:  # past timedelta's 999,999,999 days, or before the year 1
            raise argparse.ArgumentTypeError(
                f"{arguments.shown(text)} ago is before the year 1, the earliest time there is"
            ) from None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected a time such as 2026-11-26T09:30:00Z or an age such as 2h, "
            f"got {arguments.shown(text)}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return arguments.check_moment(parsed, "the time")
    except exc.InvalidArgumentError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# --- the parser ---------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError`, with a suggestion for a
    mistyped command."""

    def error(self, message: str) -> NoReturn:
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong is not None:
            choices = re.findall(r"'([^']*)'", wrong.group(2))
            near = difflib.get_close_matches(wrong.group(1), choices, n=1, cutoff=0.5)
            hint = f": did you mean '{near[0]}'?" if near else ""
            message = f"unknown command '{wrong.group(1)}'{hint}"
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command takes. Below the top they default to SUPPRESS, so that
    one given before the command is not reset by the command's parser."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--repo",
        metavar="URI",
        default=default(os.environ.get(REPO_ENV) or DEFAULT_REPO),
        help=f"the repository (default: ${REPO_ENV}, else the local folder {DEFAULT_REPO})",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print results as JSON"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no remarks, no progress bar",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="show each request (S3, DynamoDB) or operation (local) and its time",
    )


def build_parser(table: Sequence[Command]) -> Parser:
    """The parser of the whole command line; each command sets ``command`` to its row."""
    parser = Parser(
        prog="versioned",
        description="Keep immutable, numbered versions of binary artifacts, and aliases "
        "that point at them, on S3 + DynamoDB or in a local folder.",
        epilog="repository URIs: a folder path, file:///PATH, or "
        "s3://BUCKET/PREFIX?table=TABLE&region=REGION&suffix=.EXT\n"
        "exit codes: 0 done, 1 failed, 2 bad usage or input, 130 interrupted; "
        "rollout run and step: 3 aborted, 4 paused\n\n"
        "examples:\n  versioned init\n"
        "  versioned put model ./model.bin && versioned publish model\n"
        "  versioned versions model --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, top=True)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    groups: dict[tuple[str, ...], argparse._SubParsersAction[Parser]] = {
        (): parser.add_subparsers(dest="command_name", metavar="COMMAND", required=True)
    }
    for command in table:
        parent = command.path[:-1]
        if parent not in groups:
            group = groups[parent[:-1]].add_parser(
                parent[-1],
                help=f"{parent[-1]} commands: see 'versioned {' '.join(parent)} --help'",
                description=f"The {' '.join(parent)} commands.",
            )
            _global_options(group, top=False)
            groups[parent] = group.add_subparsers(
                dest=f"{'_'.join(parent)}_command", metavar="COMMAND", required=True
            )
        _add_command(groups[parent], command)
    return parser


def _add_command(group: argparse._SubParsersAction[Parser], command: Command) -> None:
    summary = command.summary
    parser = group.add_parser(
        command.path[-1],
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=textwrap.fill(f"standard output: {command.prints}", 88, subsequent_indent="  ")
        + "\n\nexamples:\n"
        + "\n".join(f"  {line}" for line in command.examples.splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exclusive: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for argument in command.arguments:
        target: Any = parser
        if argument.group is not None:
            if argument.group not in exclusive:
                exclusive[argument.group] = parser.add_mutually_exclusive_group()
            target = exclusive[argument.group]
        action = target.add_argument(*argument.flags, **argument.options)
        if argument.completes is not None:
            action.completer = _Completer(argument.completes)
    _global_options(parser, top=False)
    parser.set_defaults(command=command)
