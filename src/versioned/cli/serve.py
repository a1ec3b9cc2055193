"""``versioned serve``: the web page and HTTP API (needs the ``server`` extra).

The server's packages are imported here, when the command runs, so that every other
command (and ``versioned --help``) starts without them.
"""

from __future__ import annotations

import argparse
import errno
import os

from .context import Context, Failure
from .output import Done, Result

#: bind errors: the port is taken, the address is not this machine's, a port below 1024
_CANNOT_LISTEN = {errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES}


def serve(ctx: Context, args: argparse.Namespace) -> Result:
    """Serve the repository until Ctrl-C; refuses a non-loopback host without a token."""
    try:
        from ..server.auth import TOKEN_ENV
        from ..server.run import serve as run
        from ..server.state import ServerSettings
        from ..server.tokens import read_tokens_file
    except ImportError as error:
        raise Failure(
            f"'versioned serve' needs the server extra ({error.name} is missing): "
            "install this package with it, e.g. pip install '.[server]' in a checkout"
        ) from None
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    try:
        tokens = read_tokens_file(args.tokens_file) if args.tokens_file else ()
    except OSError as error:
        raise Failure(f"cannot read the tokens file {args.tokens_file}: {error}") from None
    settings = ServerSettings(
        token=token,
        tokens=tokens,
        presign_seconds=args.presign_seconds,
        resolver_ttl_seconds=float(args.cache_seconds),
        allowed_hosts=tuple(args.allow_host) or None,
    )
    try:
        run(ctx.repo, args.host, args.port, settings, access_log=not ctx.quiet)
    except OSError as error:
        if error.errno not in _CANNOT_LISTEN:
            raise
        # the server's bind error names no address: say which, and the way out
        raise Failure(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error} "
            "(another port with --port, or --port 0 for any free one)"
        ) from None
    return Done("server stopped", {"stopped": True})
