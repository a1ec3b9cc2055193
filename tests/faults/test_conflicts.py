"""A 409 ``ConditionalRequestConflict`` is sent again (AWS: two conditional writes to one
key at once; the answer means "try again", and botocore's retry modes do not)."""

from __future__ import annotations

from collections.abc import Callable

from tests.faults.proxy import Fault, FaultProxy
from tests.helpers import Repository, raises_versioned
from tests.invariants import S3RawStore, assert_sound
from versioned import exc

V1, V2 = b"first content " * 20, b"second content " * 20


def test_a_conflicting_put_is_sent_again(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]], fault_proxy: FaultProxy
) -> None:
    repo, raw = make_faulty_repo(retry_attempts=1)  # botocore itself sends each request once
    repo.put_artifact("app", V1)
    fault_proxy.arm(Fault(at=2, kind="conflict"))  # the put's PutObject, after its lease
    repo.put_artifact("app", V2)
    assert fault_proxy.injected() == [("PutObject", "conflict")]
    assert fault_proxy.operations() == ["UpdateItem", "PutObject", "PutObject", "UpdateItem"]
    fault_proxy.arm(None)
    assert repo.get_artifact_version("app").get_content() == V2
    assert_sound(raw, names=["app"])


def test_a_conflict_that_persists_fails_the_put_cleanly(
    make_faulty_repo: Callable[..., tuple[Repository, S3RawStore]], fault_proxy: FaultProxy
) -> None:
    repo, raw = make_faulty_repo(retry_attempts=1)
    repo.put_artifact("app", V1)
    fault_proxy.arm(Fault(at=2, kind="conflict", persistent=True))
    with raises_versioned(exc.BackendError):
        repo.put_artifact("app", V2)
    fault_proxy.arm(None)
    assert repo.get_artifact_version("app").get_content() == V1
    assert_sound(raw, names=["app"])
