"""The status writer and the reconciler's event filter (pure logic, the in-memory store)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TypeVar

import pytest

from controller.runtime.finalizers import has_finalizer
from controller.tasks import writer as writer_module
from controller.tasks.base import FINALIZER
from controller.tasks.controller import needs_reconcile
from controller.tasks.writer import StatusWriter
from crds.errors import O2Error
from crds.kinds.task import Task, TaskStatus
from crds.meta import utcnow
from crds.resource import Resource
from store.api import BatchResult, WatchEvent
from store.informer import CacheEvent, CacheEventType, Informer, InformerFactory
from store.memory import MemoryStore
from tests.tasks.harness import sample_task

R = TypeVar("R", bound=Resource)


class GatedStore(MemoryStore):
    """Batched status writes wait for `gate` (a write in flight, held open); watchers wait
    for `cache_open`."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.cache_open = asyncio.Event()
        self.cache_open.set()

    async def watch(self, kind: type[R], *, start_revision: int) -> AsyncIterator[WatchEvent[R]]:
        """Changes reach watchers only while `cache_open` is set (a lagging informer)."""
        async for event in super().watch(kind, start_revision=start_revision):
            await self.cache_open.wait()
            yield event

    async def update_status_many(self, objs: Sequence[R]) -> BatchResult[R]:
        self.entered.set()
        await self.gate.wait()
        return await super().update_status_many(objs)


def _finish(task: Task, status: TaskStatus, now: datetime) -> TaskStatus:
    return status


@pytest.fixture
async def cache() -> AsyncIterator[tuple[GatedStore, Informer[Task]]]:
    store = GatedStore()
    async with task_cache(store) as informer:
        yield store, informer


@contextlib.asynccontextmanager
async def task_cache(store: MemoryStore) -> AsyncIterator[Informer[Task]]:
    """A synced Task informer on `store`."""
    informers = InformerFactory(store)
    informer = informers.informer(Task)
    informers.start()
    try:
        await informers.wait_synced()
        yield informer
    finally:
        await informers.stop()


async def cached_task(store: MemoryStore, informer: Informer[Task]) -> Task:
    """Task t1 created, and in the cache."""
    created = await store.create(sample_task("t1"))
    await informer.wait_for_revision(created.metadata.resource_version or 0)
    return created


async def test_view_shows_changes_whose_write_is_still_in_flight(
    cache: tuple[GatedStore, Informer[Task]],
) -> None:
    store, informer = cache
    await cached_task(store, informer)
    writer = StatusWriter(lambda: store, informer, finish=_finish)
    writer.patch("t1", lambda s: s.model_copy(update={"state": "CONFIGURED"}))
    flush = asyncio.create_task(writer.flush())
    await store.entered.wait()
    view = writer.view("t1")
    assert view is not None and view.status.state == "CONFIGURED"  # not the stored STANDBY/None
    store.gate.set()
    assert await flush == {"t1"}
    view = writer.view("t1")
    assert view is not None and view.status.state == "CONFIGURED"  # written, maybe not cached
    stored = await store.get(Task, "t1")
    await informer.wait_for_revision(stored.metadata.resource_version or 0)
    assert writer.view("t1") is informer.get("t1")  # the cache holds the write: nothing kept


async def test_newer_changes_of_a_task_wait_for_its_write_in_flight(
    cache: tuple[GatedStore, Informer[Task]],
) -> None:
    store, informer = cache
    await cached_task(store, informer)
    both = asyncio.Event()

    def written(before: Task, after: Task) -> None:
        if after.status.message == "first+second":
            both.set()

    writer = StatusWriter(lambda: store, informer, finish=_finish, on_written=written)
    runner = asyncio.create_task(writer.run())
    try:
        writer.patch("t1", lambda s: s.model_copy(update={"message": "first"}))
        await store.entered.wait()
        writer.patch("t1", lambda s: s.model_copy(update={"message": s.message + "+second"}))
        view = writer.view("t1")
        assert view is not None and view.status.message == "first+second"
        store.gate.set()
        await asyncio.wait_for(both.wait(), 5)
        assert writer.failures == 0
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_a_tasks_next_write_is_based_on_a_copy_holding_its_previous_write(
    cache: tuple[GatedStore, Informer[Task]],
) -> None:
    """Until the cache shows a task's write, its next write waits (bounded) instead of going
    out on the old copy, which would lose the compare."""
    store, informer = cache
    store.gate.set()
    await cached_task(store, informer)
    writer = StatusWriter(lambda: store, informer, finish=_finish)
    store.cache_open.clear()
    writer.patch("t1", lambda s: s.model_copy(update={"message": "first"}))
    assert await writer.flush() == {"t1"}
    cached = informer.get("t1")
    assert cached is not None and cached.status.message == ""  # the cache is held back
    writer.patch("t1", lambda s: s.model_copy(update={"message": s.message + "+second"}))
    flush = asyncio.create_task(writer.flush())
    await asyncio.sleep(0)  # let the flush start: it waits for the cache
    store.cache_open.set()
    assert await flush == {"t1"}  # at the first try
    assert (await store.get(Task, "t1")).status.message == "first+second"
    assert (writer.writes, writer.failures) == (2, 0)


