"""The store's object cache (store.rawkv.ObjectCache) under a transition wider than its size: the
keys of a watched kind stay cached (their informer holds the objects anyway), so neither the
watch's echo of a write nor the next write's base is decoded again; other keys stay bounded.
At 50,000 Tasks the bounded cache (20,000 entries) missed every echo and every base."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from crds.kinds.task import Task
from hack.bench.informer_bench import running_task
from store import codec
from store.api import WatchEvent
from store.memory import MemoryKV
from store.rawkv import ObjectCache
from store.resources import ResourceStore
from tests.waiting import eventually

SIZE = 10
TASKS = 5 * SIZE


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Revisions of every whole-value decode the store makes from here on."""
    calls: list[int] = []
    whole: Callable[..., Task] = codec.decode

    def counting(kind: type[Task], raw: bytes, *, key: str, mod_revision: int) -> Task:
        calls.append(mod_revision)
        return whole(kind, raw, key=key, mod_revision=mod_revision)

    monkeypatch.setattr(codec, "decode", counting)
    return calls


@pytest.fixture
def store() -> ResourceStore:
    return ResourceStore(MemoryKV(), prefix="/cache", cache=ObjectCache(size=SIZE))


async def _collect(stream: AsyncIterator[WatchEvent[Task]], into: list[WatchEvent[Task]]) -> None:
    async for event in stream:
        into.append(event)


async def _settle(events: list[WatchEvent[Task]], count: int) -> None:
    await eventually(lambda: len(events) >= count, within=5, message=f"{count} watch events")


async def test_a_watched_kind_wider_than_the_cache_decodes_no_echo_and_no_base(
    store: ResourceStore, decodes: list[int]
) -> None:
    events: list[WatchEvent[Task]] = []
    start = (await store.backend.get("/cache"))[1] + 1
    watching = asyncio.create_task(_collect(store.watch(Task, start_revision=start), events))
    await asyncio.sleep(0)  # the watch is open
    try:
        created = (await store.create_many([running_task(i) for i in range(TASKS)])).written
        await _settle(events, TASKS)
        configured = [
            codec.replaced(t, {"spec": t.spec.model_copy(update={"state": "CONFIGURED"})})
            for t in created
        ]
        updated = (await store.update_many(configured)).written
        await _settle(events, 2 * TASKS)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    assert len(updated) == TASKS
    assert decodes == []  # every echo and every base of the updates was the cached object
    assert [e.obj for e in events[TASKS:]] == updated
    assert all(e.obj is u for e, u in zip(events[TASKS:], updated, strict=True))


async def test_keys_no_watch_follows_stay_bounded(store: ResourceStore) -> None:
    await store.create_many([running_task(i) for i in range(TASKS)])
    assert len(store._cache) == SIZE


async def test_a_watch_that_ends_leaves_its_keys_to_eviction_and_a_restart_keeps_them(
    store: ResourceStore,
) -> None:
    events: list[WatchEvent[Task]] = []
    stream = store.watch(Task, start_revision=1)
    watching = asyncio.create_task(_collect(stream, events))
    await asyncio.sleep(0)
    await store.create_many([running_task(i) for i in range(TASKS)])
    await _settle(events, TASKS)
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    restarted = store.watch(Task, start_revision=TASKS + 1)
    watching = asyncio.create_task(_collect(restarted, events))
    await asyncio.sleep(0)  # restarted before any other write: nothing was evicted
    assert len(store._cache) == TASKS
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    cache = store._cache
    for i in range(TASKS):  # writes of keys no watch follows push the released ones out
        cache.put(f"/cache/other/{i}", running_task(i), codec.encode(running_task(i)))
    assert len(cache) == SIZE
