"""A test hook: named points between the local backend's steps, where a test can pause.

Every SQLite transaction boundary, every read of aliases or their history, and every file
creation, write, link, rename and unlink of the local backend calls :func:`_step` just
before it happens. It costs one global lookup unless a test installs a callback
(``tests/interleavings`` pauses a writer there while another operation runs).
"""

from __future__ import annotations

from collections.abc import Callable

_hook: Callable[[str], None] | None = None


def _step(label: str) -> None:
    """Tell the installed callback, if any, that the step ``label`` is about to happen."""
    hook = _hook
    if hook is not None:
        hook(label)


def install(hook: Callable[[str], None] | None) -> None:
    """Install ``hook`` (None removes it); it runs on the thread taking the step."""
    global _hook
    _hook = hook
