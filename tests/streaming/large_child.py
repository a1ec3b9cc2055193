"""Child process of the large-artifact test: put a file, publish it, download it.

``python -m tests.streaming.large_child local ROOT FILE OUT`` or
``python -m tests.streaming.large_child s3 BUCKET TABLE FILE OUT`` (with the moto
variables in the environment). Prints one JSON line: the put's and the published
version's sha256, the version, and this process's peak RSS in bytes.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any


def open_repo(kind: str, where: list[str]) -> Any:
    """The repository under test; S3 downloads as one stream (moto reads a whole
    object to answer each range, which would make ranged GETs of 1 GiB crawl)."""
    if kind == "local":
        from versioned.local_backend import Repository as LocalRepository

        return LocalRepository(where[0])
    from versioned.s3_and_dynamodb_backend import Repository as S3Repository

    return S3Repository("us-east-1", where[0], dynamodb_table_name=where[1], download_workers=1)


def peak_rss_kib() -> int:
    """This process image's peak resident set, in KiB.

    Not ``getrusage``: on Linux its ``ru_maxrss`` survives ``exec``, so a child forked
    from a large pytest worker would report the worker's size. ``VmHWM`` belongs to
    the memory map ``exec`` created.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort


def main(kind: str, *rest: str) -> None:
    """Round-trip FILE through the repository into OUT and report the peak RSS."""
    *where, source, out = rest
    repo = open_repo(kind, where)
    put = repo.put_artifact("big", Path(source))
    published = repo.publish_artifact_version("big")
    repo.put_alias("big", "prod", published.version)
    repo.get_alias("big", "prod").download_version(out)
    peak_kib = peak_rss_kib()
    report = {
        "sha256": put.sha256,
        "published_sha256": published.sha256,
        "version": published.version,
        "peak_rss": peak_kib * 1024,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
