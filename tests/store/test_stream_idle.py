"""A quiet watch on a busy watch stream is not a stalled one: the informer restarts a silent
watch only when the store's whole (shared) watch stream has been silent that long too. What
every store answers about that stream (Store.watch_stream_idle / watch_stream_behind): the etcd
store its client's stream, the in-memory store that it has none (None / False), a fenced view
what its store answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from store.api import Fence
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from store.informer import Informer
from store.memory import MemoryStore
from store.resources import ResourceStore
from tests.etcd_fixture import unique_prefix
from tests.store.widget import Widget, widget
from tests.waiting import eventually

SILENCE = 0.3


class SharedStream:
    """A memory store whose watches seem to share one stream, silent for `idle` seconds."""

    def __init__(self) -> None:
        self.store = MemoryStore()  # sends no PROGRESS: a quiet watch hears nothing at all
        self.idle: float | None = 0.0
        self.asked = 0

    def watch_stream_idle(self) -> float | None:
        self.asked += 1
        return self.idle

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def test_quiet_watch_on_a_delivering_stream_is_not_restarted() -> None:
    shared = SharedStream()
    informer = Informer(shared, Widget, inactivity_timeout=SILENCE)
    informer.start()
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        await eventually(lambda: shared.asked >= 3, within=5)  # 3 silences, stream alive
        assert informer.stalls == 0
        created = await shared.store.create(widget("still-watched"))
        await asyncio.wait_for(
            informer.wait_for_revision(created.metadata.resource_version or 0), 5
        )
        assert informer.get("still-watched") is not None
    finally:
        await informer.stop()


async def test_quiet_watch_is_restarted_once_its_whole_stream_goes_silent() -> None:
    shared = SharedStream()
    informer = Informer(shared, Widget, inactivity_timeout=SILENCE)
    informer.start()
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        await eventually(lambda: shared.asked >= 2, within=5)
        assert informer.stalls == 0
        shared.idle = 10 * SILENCE  # the stream stopped delivering, for everyone
        await eventually(lambda: informer.stalls >= 1, within=5)
    finally:
        await informer.stop()


@pytest.fixture
async def quiet_etcd_store(etcd_server: EmbeddedEtcd) -> AsyncIterator[EtcdStore]:
    """No progress requests within the test: only real traffic keeps a stream alive."""
    config = StoreConfig(
        endpoints=(etcd_server.endpoint,), prefix=unique_prefix(), progress_interval=600
    )
    store = await open_store(config)
    assert isinstance(store, EtcdStore)
    try:
        yield store
    finally:
        await store.close()


async def test_etcd_quiet_watch_lives_while_another_watch_on_its_stream_is_busy(
    quiet_etcd_store: EtcdStore,
) -> None:
    store = quiet_etcd_store
    busy_prefix = store.runtime_key("busy/")
    start = await store.put_raw(busy_prefix + "0", b"0")
    delivered = 0

    async def follow_busy() -> None:
        nonlocal delivered
        async for _ in store.watch_raw(busy_prefix, start_revision=start + 1, prefix=True):
            delivered += 1

    async def write_busy() -> None:
        for i in range(1, 10_000):
            await store.put_raw(busy_prefix + str(i % 10), b"%d" % i)
            await asyncio.sleep(0.02)

    informer = Informer(store, Widget, inactivity_timeout=SILENCE)
    following = asyncio.create_task(follow_busy())
    writing: asyncio.Task[None] | None = None
    informer.start()
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        writing = asyncio.create_task(write_busy())
        await eventually(lambda: delivered >= 1, within=5)
        await asyncio.sleep(5 * SILENCE)  # the Widget watch hears nothing all this time
        assert informer.stalls == 0, "a quiet watch on a busy stream was restarted"
        assert (store.watch_stream_idle() or 0) < SILENCE

        writing.cancel()  # now the whole stream goes silent: that is a stall
        await eventually(lambda: informer.stalls >= 1, within=5)
        created = await store.create(widget("after-stall"))
        await asyncio.wait_for(
            informer.wait_for_revision(created.metadata.resource_version or 0), 5
        )
        assert informer.get("after-stall") is not None
    finally:
        await informer.stop()
        for task in (following, writing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_etcd_stream_is_behind_a_write_only_while_it_delivers_older_events(
    quiet_etcd_store: EtcdStore,
) -> None:
    """What Context.caught_up asks before it takes a silent cache for deaf: the stream is
    behind a write while its newest delivered event is older than the write and events still
    come; once it delivered the write (or a later event), or went quiet, it is not."""
    store = quiet_etcd_store
    prefix = store.runtime_key("behind/")
    start = await store.put_raw(prefix + "0", b"0")
    async with _following(store, prefix, start=start + 1) as seen:
        await eventually(lambda: store.watch_stream_behind(1, within=5) is False, within=5)
        first = await store.put_raw(prefix + "1", b"1")
        await eventually(lambda: first in seen, within=5)
        later = first + 1_000  # a write the stream has not delivered yet
        assert store.watch_stream_behind(later, within=5)
        assert not store.watch_stream_behind(first, within=5)
        await asyncio.sleep(0.2)
        assert not store.watch_stream_behind(later, within=0.1)  # no event lately: not behind


async def test_a_store_and_its_fenced_views_answer_for_one_watch_stream(
    store: ResourceStore,
) -> None:
    """Regression: the probes were looked up with getattr, only EtcdStore had them, and a
    fenced view of it (which has no `kv`) raised AttributeError; the in-memory store had none."""
    fenced = store.with_fence(Fence(store.runtime_key("leader"), 1))
    for view in (store, fenced):  # no watch open: no stream to be idle or behind
        assert view.watch_stream_idle() is None
        assert view.watch_stream_behind(1, within=5) is False
    prefix = store.runtime_key("probes/")
    start = await store.put_raw(prefix + "0", b"0")
    async with _following(store, prefix, start=start + 1) as seen:
        first = await store.put_raw(prefix + "1", b"1")
        await eventually(lambda: first in seen, within=5)
        later = first + 1_000  # a write no watch has delivered
        answers = [
            (view.watch_stream_idle() is None, view.watch_stream_behind(later, within=5))
            for view in (store, fenced)
        ]
        if isinstance(store, MemoryStore):  # no shared stream: each watch reads the history
            assert answers == [(True, False)] * 2
        else:  # the etcd client's stream just delivered `first`, older than `later`
            assert answers == [(False, True)] * 2


@contextlib.asynccontextmanager
async def _following(store: ResourceStore, prefix: str, *, start: int) -> AsyncIterator[list[int]]:
    """The revisions a raw watch of `prefix` from `start` delivers, while the block runs."""
    seen: list[int] = []

    async def follow() -> None:
        async for _key, _value, revision in store.watch_raw(
            prefix, start_revision=start, prefix=True
        ):
            seen.append(revision)

    following = asyncio.create_task(follow())
    try:
        yield seen
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
