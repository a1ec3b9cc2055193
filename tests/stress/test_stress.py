"""A short run of ``tools/stress.py`` on each backend: no violations, no unexpected errors."""

from __future__ import annotations

import pytest
from tools import stress

from tests.helpers import Backend

WORKERS = 16
SECONDS = 6.0


@pytest.mark.slow
def test_short_stress_run_is_clean(backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    stats = stress.run(backend.uri, WORKERS, SECONDS, check_every=2.0)
    status = stress.report(stats)
    printed = capsys.readouterr().out
    assert stats.violations == [], printed
    assert not stats.errors, printed
    assert status == 0
    # the run did real work of every kind
    for kind in ("put", "publish", "put_alias", "read"):
        assert stats.done[kind] > 0, printed
