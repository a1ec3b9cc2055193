"""Functions run in child processes (``multiprocessing`` with spawn) by the concurrency tests.

They live in an importable module of their own: a spawned child imports it by name. A child
opens the repository by URI; S3 children reach the moto server through the inherited
``AWS_*`` variables.
"""

from __future__ import annotations

import traceback
from typing import Any

import versioned


def publish_many(uri: str, name: str, count: int, barrier: Any, results: Any) -> None:
    """Publish ``name`` ``count`` times once every party is ready; report the versions."""
    try:
        repo = versioned.open_repository(uri)
        barrier.wait(timeout=120)
        versions = [repo.publish_artifact_version(name).version for _ in range(count)]
        results.put(("ok", versions))
    except BaseException:  # report everything: the parent fails the test with it
        results.put(("error", traceback.format_exc()))
