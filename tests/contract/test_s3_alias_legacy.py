"""Alias history next to versioned 1.0.1 (S3 + DynamoDB; issue #10, items 2 and 7).

1.0.1's reader must keep reading aliases exactly as before (nothing added to the
partitions it reads but attributes it ignores); an alias that 1.0.1's writer rewrites or
deletes, knowing nothing of revisions, must be noticed by the next change and shown in
the history as an ``"outside"`` change, never merged silently. The 1.0.1 model is
``tests/legacy.py``; the raw chain check is ``tests/alias_chain.py``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tests.alias_chain import history_problems
from tests.helpers import S3Backend, raises_versioned
from tests.legacy import Legacy
from versioned import exc
from versioned.chain import OUTSIDE_WHO


@pytest.fixture
def legacy(s3_backend: S3Backend) -> Legacy:
    b = s3_backend
    return Legacy(b.s3, b.dynamodb, b.bucket, b.table, b.prefix, b.suffix)


def _published(repo: Any, name: str, count: int) -> None:
    for number in range(count):
        repo.put_artifact(name, f"content {number}".encode())
        repo.publish_artifact_version(name)


def _chain_ok(backend: S3Backend, name: str) -> None:
    assert history_problems(backend.dynamodb, backend.table, name) == []


def _history(repo: Any, name: str, alias: str) -> list[tuple[int, str, Any, Any]]:
    return [
        (c.revision, c.action, c.before and c.before.version, c.after and c.after.version)
        for c in repo.list_alias_history(name, alias)
    ]


def test_1_0_1_reads_aliases_exactly_as_before(s3_backend: S3Backend, legacy: Legacy) -> None:
    repo = s3_backend.repo
    _published(repo, "app", 3)
    repo.put_alias("app", "prod", 1, reason="first")
    repo.put_alias("app", "prod", 2, secondary_version=3, secondary_version_weight=20)
    repo.put_alias("app", "dev")
    repo.delete_alias("app", "dev")
    assert legacy.list_aliases("app") == {"prod": ["000002", "000003"]}
    # 1.0.1's partitions hold only what they held before: versions, and one item per alias
    assert {i["sk"]["S"] for i in s3_backend.partition("__app-alias")} == {"prod"}
    assert {i["sk"]["S"] for i in s3_backend.partition("app")} == {
        "LATEST", "000001", "000002", "000003",
    }  # fmt: skip
    assert legacy.violations("app") == []
    item = s3_backend.partition("__app-alias")[0]
    assert legacy.read("app", item["version"]["S"]) == b"content 1"
    # what this package adds to the alias item: attributes 1.0.1's model ignores
    assert set(item) - {"pk", "sk", "update_at", "version", "secondary_version"} == {
        "secondary_version_weight", "revision", "history_head",
        "version_sha256", "secondary_version_sha256",
    }  # fmt: skip
    _chain_ok(s3_backend, "app")


def test_an_alias_rewritten_by_1_0_1_is_recorded_as_outside(
    s3_backend: S3Backend, legacy: Legacy
) -> None:
    repo = s3_backend.repo
    _published(repo, "app", 3)
    repo.put_alias("app", "prod", 1)
    repo.put_alias("app", "prod", 2)
    legacy.put_alias("app", "prod", 3)
    # readers see 1.0.1's target at once, at the revision its outside entry will get
    seen = repo.get_alias("app", "prod")
    assert (seen.version, seen.revision) == ("3", 3)
    assert repo.get_alias("app", "prod").get_version_content() == b"content 2"
    assert not repo.verify_alias_history("app", "prod").ok  # changed outside, not yet recorded
    then = repo.get_alias("app", "prod", as_of=datetime.now(timezone.utc))
    assert (then.version, then.revision) == ("3", 3)
    # this object remembers revision 2: its next change finds out from the refusal
    with raises_versioned(exc.RevisionMismatchError) as info:
        repo.put_alias("app", "prod", 1, expected_revision=2)
    assert (info.value.expected, info.value.current) == (2, 3)
    assert "3" in str(info.value.current_target)
    repo.put_alias("app", "prod", 1, expected_revision=3, reason="back to 1")
    assert _history(repo, "app", "prod") == [
        (4, "set", "3", "1"),
        (3, "outside", "2", "3"),
        (2, "set", "1", "2"),
        (1, "set", None, "1"),
    ]
    outside = repo.list_alias_history("app", "prod")[1]
    assert outside.who == OUTSIDE_WHO and outside.reason is None
    check = repo.verify_alias_history("app", "prod")
    assert check.ok and check.entries == 4, check.problems
    _chain_ok(s3_backend, "app")


def test_an_alias_deleted_by_1_0_1_is_recorded_as_outside(
    s3_backend: S3Backend, legacy: Legacy
) -> None:
    repo = s3_backend.repo
    _published(repo, "app", 2)
    repo.put_alias("app", "prod", 1)
    before_delete = datetime.now(timezone.utc)
    legacy.delete_alias("app", "prod")
    with raises_versioned(exc.AliasNotFoundError):
        repo.get_alias("app", "prod")
    # gone now, so not "as of now"; and as 1.0.1 leaves no time, not after its newest entry
    for moment in (datetime.now(timezone.utc), before_delete):
        with raises_versioned(exc.AliasNotFoundError) as info:
            repo.get_alias("app", "prod", as_of=moment)
        assert "deleted outside versioned" in str(info.value) and "revision 1" in str(info.value)
    first_entry = repo.list_alias_history("app", "prod")[0]
    assert repo.get_alias("app", "prod", as_of=first_entry.update_at).version == "1"
    other = s3_backend.new_repository()  # knows nothing: reads the state in one batch
    assert other.put_alias("app", "prod", 2, expected_revision=0).revision == 3
    # recorded now, the delete still has no time: the answer before it was noticed stays
    with raises_versioned(exc.AliasNotFoundError) as info:
        repo.get_alias("app", "prod", as_of=before_delete)
    assert "deleted outside versioned" in str(info.value) and "revision 1" in str(info.value)
    assert repo.get_alias("app", "prod", as_of=first_entry.update_at).version == "1"
    assert repo.get_alias("app", "prod", as_of=datetime.now(timezone.utc)).version == "2"
    repo.put_alias("app", "prod", 1)  # remembered "revision 1": learns from the refusal
    assert _history(repo, "app", "prod") == [
        (4, "set", "2", "1"),
        (3, "set", None, "2"),
        (2, "outside", "1", None),
        (1, "set", None, "1"),
    ]
    assert repo.verify_alias_history("app", "prod").ok
    _chain_ok(s3_backend, "app")


def test_an_alias_only_1_0_1_wrote_gets_its_history_started(
    s3_backend: S3Backend, legacy: Legacy
) -> None:
    repo = s3_backend.repo
    _published(repo, "app", 2)
    legacy.put_alias("app", "prod", 1, secondary_version=2, secondary_version_weight=5)
    listed = repo.list_aliases("app")
    assert [(a.alias, a.revision, a.secondary_version_weight) for a in listed] == [("prod", 1, 5)]
    assert repo.list_alias_history("app", "prod") == []
    repo.delete_alias("app", "prod", expected_revision=1, reason="retire")
    assert _history(repo, "app", "prod") == [(2, "delete", "1", None), (1, "outside", None, "1")]
    assert repo.verify_alias_history("app", "prod").ok
    assert legacy.list_aliases("app") == {}
    _chain_ok(s3_backend, "app")


def test_purge_all_finds_an_artifact_with_only_alias_history_left(
    s3_backend: S3Backend,
) -> None:
    repo = s3_backend.repo
    _published(repo, "app", 1)
    repo.put_alias("app", "prod", 1)
    # as a purge cut short after the aliases would leave it (or a stray script)
    for pk in ("app", "__app-alias"):
        for item in s3_backend.partition(pk):
            s3_backend.dynamodb.delete_item(
                TableName=s3_backend.table, Key={"pk": item["pk"], "sk": item["sk"]}
            )
    for key in s3_backend.objects(f"{s3_backend.prefix}/app/"):
        s3_backend.s3.delete_object(Bucket=s3_backend.bucket, Key=key)
    assert len(s3_backend.partition("__app-alias#history")) == 2  # the head and one entry
    assert repo._store.all_names() == ["app"]
    repo.purge_all()
    assert s3_backend.items() == []


def test_rollback_undoes_a_delete_made_by_1_0_1(s3_backend: S3Backend, legacy: Legacy) -> None:
    """1.0.1 deleting prod is the current (not yet recorded) change: rolling back restores
    what prod pointed at just before it, the newest recorded revision."""
    repo = s3_backend.repo
    _published(repo, "app", 2)
    repo.put_alias("app", "prod", 1)
    repo.put_alias("app", "prod", 2)
    legacy.delete_alias("app", "prod")
    restored = repo.rollback_alias("app", "prod", reason="1.0.1 script deleted prod")
    assert (restored.version, restored.revision) == ("2", 4)
    assert _history(repo, "app", "prod") == [
        (4, "rollback", None, "2"),
        (3, "outside", "2", None),
        (2, "set", "1", "2"),
        (1, "set", None, "1"),
    ]
    legacy.delete_alias("app", "prod")
    assert repo.rollback_alias("app", "prod", to_revision=4).revision == 6
    assert repo.verify_alias_history("app", "prod").ok
    _chain_ok(s3_backend, "app")


def test_listing_more_aliases_than_one_batch_get_holds(
    s3_backend: S3Backend, legacy: Legacy
) -> None:
    """Every alias only 1.0.1 wrote needs its history head read; BatchGetItem takes at
    most 100 keys."""
    repo = s3_backend.repo
    _published(repo, "app", 1)
    names = [f"a{index:03d}" for index in range(101)]
    for alias in names:
        legacy.put_alias("app", alias, 1)
    listed = repo.list_aliases("app")
    assert [(a.alias, a.version, a.revision) for a in listed] == [(n, "1", 1) for n in names]
