"""Kept version records (:mod:`versioned.server.records`) and the local database's change
stamp behind them: a record read once is given out until any write is committed, by any
connection; a read that a write overtook is not kept."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.helpers import LocalBackend
from versioned.model import Artifact
from versioned.server.records import KeptRecords

pytestmark = pytest.mark.timeout(60)


def _published(local_backend: LocalBackend, data: bytes) -> Artifact:
    repo = local_backend.repo
    repo.put_artifact("model", data)
    published: Artifact = repo.publish_artifact_version("model")
    return published


def test_the_stamp_moves_with_every_write_of_any_connection(
    local_backend: LocalBackend,
) -> None:
    repo = local_backend.repo
    backend = repo._backend
    assert local_backend.new_repository()._backend.change_stamp() is None  # not open yet
    _published(local_backend, b"one")
    first = backend.change_stamp()
    assert first is not None and backend.change_stamp() == first  # reads move nothing
    repo.get_artifact_version("model", 1)
    assert backend.change_stamp() == first
    local_backend.new_repository().put_artifact("model", b"two")  # another connection
    second = backend.change_stamp()
    assert second != first
    repo.put_alias("model", "prod", 1)  # this thread's own writing connection
    assert backend.change_stamp() != second


def test_stamps_of_two_connections_never_match(local_backend: LocalBackend) -> None:
    _published(local_backend, b"one")
    backend = local_backend.repo._backend
    mine = backend.change_stamp()
    found: list[object] = []
    import threading

    thread = threading.Thread(target=lambda: found.append(backend.change_stamp()))
    thread.start()
    thread.join()
    assert found and found[0] != mine


def test_a_record_is_kept_until_the_stamp_moves() -> None:
    stamps = iter([1, 1, 1, 2, 2])
    records = KeptRecords(lambda: next(stamps))
    artifact = object()
    found, stamp = records.get("model", "1")
    assert found is None and stamp == 1
    records.keep("model", "1", artifact, stamp)  # type: ignore[arg-type]
    assert records.get("model", "1") == (artifact, 1)
    assert records.get("model", "2") == (None, 1)
    assert records.get("model", "1") == (None, 2)  # a write: everything dropped
    assert len(records) == 0


def test_a_read_overtaken_by_a_write_is_not_kept() -> None:
    stamps = iter([1, 2, 2])
    records = KeptRecords(lambda: next(stamps))
    _, before = records.get("model", "1")  # stamp 1, then the read
    assert records.get("model", "2") == (None, 2)  # another request sees a write
    records.keep("model", "1", object(), before)  # type: ignore[arg-type]
    assert records.get("model", "1") == (None, 2)


def test_without_a_stamp_nothing_is_kept() -> None:
    def failing() -> int:
        raise OSError("disk gone")

    for change_stamp in (lambda: None, failing):
        records = KeptRecords(change_stamp)
        found, stamp = records.get("model", "1")
        assert found is None and stamp is None
        records.keep("model", "1", object(), stamp)  # type: ignore[arg-type]
        assert len(records) == 0


def test_kept_records_stay_within_their_limit() -> None:
    records = KeptRecords(lambda: 7, limit=2)
    for number in range(1, 4):
        _, stamp = records.get("model", str(number))
        records.keep("model", str(number), object(), stamp)  # type: ignore[arg-type]
    assert len(records) == 2
    assert records.get("model", "1")[0] is None  # the least recently used went first


def test_a_forked_child_gets_stamps_of_its_own(local_backend: LocalBackend) -> None:
    _published(local_backend, b"one")
    backend = local_backend.repo._backend
    parent = backend.change_stamp()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, repr(backend.change_stamp()).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        stamp = pipe.read()
    os.waitpid(child, 0)
    assert stamp != repr(parent)


def test_one_stamp_serves_the_requests_handled_before_its_callback() -> None:
    taken: list[int] = []

    def change_stamp() -> int:
        taken.append(len(taken))
        return 1  # nothing written meanwhile

    records = KeptRecords(change_stamp)

    async def requests() -> None:
        records.get("model", "1")
        records.get("model", "2")  # handled in the same turn: the same stamp
        assert len(taken) == 1
        await asyncio.sleep(0)  # a later turn: a request that may have come after a write
        records.get("model", "1")
        assert len(taken) == 2

    asyncio.run(requests())


def test_a_write_between_two_turns_is_seen(local_backend: LocalBackend) -> None:
    version = _published(local_backend, b"one")
    backend = local_backend.repo._backend
    records = KeptRecords(backend.change_stamp)

    async def requests() -> None:
        found, stamp = records.get("model", "1")
        assert found is None
        records.keep("model", "1", version, stamp)
        assert records.get("model", "1")[0] is version  # same turn, same stamp
        await asyncio.sleep(0)
        assert records.get("model", "1")[0] is version  # a new stamp, nothing written
        local_backend.new_repository().delete_artifact_version("model", 1)
        await asyncio.sleep(0)
        assert records.get("model", "1")[0] is None

    asyncio.run(requests())


def test_only_the_first_thread_keeps_records() -> None:
    import threading

    records = KeptRecords(lambda: 1)
    _, stamp = records.get("model", "1")
    records.keep("model", "1", object(), stamp)  # type: ignore[arg-type]
    elsewhere: list[object] = []

    def other() -> None:
        elsewhere.append(records.get("model", "1"))
        records.keep("model", "2", object(), 1)  # type: ignore[arg-type]

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert elsewhere == [(None, None)]
    assert records.get("model", "1")[0] is not None
    assert records.get("model", "2")[0] is None


def test_with_a_task_factory_every_request_takes_a_stamp() -> None:
    taken: list[int] = []
    records = KeptRecords(lambda: taken.append(1) or 1)

    async def requests() -> None:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda loop, coro, **kw: asyncio.Task(coro, loop=loop, **kw))
        records.get("model", "1")
        records.get("model", "2")
        assert len(taken) == 2

    asyncio.run(requests())


def test_a_stamp_is_never_shared_with_another_loop() -> None:
    taken: list[int] = []
    records = KeptRecords(lambda: taken.append(1) or 1)

    async def stopped_at_once() -> None:
        records.get("model", "1")
        asyncio.get_running_loop().stop()  # the loop ends before the stamp's callback runs

    async def later() -> None:
        records.get("model", "1")

    loop = asyncio.new_event_loop()
    task = loop.create_task(stopped_at_once())
    loop.run_forever()
    loop.close()
    assert task.done()
    asyncio.run(later())
    assert len(taken) == 2


def test_the_stamp_never_waits_on_a_busy_database(local_backend: LocalBackend) -> None:
    _published(local_backend, b"one")
    backend = local_backend.repo._backend
    backend.change_stamp()
    _, (_, probe) = backend._db._local.probe  # (pid, (serial, cursor))
    assert probe.execute("PRAGMA busy_timeout").fetchone()[0] == 0
