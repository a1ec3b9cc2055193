"""Downloads of a version, or of the version an alias picks for a caller.

Every answer carries ``ETag: "<sha256>"``; a request whose ``If-None-Match`` names it gets
304 without a byte of content (on an alias download whose record carries the target's
hash, without even a backend read). Then:

- on S3, a 307 redirect to a presigned GET URL valid for a few minutes: the bytes go
  from S3 to the client, never through the server;
- locally, the bytes checked against the sha256 (see :mod:`.blobs`): small content from
  memory as one body, larger content streamed from the checked file; with ``Range``
  support (206, 416) and ``Accept-Ranges: bytes``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from ..model import Artifact
from .conditional import etag_of, matches, not_modified
from .errors import ApiError
from .query import path_version, text
from .ranges import Unsatisfiable, requested_range
from .resolve import choose
from .state import ServerState, state_of
from .views import download_name

#: content larger than :data:`.blobs.SMALL` streams from its checked file in CHUNKs
CHUNK = 256 * 1024
#: checked local bytes: the content itself (small) or its open file and size
Found = bytes | tuple[BinaryIO, int]


def presigner(repo: Any) -> Any:
    """``presign(uri, seconds, filename)``: a GET URL for the object at ``s3://bucket/key``,
    signed with Signature Version 4 (whose links carry their expiry and work in every
    region) by the credentials ``repo`` uses without a session; S3 answers it with
    ``Content-Disposition: attachment; filename="<filename>"``."""
    import boto3
    from botocore.config import Config

    config = repo._clients.config.merge(Config(signature_version="s3v4"))
    s3_client = boto3.session.Session().client("s3", region_name=repo.aws_region, config=config)

    def presign(uri: str, seconds: int, filename: str) -> str:
        parts = urlsplit(uri)
        url: str = s3_client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": parts.netloc,
                "Key": parts.path.lstrip("/"),
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=seconds,
        )
        return url

    return presign


async def version_download(request: Request) -> Response:
    """``GET /api/artifacts/{name}/versions/{version}/download``."""
    state = state_of(request)
    name, version = request.path_params["name"], path_version(request)
    artifact, found = await _version(state, request, name, version)
    return await send(request, state, artifact, found)


async def alias_download(request: Request) -> Response:
    """``GET /api/artifacts/{name}/aliases/{alias}/download?key=K``: the version the alias
    picks for ``K`` (a weighted draw without a key)."""
    state = state_of(request)
    name, alias = request.path_params["name"], request.path_params["alias"]
    choice = await choose(state.resolver, name, alias, text(request, "key"))
    headers = _headers(choice.version)
    if choice.sha256 is not None and matches(request, etag_of(choice.sha256)):
        return not_modified(etag_of(choice.sha256), headers)
    artifact, found = await _version(state, request, name, choice.version)
    return await send(request, state, artifact, found)


async def _version(
    state: ServerState, request: Request, name: str, version: str
) -> tuple[Artifact, Found | None]:
    """The version's record and, locally unless the client holds its bytes (a 304), its
    checked bytes. Locally, a kept record and kept small content are answered on the
    event loop (see :mod:`.records`, :mod:`.blobs`); anything else is one worker-thread
    call, as a thread hop costs more than a small download's other work."""
    stamp = None
    if state.records is not None:
        kept, stamp = state.records.get(name, version)
        if kept is not None:
            if matches(request, etag_of(kept.sha256)):
                return kept, None
            assert state.blobs is not None
            content = state.blobs.kept(kept)
            if content is not None:
                return kept, content
    artifact, found = await run_in_threadpool(_read_version, state, request, name, version)
    if state.records is not None:
        state.records.keep(name, version, artifact, stamp)
    return artifact, found


def _read_version(
    state: ServerState, request: Request, name: str, version: str
) -> tuple[Artifact, Found | None]:
    artifact: Artifact = state.repo.get_artifact_version(name, version)
    if state.blobs is None or matches(request, etag_of(artifact.sha256)):
        return artifact, None
    return artifact, state.blobs.fetch(artifact)


def _headers(version: str) -> dict[str, str]:
    # clients may keep a copy but must ask again (a 304 is cheap) before using it
    return {"Cache-Control": "no-cache", "X-Versioned-Version": version}


async def send(
    request: Request, state: ServerState, artifact: Artifact, found: Found | None = None
) -> Response:
    """Answer a download of ``artifact``: 304, a redirect (S3), or its bytes (local), which
    are fetched here unless ``found`` holds them already."""
    etag = etag_of(artifact.sha256)
    headers = _headers(artifact.version)
    if matches(request, etag):
        return not_modified(etag, headers)
    if state.presign is not None:
        url = state.presign(
            artifact.uri, state.settings.presign_seconds, _file_name(state, artifact)
        )
        # the link expires: no cache may keep the redirect
        return RedirectResponse(
            url, 307, headers={**headers, "ETag": etag, "Cache-Control": "no-store"}
        )
    assert state.blobs is not None
    if found is None:
        found = await run_in_threadpool(state.blobs.fetch, artifact)
    content: bytes | None = None
    stream: BinaryIO | None = None
    if isinstance(found, bytes):
        content, size = found, len(found)
    else:
        stream, size = found
    try:
        picked = requested_range(
            request.headers.get("range"), request.headers.get("if-range"), etag, size
        )
    except Unsatisfiable:
        if stream is not None:
            stream.close()
        raise ApiError(
            416,
            f"the range is past the end of the content ({size} bytes)",
            headers={"Content-Range": f"bytes */{size}"},
        ) from None
    headers.update(
        {
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'attachment; filename="{_file_name(state, artifact)}"',
        }
    )
    # as a header, not media_type: Starlette would add "; charset=utf-8" to text/*, and
    # the stored type (a charset of its own, or none) is what the bytes were put with
    headers["Content-Type"] = artifact.content_type or "application/octet-stream"
    start, length, status = 0, size, 200
    if picked is not None:
        start, length, status = picked.start, picked.length, 206
        headers["Content-Range"] = picked.content_range
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        if stream is not None:
            stream.close()
        return Response(None, status, headers)
    if content is not None:
        # small content: the very bytes that were hashed, kept in memory (see .blobs), sent
        # as one body (no per-chunk thread hops, no task watching for the client leaving)
        body = content if picked is None else content[start : start + length]
        return Response(body, status, headers)
    assert stream is not None
    return StreamingResponse(_chunks(stream, start, length), status, headers)


def _file_name(state: ServerState, artifact: Artifact) -> str:
    return download_name(artifact.name, artifact.version, state.repo.suffix)


async def _chunks(stream: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    """``length`` bytes of the (already checked) file from ``start``; closes it."""
    fd = stream.fileno()
    offset, end = start, start + length
    try:
        while offset < end:
            chunk = await run_in_threadpool(os.pread, fd, min(CHUNK, end - offset), offset)
            if not chunk:
                break  # shorter than checked: impossible for an unchanged file
            offset += len(chunk)
            yield chunk
    finally:
        stream.close()


__all__ = ["alias_download", "presigner", "send", "version_download"]
