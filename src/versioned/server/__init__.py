"""``versioned serve``: a web page and a JSON API over one repository.

Installed with the ``server`` extra (``pip install 'versioned[server]'``: Starlette,
uvicorn, Jinja2); nothing outside this package imports it, so the library and the rest
of the command line never load them.

The package: :mod:`.app` (the app factory), :mod:`.api` (JSON routes), :mod:`.pages`
(HTML routes), :mod:`.downloads` (bytes: streamed locally, redirected on S3),
:mod:`.ranges` (``Range`` headers), :mod:`.blobs` (verified local files),
:mod:`.views` (objects as JSON), :mod:`.errors` (errors as JSON), :mod:`.auth` (the
token), :mod:`.conditional` (ETags and 304s), :mod:`.access_log`, :mod:`.openapi` and
:mod:`.run` (binding and starting uvicorn).
"""

from __future__ import annotations

from .app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
