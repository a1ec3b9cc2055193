"""What a command needs besides its arguments: the repository, the session to call it
with, and how to talk to people (remarks, progress, --verbose)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from ..local_backend import Repository as LocalRepository
    from ..s3_and_dynamodb_backend import Repository as S3Repository
    from .progress import Meter

Repository: TypeAlias = "LocalRepository | S3Repository"


class Failure(Exception):
    """The command could not do what was asked (exit code 1); the message says why."""


@dataclass
class Context:
    """The open repository and the output style; ``bsm`` goes with every call."""

    args: argparse.Namespace
    opened: Repository | None = None
    bsm: Any = None
    #: what ``main`` exits with once the result is printed (``rollout run``: 3, 4)
    exit_code: int = 0

    @property
    def repo(self) -> Repository:
        """The repository (commands that open none never ask for it)."""
        assert self.opened is not None, "this command opens no repository"
        return self.opened

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def quiet(self) -> bool:
        return bool(self.args.quiet)

    def note(self, message: str) -> None:
        """Tell a person ``message`` on standard error, unless ``--quiet``."""
        if not self.quiet:
            print(f"versioned: {message}", file=sys.stderr, flush=True)

    @property
    def shows_progress(self) -> bool:
        """True when transfers draw a bar: stderr is a terminal, no --quiet, no --verbose."""
        return not self.quiet and not self.args.verbose and sys.stderr.isatty()

    def progress(self, label: str, meter: Meter) -> contextlib.AbstractContextManager[object]:
        """A bar drawing ``meter`` on a terminal; nothing with --quiet, --verbose, a pipe."""
        if not self.shows_progress:
            return contextlib.nullcontext()
        from .progress import ProgressBar

        return ProgressBar(label, meter)

    def confirm(self, question: str) -> bool:
        """Ask a yes/no question on the terminal; True only for an answer starting with y."""
        print(f"versioned: {question} [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
        return answer.strip().lower().startswith("y")

    @staticmethod
    def on_terminal() -> bool:
        """True when a person can answer: standard input and error are a terminal."""
        return sys.stdin.isatty() and sys.stderr.isatty()
