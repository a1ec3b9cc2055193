"""``S3Path``: s3pathlib's path object, taking the seed's ``bsm=`` on every S3 call.

The 1.0.1 library documents ``artifact.s3path.exists(bsm=bsm)`` and
``artifact.s3path.head_object(bsm=bsm).metadata``. s3pathlib 2.x takes ``bsm=`` (a
``BotoSesManager`` or an S3 client); 3.x renamed the keyword ``s3_client=`` and takes only
an S3 client. This subclass accepts ``bsm=`` with either version: a
``boto_session_manager.BotoSesManager``, a ``boto3.Session`` or an S3 client, turned into
an S3 client made the way the repository makes its own (same endpoint variables). Every
other keyword passes through unchanged, so s3pathlib's own API keeps working.
``head_object()`` returns the response dict, which also has ``.metadata`` (the object's
user metadata), as the seed's example reads it.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Callable
from typing import Any

try:  # s3pathlib 3 keeps its classes in ``api``; 2.x (what 1.0.1 used) at the top
    from s3pathlib.api import S3Path as _S3Path
except ImportError:  # pragma: no cover - s3pathlib 2.x
    from s3pathlib import S3Path as _S3Path

from .stores.s3.calls import AwsClients, boto3_session_of, using_session

__all__ = ["HeadObject", "S3Path", "s3_client_of"]

_clients_lock = threading.Lock()
_clients: dict[str, AwsClients] = {}


def s3_client_of(bsm: object) -> Any:
    """An S3 client for ``bsm``: a BotoSesManager, a boto3.Session, or an S3 client as is.

    Raises InvalidArgumentTypeError for anything else.
    """
    meta = getattr(bsm, "meta", None)
    if getattr(getattr(meta, "service_model", None), "service_name", None) == "s3":
        return bsm
    session = boto3_session_of(bsm, "us-east-1")
    region = (
        session.region_name
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    with _clients_lock:
        clients = _clients.setdefault(region, AwsClients(region, 5, "standard"))
    with using_session(bsm):
        return clients.s3


class HeadObject(dict[str, Any]):
    """A ``head_object`` response; ``metadata`` is the object's user metadata."""

    @property
    def metadata(self) -> dict[str, str]:
        """The user metadata (``x-amz-meta-*``) of the object."""
        return dict(self.get("Metadata", {}))


def _client_keyword(method: Callable[..., Any]) -> str | None:
    """The name under which ``method`` takes its S3 client (``s3_client`` or ``bsm``)."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return None
    for name in ("s3_client", "bsm"):
        if name in parameters:
            return name
    return None


def _taking_bsm(method: Callable[..., Any], keyword: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, bsm: Any = None, **kwargs: Any) -> Any:
        if bsm is not None:
            if kwargs.get(keyword) is not None and keyword != "bsm":
                raise TypeError(f"give bsm= or {keyword}=, not both")
            kwargs[keyword] = s3_client_of(bsm)
        result = method(self, *args, **kwargs)
        return HeadObject(result) if method.__name__ == "head_object" else result

    return call


class S3Path(_S3Path):  # type: ignore[misc]
    """s3pathlib's ``S3Path`` whose S3 calls also take ``bsm=`` (see the module)."""

    __slots__ = ()


for _name, _method in inspect.getmembers(_S3Path, inspect.isfunction):
    _keyword = None if _name.startswith("_") else _client_keyword(_method)
    if _keyword is not None:
        setattr(S3Path, _name, _taking_bsm(_method, _keyword))
del _name, _method, _keyword