async def test_a_conflicted_change_is_applied_again_to_the_newer_copy(
    cache: tuple[GatedStore, Informer[Task]],
) -> None:
    store, informer = cache
    created = await cached_task(store, informer)
    writer = StatusWriter(lambda: store, informer, finish=_finish)
    writer.patch("t1", lambda s: s.model_copy(update={"message": s.message + "+mine"}))
    flush = asyncio.create_task(writer.flush())
    await store.entered.wait()  # our copy is taken; someone else writes meanwhile
    other = created.model_copy(update={"status": TaskStatus(message="other")})
    await store.update_status(other)
    store.gate.set()
    assert await flush == set()  # lost the compare: queued again, on the newer copy
    view = writer.view("t1")
    assert view is not None and view.status.message == "other+mine"
    assert await writer.flush() == {"t1"}
    assert (await store.get(Task, "t1")).status.message == "other+mine"


def _with(task: Task, **meta: object) -> Task:
    return task.model_copy(update={"metadata": task.metadata.model_copy(update=meta)})


def test_reconciles_skip_status_and_spec_changes_of_a_finalized_task() -> None:
    base = _with(sample_task("t1"), finalizers=(FINALIZER,), generation=1)
    assert has_finalizer(base, FINALIZER)
    status_only = base.model_copy(update={"status": TaskStatus(phase="Running")})
    respec = _with(base, generation=2)
    deleting = _with(base, deletion_timestamp=utcnow())
    bare = _with(base, finalizers=())

    def keys(old: Task | None, new: Task | None) -> list[str]:
        kind: CacheEventType = "ADDED" if old is None else "DELETED" if new is None else "MODIFIED"
        return list(needs_reconcile(CacheEvent(kind, "t1", old, new)))

    assert keys(base, status_only) == []
    assert keys(base, respec) == []
    assert keys(None, base) == ["t1"]
    assert keys(base, None) == ["t1"]
    assert keys(base, deleting) == ["t1"]
    assert keys(base, bare) == ["t1"]


class FailingStore(MemoryStore):
    """Every batched status write is refused (etcd trouble); counts the attempts."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0
        self.attempted = asyncio.Event()

    async def update_status_many(self, objs: Sequence[R]) -> BatchResult[R]:
        self.attempts += 1
        self.attempted.set()
        return BatchResult(errors=[(obj, O2Error("etcdserver: request timed out")) for obj in objs])


async def test_failed_writes_are_retried_after_a_pause_not_in_a_tight_loop() -> None:
    store = FailingStore()
    async with task_cache(store) as informer:
        await cached_task(store, informer)
        writer = StatusWriter(lambda: store, informer, finish=_finish)
        writer.patch("t1", lambda s: s.model_copy(update={"state": "CONFIGURED"}))
        running = asyncio.create_task(writer.run())
        await store.attempted.wait()
        await asyncio.sleep(0.2)  # a window in which no retry may happen (RETRY_AFTER is 1 s)
        assert store.attempts == 1
        assert writer.failures == 1
        view = writer.view("t1")
        assert view is not None and view.status.state == "CONFIGURED"  # kept for the retry
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_each_status_write_compares_the_new_status_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer leaves out statuses that did not change before the batch goes out; the batch
    write does not compare them again (a comparison per task per write, as costly as a copy)."""
    compared: list[int] = []
    in_store = False

    class Store(MemoryStore):
        async def update_status_many(self, objs: Sequence[R]) -> BatchResult[R]:
            nonlocal in_store
            in_store = True
            try:
                return await super().update_status_many(objs)
            finally:
                in_store = False

    real = TaskStatus.__eq__
    real_same = writer_module.same_status

    def counting(self: TaskStatus, other: object) -> bool:
        if not in_store:
            compared.append(1)
        return real(self, other)

    def counting_same(a: TaskStatus, b: TaskStatus) -> bool:
        compared.append(1)
        return real_same(a, b)

    store = Store()
    async with task_cache(store) as informer:
        created = [await store.create(sample_task(f"t{i}")) for i in range(50)]
        await informer.wait_for_revision(created[-1].metadata.resource_version or 0)
        writer = StatusWriter(lambda: store, informer, finish=_finish)
        for i in range(50):
            writer.patch(f"t{i}", lambda s: s.model_copy(update={"message": "new"}))
        monkeypatch.setattr(TaskStatus, "__eq__", counting)
        monkeypatch.setattr(writer_module, "same_status", counting_same)
        assert len(await writer.flush()) == 50
        monkeypatch.undo()
    assert len(compared) == 50  # the writer's own comparison (which does not ask pydantic's)
    assert (await store.get(Task, "t7")).status.message == "new"


