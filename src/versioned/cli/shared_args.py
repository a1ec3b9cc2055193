"""The arguments several commands share (the artifact NAME, the ALIAS, --version,
--if-revision, --reason...), and the helpers that make the rest of the table short."""

from __future__ import annotations

from .parser import Arg, count, key_value, option, positional, version

NAME = positional("NAME", "the artifact name (A-Z a-z 0-9 . _ -)", "names")
ALIAS = positional("ALIAS", "the alias name (A-Z a-z 0-9 _, not all digits)", "aliases")
VERSION = option(
    "--version",
    metavar="V",
    type=version,
    completes="versions",
    help="a version number or LATEST (the default)",
)


IF_REVISION = option(
    "--if-revision",
    metavar="N",
    type=count,
    help="only if the alias is at revision N (0: only if it does not exist yet); "
    "refused if someone changed it first",
)
REASON = option("--reason", metavar="TEXT", help="why, for the alias's history")


def which(what: str) -> tuple[Arg, ...]:
    """--version and --alias, one or the other: which version a command is about."""
    return (
        option(
            "--version",
            metavar="V",
            type=version,
            group="which",
            completes="versions",
            help="a version number or LATEST",
        ),
        option("--alias", metavar="A", group="which", completes="aliases", help=what),
    )


def pairs(flag: str, what: str) -> Arg:
    """A repeatable KEY=VALUE option (``--metadata``, ``--tag``)."""
    return option(
        flag, metavar="KEY=VALUE", type=key_value, action="append", default=[],
        help=f"{what}; repeat for more",
    )  # fmt: skip
