"""Watch progress notifications: an idle watch shows life on both stores, and the informer tells
a silent but healthy watch from a stalled one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from store.api import WatchEvent
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.informer import Informer
from store.memory import MemoryStore
from store.resources import ResourceStore
from tests.etcd_fixture import TEST_ETCD_ARGS, PrivateEtcdFactory, unique_prefix
from tests.store.widget import Widget, widget
from tests.waiting import eventually

INTERVAL = 0.1


@pytest.fixture(params=["memory", "etcd"])
async def store(
    request: pytest.FixtureRequest, etcd_server: EmbeddedEtcd
) -> AsyncIterator[ResourceStore]:
    """A store whose idle watches get PROGRESS every INTERVAL seconds."""
    if request.param == "memory":
        yield MemoryStore(prefix=unique_prefix(), progress_interval=INTERVAL)
        return
    config = StoreConfig(
        endpoints=(etcd_server.endpoint,), prefix=unique_prefix(), progress_interval=INTERVAL
    )
    etcd = await open_store(config)
    try:
        yield etcd
    finally:
        await etcd.close()


async def first_progress(stream: AsyncIterator[WatchEvent[Any]]) -> WatchEvent[Any]:
    async with asyncio.timeout(5):
        async for event in stream:
            if event.type == "PROGRESS":
                return event
    raise AssertionError("watch ended")


async def test_idle_watch_yields_progress_at_the_last_delivered_revision(
    store: ResourceStore,
) -> None:
    created = await store.create(widget("a"))
    revision = created.metadata.resource_version or 0
    stream = aiter(store.watch(Widget, start_revision=revision))
    try:
        first = await anext(stream)
        while first.type == "PROGRESS":  # may come before the replay: then it must predate "a"
            assert first.revision < revision
            first = await anext(stream)
        assert (first.type, first.name) == ("ADDED", "a")
        progress = await first_progress(stream)
        assert progress.obj is None and progress.name == ""
        assert progress.revision >= revision  # never behind what was delivered
        after = await store.create(widget("b"))
        event = await first_event_named(stream, "b")
        assert event.revision == after.metadata.resource_version
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def first_event_named(stream: AsyncIterator[WatchEvent[Any]], name: str) -> WatchEvent[Any]:
    async with asyncio.timeout(5):
        async for event in stream:
            if event.name == name:
                return event
    raise AssertionError("watch ended")


async def test_progress_is_sent_on_request_by_the_memory_store() -> None:
    store = MemoryStore()  # no timer: progress only on request
    created = await store.create(widget("a"))
    revision = created.metadata.resource_version or 0
    stream = aiter(store.watch(Widget, start_revision=revision + 1))
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # let the watch reach its wait
    assert not pending.done()
    store.request_progress()
    event = await asyncio.wait_for(pending, 5)
    assert (event.type, event.revision) == ("PROGRESS", revision)
    await stream.aclose()  # type: ignore[attr-defined]


async def test_raw_watches_skip_progress(store: ResourceStore) -> None:
    key = store.runtime_key("flag")
    revision = await store.put_raw(key, b"1")
    stream = aiter(store.watch_raw(key, start_revision=revision + 1))
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(3 * INTERVAL)  # several progress intervals pass unseen
    assert not pending.done()
    written = await store.put_raw(key, b"2")
    seen_key, value, seen_revision = await asyncio.wait_for(pending, 5)
    assert (seen_key, seen_revision) == (key, written)
    assert value is not None and value.value == b"2"
    await stream.aclose()  # type: ignore[attr-defined]


async def test_informer_keeps_a_silent_healthy_watch(store: ResourceStore) -> None:
    informer = Informer(store, Widget)
    assert informer.inactivity_timeout == pytest.approx(3 * INTERVAL)
    informer.start()
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        await eventually(lambda: informer.progress_events >= 6, within=10)
        assert informer.stalls == 0  # 6 intervals = 2 inactivity timeouts of silence
        created = await store.create(widget("late"))
        await asyncio.wait_for(
            informer.wait_for_revision(created.metadata.resource_version or 0), 5
        )
        assert informer.get("late") is not None
    finally:
        await informer.stop()


async def test_informer_restarts_a_watch_that_sends_no_progress() -> None:
    store = MemoryStore()  # never sends progress on its own: a silent watch looks stalled
    informer = Informer(store, Widget, inactivity_timeout=INTERVAL)
    informer.start()
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        await eventually(lambda: informer.stalls >= 1, within=5)
        created = await store.create(widget("after-stall"))
        await asyncio.wait_for(
            informer.wait_for_revision(created.metadata.resource_version or 0), 5
        )
        assert informer.get("after-stall") is not None
    finally:
        await informer.stop()


async def test_etcd_progress_notification_advances_past_other_keys_writes(
    private_etcd: PrivateEtcdFactory,
) -> None:
    etcd = private_etcd(
        extra_args=(*TEST_ETCD_ARGS, "--experimental-watch-progress-notify-interval=200ms")
    )
    config = StoreConfig(endpoints=(etcd.endpoint,), progress_interval=0)  # server-sent only
    store = await open_store(config)
    try:
        created = await store.create(widget("a"))
        start = (created.metadata.resource_version or 0) + 1
        other = [await store.put_raw(store.runtime_key(f"k{i}"), b"x") for i in range(3)]
        stream = aiter(store.watch(Widget, start_revision=start))
        try:
            async with asyncio.timeout(5):
                progress = await first_progress(stream)
                while progress.revision < other[-1]:  # the first may predate the sync
                    progress = await first_progress(stream)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        assert progress.revision == other[-1]  # nothing of ours after it, nothing missed
    finally:
        await store.close()
