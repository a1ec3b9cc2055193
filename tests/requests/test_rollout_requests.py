"""What an abort costs on S3 + DynamoDB: the alias is back on its targets from before
the rollout after two round trips, from a process that knows nothing yet (issue 18)."""

from __future__ import annotations

from tests.helpers import S3Backend
from tests.requests.test_request_counts import Counter


def test_an_abort_restores_the_alias_in_two_round_trips(s3_backend: S3Backend) -> None:
    writer = s3_backend.repo
    for number in (1, 2):
        writer.put_artifact("app", f"v{number}".encode())
        writer.publish_artifact_version("app")
    writer.put_alias("app", "prod", 1)
    writer.rollouts().start("app", "prod", 2, steps=[10, 50, 100], hold_seconds=600)
    cold = s3_backend.new_repository()  # a fresh process: nothing cached, identity unknown
    counter = Counter(cold)
    aborted = counter.during(lambda: cold.rollouts().abort("app", "prod", reason="errors"))
    # round trip 1, sent at once: the rollout record, the alias (which tells the store its
    # state and its targets' hashes) and who is acting; round trip 2: the alias change
    first, second = sorted(aborted[:-2]), aborted[-2:]
    assert set(first) <= {"Query", "GetItem", "GetCallerIdentity"} and "Query" in first
    assert "GetItem" in first and len(first) <= 3
    assert second == ["TransactWriteItems", "PutItem"]  # the change, then the record
    alias = writer.get_alias("app", "prod")
    assert (alias.version, alias.secondary_version) == ("1", None)
