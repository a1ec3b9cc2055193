"""The embedded backend: bytes as content-addressed files, metadata in SQLite.

``backend`` holds :class:`LocalBackend`; ``aliases`` the alias rows and their history;
``files`` the file operations that never follow a link; ``staging`` the files a put
stages its bytes in (and that gc may remove); ``settings`` what a repository records
about itself; ``steps`` a test hook.
"""

from .backend import LocalBackend

__all__ = ["LocalBackend"]
