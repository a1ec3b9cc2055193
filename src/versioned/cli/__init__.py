"""The ``versioned`` command line: each repository operation as a subcommand.

``versioned [--repo URI] [--json] [--quiet] [--verbose] COMMAND ...`` (the global options
may also follow the command) opens the repository named by ``--repo``, else by
``$VERSIONED_REPO``, else the local folder ``./.versioned``, runs one command and exits 0
on success, 1 when the operation failed, 2 on bad usage or bad input, 130 on Ctrl-C
(``rollout run`` and ``rollout step``: 3 aborted, 4 paused).

The package: :mod:`.table` (the commands), :mod:`.parser` (the parser built from it),
:mod:`.artifacts`, :mod:`.aliases`, :mod:`.upkeep`, :mod:`.rollout` (the handlers;
:mod:`.rollout_table` has the rollout rows, :mod:`.rollout_view` their text), :mod:`.output`
(JSON and tables), :mod:`.progress` (the bar), :mod:`.files`, :mod:`.trace`, and
:mod:`.app` (``main``).
"""

from __future__ import annotations

from .app import main

__all__ = ["main"]
