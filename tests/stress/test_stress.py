"""A short run of ``tools/stress.py`` on each backend: no violations, no unexpected errors."""

from __future__ import annotations

import pytest
from tools import stress

from tests.helpers import Backend, new_backend

WORKERS = 16
SECONDS = 6.0


S3_LATEST_READ_BUG = pytest.mark.xfail(
    strict=True,
    reason="BUG: on S3, reading LATEST while puts keep replacing it raises IntegrityError "
    "once the engine's 5 re-reads all lose the race (no corruption: a false alarm)",
)


@pytest.fixture(
    params=["local", pytest.param("s3", marks=S3_LATEST_READ_BUG)],
)
def stressed(request: pytest.FixtureRequest) -> Backend:
    """A fresh repository of each backend (the s3 one carries the pending bug's xfail)."""
    return new_backend(request, request.param)


@pytest.mark.slow
def test_short_stress_run_is_clean(stressed: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    stats = stress.run(stressed.uri, WORKERS, SECONDS, check_every=2.0)
    status = stress.report(stats)
    printed = capsys.readouterr().out
    assert stats.violations == [], printed
    assert not stats.errors, printed
    assert status == 0
    # the run did real work of every kind
    for kind in ("put", "publish", "put_alias", "read"):
        assert stats.done[kind] > 0, printed