async def test_picking_a_batch_does_not_rescan_tasks_waiting_for_their_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tasks whose newer changes wait for a write the cache does not show yet are not looked
    at again each time the writer picks a batch (it wakes up on every queued change: 10,000
    waiting tasks made each pick a 10,000-name scan)."""
    store = GatedStore()
    store.gate.set()
    async with task_cache(store) as informer:
        created = [await store.create(sample_task(f"t{i}")) for i in range(201)]
        await informer.wait_for_revision(created[-1].metadata.resource_version or 0)
        writer = StatusWriter(lambda: store, informer, finish=_finish)
        store.cache_open.clear()  # the cache lags: the first writes stay in flight
        for i in range(200):
            writer.patch(f"t{i}", lambda s: s.model_copy(update={"message": "first"}))
        assert len(await writer.flush()) == 200
        for i in range(200):
            writer.patch(f"t{i}", lambda s: s.model_copy(update={"message": "second"}))
        looked: list[str] = []
        real = writer._busy

        def counting(name: str) -> bool:
            looked.append(name)
            return real(name)

        monkeypatch.setattr(writer, "_busy", counting)
        writer.patch("t200", lambda s: s.model_copy(update={"message": "first"}))
        assert writer._ready() == ["t200"]
        assert len(looked) <= 2
        assert await writer.flush(["t200"]) == {"t200"}
        store.cache_open.set()
        await writer.settled([f"t{i}" for i in range(200)])
        assert sorted(writer._ready(), key=lambda n: int(n[1:])) == [f"t{i}" for i in range(200)]


class TrickleStore(GatedStore):
    """Each revision's watch events reach the informer in a turn of the event loop of their
    own (a busy manager's watch delivers a transition's writes over many turns)."""

    async def watch(self, kind: type[R], *, start_revision: int) -> AsyncIterator[WatchEvent[R]]:
        revision = 0
        async for event in super().watch(kind, start_revision=start_revision):
            if event.revision != revision:
                revision = event.revision
                await asyncio.sleep(0)
            yield event


async def test_waiting_for_many_writes_looks_at_each_task_a_few_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`settled(names)` over a transition's tasks wakes as each write shows in the cache: it
    looks at each name until that one is settled, not at every name again on each wake-up
    (O(names²) for 10,000 tasks whose writes trickle in)."""
    store = TrickleStore()
    store.gate.set()
    async with task_cache(store) as informer:
        names = [f"t{i}" for i in range(300)]
        created = await store.create_many([sample_task(name) for name in names])
        await informer.wait_for_revision(
            max(t.metadata.resource_version or 0 for t in created.written)
        )
        writer = StatusWriter(lambda: store, informer, finish=_finish, batch=1)
        store.cache_open.clear()
        written = 0
        all_written = asyncio.Event()

        def one() -> None:
            nonlocal written
            written += 1
            if written == len(names):
                all_written.set()

        for name in names:
            writer.patch(name, lambda s: s.model_copy(update={"message": "new"}), then=one)
        runner = asyncio.create_task(writer.run())  # one task per write: 300 revisions
        await asyncio.wait_for(all_written.wait(), 10)
        looks = 0
        real = StatusWriter._busy

        def counting(self: StatusWriter, name: str) -> bool:
            nonlocal looks
            looks += 1
            return real(self, name)

        monkeypatch.setattr(StatusWriter, "_busy", counting)
        settled = asyncio.create_task(writer.settled(names))
        await asyncio.sleep(0)
        store.cache_open.set()
        await asyncio.wait_for(settled, 10)
        monkeypatch.undo()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        assert all(t is not None and t.status.message == "new" for t in map(informer.get, names))
    assert looks <= 3 * len(names), looks
