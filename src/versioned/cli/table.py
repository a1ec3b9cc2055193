"""The command table: every command, its handler, its arguments and its help.

Handlers are named ``"module:function"`` (modules of this package) and imported only
when their command runs, so that ``versioned --help`` loads none of them.
"""

from __future__ import annotations

from .parser import (
    Command,
    count,
    duration,
    moment,
    option,
    positional,
    positive,
    version,
    weight,
    whole_number,
)
from .rollout_table import ROLLOUT_COMMANDS
from .shared_args import ALIAS, IF_REVISION, NAME, REASON, VERSION, pairs, which

#: the library's retention defaults
KEEP_LAST, OLDER_THAN, KEEP_ROLLBACK = 10, 90 * 86400, 1
#: on a terminal, purge asks before removing a version younger than this many days
CONFIRM_YOUNGER_DAYS = 7
#: the longest ``serve --cache-seconds`` (a day) and ``--presign-seconds`` (S3's limit for a
#: presigned URL: 7 days)
MOST_CACHE_SECONDS, MOST_PRESIGN_SECONDS = 86400, 7 * 86400

COMMANDS: tuple[Command, ...] = (
    Command(
        ("init",),
        "upkeep:init",
        "create the bucket and table (or the local folder)",
        "versioned init\nversioned --repo 's3://my-bucket/artifacts?table=artifacts' init",
        opens="create",
    ),
    Command(
        ("put",),
        "artifacts:put",
        "store FILE as the LATEST version of NAME",
        "versioned put model ./model.bin --metadata git_sha=1a2b3c\n"
        "tar c conf | versioned put conf - --content-type application/x-tar --tag team=ml",
        (
            NAME,
            positional("FILE", "the file to store, or - for standard input"),
            option("--content-type", metavar="T", help="the MIME type to record"),
            pairs("--metadata", "user metadata (printable ASCII)"),
            pairs("--tag", "an S3 object tag (the local backend keeps none)"),
        ),
        opens="create",
        prints="LATEST's record, a field a line (--json: an object)",
    ),
    Command(
        ("publish",),
        "artifacts:publish",
        "freeze LATEST as a new numbered version; prints its number",
        "versioned publish model\nversioned publish model --if-changed",
        (
            NAME,
            option(
                "--if-changed",
                action="store_true",
                help="publish nothing when LATEST equals the last published version",
            ),
        ),
        prints="the new version number alone (--json: its object); nothing at all when "
        "--if-changed publishes nothing",
    ),
    Command(
        ("get",),
        "artifacts:get",
        "write the bytes of a version to -o PATH or standard output",
        "versioned get model --version 3 -o model.bin\n"
        "versioned get model --alias prod > model.bin",
        (
            NAME,
            *which(
                "the version an alias points at "
                "(with a canary, picked by weight; the pick is said on stderr)"
            ),
            option(
                "--key",
                metavar="K",
                help="with --alias: route by this caller key (a user id, a host name); "
                "the same key always gets the same version",
            ),
            option(
                "-o",
                "--output",
                metavar="PATH",
                help="the file to write (- or none: standard output; a FIFO or device is "
                "written through)",
            ),
        ),
        prints="the bytes, unless -o PATH; refused on a terminal unless -o - "
        "(--json -o PATH: the version's object)",
    ),
    Command(
        ("show",),
        "artifacts:show",
        "show one version in full: hash, size, type, metadata, aliases",
        "versioned show model\nversioned show model --alias prod --json",
        (NAME, *which("the version an alias points at (its primary one)")),
        prints="the version's fields, one a line (--json: an object)",
    ),
    Command(
        ("versions",),
        "artifacts:versions",
        "list the versions of NAME, LATEST first",
        "versioned versions model\nversioned versions model --deleted\n"
        "versioned versions model --json",
        (
            NAME,
            option("--deleted", action="store_true", group="which", help="only soft-deleted"),
            option("--all", action="store_true", group="which", help="live and soft-deleted"),
        ),
        prints="a table, a version a line (--json: an array)",
    ),
    Command(
        ("names",),
        "artifacts:names",
        "list the artifact names",
        "versioned names",
        prints="a name a line (--json: an array)",
    ),
    Command(
        ("delete",),
        "artifacts:delete",
        "soft-delete a version (restore undoes it)",
        "versioned delete model --version 2",
        (NAME, VERSION),
    ),
    Command(
        ("restore",),
        "artifacts:restore",
        "bring back a soft-deleted version ('versions --deleted' lists them)",
        "versioned restore model --version 2",
        (NAME, VERSION),
        prints="the restored version's record (--json: an object)",
    ),
    Command(
        ("alias", "set"),
        "aliases:alias_set",
        "point ALIAS at a version, optionally sending a share of the picks to a second one",
        "versioned alias set model prod --version 3\n"
        "versioned alias set model prod --version 3 --secondary-version 4 --weight 20",
        (
            NAME,
            ALIAS,
            VERSION,
            option(
                "--secondary-version",
                metavar="V",
                type=version,
                completes="versions",
                help="the canary version",
            ),
            option(
                "--weight",
                metavar="W",
                type=weight,
                help="percent of picks (0-99) for the secondary version",
            ),
            IF_REVISION,
            REASON,
        ),
        prints="the alias's record with its new revision (--json: an object)",
    ),
    Command(
        ("alias", "get"),
        "aliases:alias_get",
        "show an alias (or where it pointed at a past time)",
        "versioned alias get model prod\nversioned alias get model prod --as-of 2h\n"
        "versioned alias get model prod --as-of 2026-11-26T09:30:00Z",
        (
            NAME,
            ALIAS,
            option(
                "--as-of",
                metavar="TIME",
                type=moment,
                help="where the alias pointed at TIME (ISO 8601, UTC unless it says; "
                "or an age such as 2h)",
            ),
        ),
        prints="the alias's record (--json: an object)",
    ),
    Command(
        ("alias", "history"),
        "aliases:alias_history",
        "list the changes of an alias, newest first: who, when, why, from -> to",
        "versioned alias history model prod\nversioned alias history model prod --verify",
        (
            NAME,
            ALIAS,
            option(
                "--limit", metavar="N", type=positive, default=50, help="at most N (default 50)"
            ),
            option(
                "--before",
                metavar="REV",
                type=positive,
                help="only revisions older than REV (the next page)",
            ),
            option(
                "--verify",
                action="store_true",
                help="check the whole history's hash chain; exit 1 if an entry was removed "
                "or altered",
            ),
        ),
        prints="a table, an entry a line (--json: an array); with --verify nothing "
        "(--json: an object)",
    ),
    Command(
        ("alias", "rollback"),
        "aliases:alias_rollback",
        "take the version(s) the alias's current state introduced out of traffic: back to "
        "the newest earlier state that served none of them (repeated rollbacks keep walking "
        "back, never forward); --to REV goes exactly where revision REV did",
        "versioned alias rollback model prod --if-revision 7 --reason 'errors on v7'\n"
        "versioned alias rollback model prod --to 12",
        (
            NAME,
            ALIAS,
            option(
                "--to",
                metavar="REV",
                type=positive,
                completes="revisions",
                help="exactly the targets of revision REV",
            ),
            IF_REVISION,
            REASON,
        ),
        prints="the alias's record after the rollback (--json: an object)",
    ),
    Command(
        ("alias", "list"),
        "aliases:alias_list",
        "list the aliases of NAME",
        "versioned alias list model",
        (NAME,),
        prints="a table, an alias a line (--json: an array)",
    ),
    Command(
        ("alias", "delete"),
        "aliases:alias_delete",
        "delete an alias",
        "versioned alias delete model prod",
        (NAME, ALIAS, IF_REVISION, REASON),
    ),
    Command(
        ("purge",),
        "upkeep:purge",
        "soft-delete old versions (LATEST and aliased ones stay), "
        "or with --all --yes erase NAME for good",
        "versioned purge model --keep-last 5 --older-than 30d --dry-run\n"
        "versioned purge model --all --yes",
        (
            NAME,
            option(
                "--keep-last",
                metavar="N",
                type=count,
                help=f"keep the N newest versions (default: {KEEP_LAST})",
            ),
            option(
                "--older-than",
                metavar="AGE",
                type=duration,
                help="only versions older than AGE: 90d, 12h, 30m or seconds (default: 90d)",
            ),
            option(
                "--keep-rollback-targets",
                metavar="N",
                type=count,
                help="also keep what each alias (a deleted one too) pointed at in its N "
                f"revisions before the current one (default: {KEEP_ROLLBACK}; 0: none)",
            ),
            option("--all", action="store_true", help="hard-delete every version and alias"),
            option("--dry-run", action="store_true", help="say what would go; delete nothing"),
            option(
                "--yes",
                action="store_true",
                help="confirm --all; on a terminal, skip the question before removing "
                f"versions younger than {CONFIRM_YOUNGER_DAYS} days",
            ),
        ),
        prints="the versions soft-deleted (or, --dry-run, that would be), a table "
        "(--json: an array); with --all nothing (--json: an object)",
    ),
    Command(
        ("gc",),
        "upkeep:gc",
        "remove stored bytes that no version needs (left by interrupted puts); with "
        "--expire-deleted, first free the storage of versions soft-deleted long ago",
        "versioned gc --dry-run\nversioned gc --grace 1h\n"
        "versioned gc --expire-deleted 30d --dry-run",
        (
            option("--dry-run", action="store_true", help="list them; remove nothing"),
            option(
                "--grace",
                metavar="AGE",
                type=duration,
                default=3600,
                help="leave bytes younger than AGE (a put may be under way; default: 1h)",
            ),
            option(
                "--expire-deleted",
                metavar="AGE",
                type=duration,
                help="remove for good the versions soft-deleted more than AGE ago (their "
                "bytes too; they can no longer be restored; numbers are never reused)",
            ),
            option(
                "--keep-rollback-targets",
                metavar="N",
                type=count,
                help="with --expire-deleted: what N rollbacks in a row would restore stays "
                f"(default {KEEP_ROLLBACK})",
            ),
        ),
        prints="the URIs of the objects removed (or found), one a line (--json: an array)",
    ),
    Command(
        ("serve",),
        "serve:serve",
        "serve a web page and an HTTP API over the repository (needs versioned[server])",
        "versioned serve\nversioned serve --port 8080\n"
        "VERSIONED_SERVER_TOKEN=s3cret versioned serve --host 0.0.0.0",
        (
            option(
                "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
            ),
            option(
                "--port",
                type=whole_number(0, 65535),
                default=8000,
                help="the port (default: 8000; 0: any free one)",
            ),
            option(
                "--token",
                metavar="SECRET",
                help="allow alias changes with 'Authorization: Bearer SECRET' (default: "
                "$VERSIONED_SERVER_TOKEN; without one the server is read-only and "
                "listens on loopback only); recorded as who made a change as "
                "'token:default'",
            ),
            option(
                "--tokens-file",
                metavar="PATH",
                help="more tokens, one 'NAME TOKEN' a line ('#' comments); a change made "
                "with one is recorded as made by 'token:NAME'",
            ),
            option(
                "--cache-seconds",
                metavar="S",
                type=whole_number(1, MOST_CACHE_SECONDS),
                default=5,
                help="how long resolve may answer from its cache of an alias (default: 5; "
                f"at most {MOST_CACHE_SECONDS})",
            ),
            option(
                "--allow-host",
                metavar="NAME",
                action="append",
                default=[],
                help="answer requests naming the host NAME (a reverse proxy's name); on "
                "loopback, besides the loopback names, else only those given; repeat for more",
            ),
            option(
                "--presign-seconds",
                metavar="S",
                type=whole_number(1, MOST_PRESIGN_SECONDS),
                default=300,
                help="how long an S3 download link stays valid (default: 300; at most "
                f"{MOST_PRESIGN_SECONDS}, S3's limit)",
            ),
        ),
        prints="nothing: where it listens and each request go to standard error",
    ),
    Command(
        ("completion",),
        "upkeep:completion",
        "print shell code that completes versioned commands (needs argcomplete)",
        'versioned completion bash >> ~/.bashrc\neval "$(versioned completion zsh)"\n'
        "versioned completion fish | source",
        (positional("SHELL", "bash, zsh or fish", choices=("bash", "zsh", "fish")),),
        opens="none",
        prints="the shell code",
    ),
    *ROLLOUT_COMMANDS,
)
