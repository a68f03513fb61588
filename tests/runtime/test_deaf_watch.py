"""A watch that delivers nothing while the store's watch stream looks alive (seen in the chaos
soak after an etcd member died while watches re-registered: a manager's caches stayed at one
revision for minutes, and an environment whose spec changed was never reconciled): the stall
guard never fires. A write the controller made, committed, that its cache does not show within
`catch_up` while that cache has not moved at all proves the watch deaf: every watch of the
process is restarted from its last revision (they share the stream), and the caches catch up,
also with changes other writers made. Not so a cache whose stream still delivers events older
than the write (a manager reading slower than etcd commits, as at 50,000 tasks: the write waits
in that backlog), which restarting every watch would only make worse."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controller.runtime.reconciler import Context
from crds.kinds.environment import Environment
from crds.resource import Resource
from store.api import WatchEvent
from store.informer import InformerFactory
from store.memory import MemoryStore
from tests.runtime.gadget import Gadget, gadget
from tests.runtime.test_context import Sink
from tests.waiting import eventually

SILENCE = 0.3
"""The informers' stall guard: a watch silent this long (with a silent stream) is restarted."""


class DeafStream:
    """A memory store whose first watch of each kind gets liveness answers only (as etcd's
    answers to progress requests, every watch on the stream gets one) and never an event;
    later watches are the real ones."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.deaf: set[str] = set()
        self.watches = 0

    def watch_stream_idle(self) -> float:
        return 0.0  # the shared stream keeps answering

    def watch_stream_behind(self, revision: int, *, within: float) -> bool:
        return False  # and delivers no events at all: no backlog to wait behind

    def watch(self, kind: type[Resource], *, start_revision: int) -> AsyncIterator[WatchEvent[Any]]:
        self.watches += 1
        if kind.KIND in self.deaf:
            return self.store.watch(kind, start_revision=start_revision)
        self.deaf.add(kind.KIND)
        return self._liveness_only(start_revision - 1)

    async def _liveness_only(self, revision: int) -> AsyncIterator[WatchEvent[Any]]:
        while True:
            await asyncio.sleep(SILENCE / 5)
            yield WatchEvent(type="PROGRESS", key="", name="", revision=revision)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def environment(name: str) -> Environment:
    return Environment.model_validate(
        {"kind": "Environment", "metadata": {"name": name}, "spec": {"workflow": "w"}}
    )


@pytest.fixture
async def deaf(memory_store: MemoryStore) -> AsyncIterator[tuple[Context, DeafStream]]:
    stream = DeafStream(memory_store)
    informers = InformerFactory(stream, inactivity_timeout=SILENCE)
    ctx = Context(store=memory_store, kv=memory_store, informers=informers, events=Sink())
    informers.informer(Gadget)
    informers.informer(Environment)
    informers.start()
    await informers.wait_synced()
    try:
        yield ctx, stream
    finally:
        await informers.stop()


async def test_own_write_missing_from_a_deaf_cache_restarts_every_watch(
    deaf: tuple[Context, DeafStream], caplog: pytest.LogCaptureFixture
) -> None:
    ctx, stream = deaf
    ctx.catch_up = 0.2
    await ctx.store.create(environment("spec-changed-by-someone-else"))
    await asyncio.sleep(3 * SILENCE)  # the stall guard had its chance: liveness kept it quiet
    assert ctx.cache(Environment).get("spec-changed-by-someone-else") is None
    assert stream.watches == 2
    created = await ctx.store.create(gadget("own-write"))
    with caplog.at_level(logging.WARNING):
        await ctx.caught_up(Gadget, created.metadata.resource_version)
    await eventually(
        lambda: ctx.cache(Environment).get("spec-changed-by-someone-else"),
        within=5,
        message="the Environment cache to show the other writer's change",
    )
    assert ctx.cache(Gadget).get("own-write") is not None
    assert "Restarting every watch" in caplog.text


async def test_a_lagging_but_moving_cache_is_not_restarted(
    deaf: tuple[Context, DeafStream],
) -> None:
    ctx, stream = deaf
    ctx.catch_up = 0.2
    informer = ctx.cache(Gadget)
    created = await ctx.store.create(gadget("own-write"))
    revision = created.metadata.resource_version or 0

    async def moving() -> None:
        await asyncio.sleep(0.05)
        informer.revision = revision  # as a per-watch progress notification would

    await asyncio.gather(ctx.caught_up(Gadget, revision + 1000), moving())  # never shown
    assert stream.watches == 2


class LaggingStream:
    """A memory store whose watches share one stream that delivers every event `lag` s after
    its commit (a manager reading slower than etcd commits: the backlog waits in etcd and the
    network, nothing is lost), recording what the stream delivered as etcd's does
    (`watch_stream_behind`); the first watch of each kind in `deaf_kinds` hears nothing."""

    def __init__(self, store: MemoryStore, *, lag: float, deaf_kinds: tuple[str, ...] = ()) -> None:
        self.store = store
        self.lag = lag
        self.deaf_kinds = set(deaf_kinds)
        self.watches = 0
        self.position = 0
        self.last_events = float("-inf")

    def watch_stream_idle(self) -> float:
        return 0.0  # the shared stream keeps answering

    def watch_stream_behind(self, revision: int, *, within: float) -> bool:
        recent = asyncio.get_running_loop().time() - self.last_events <= within
        return recent and self.position < revision

    def watch(self, kind: type[Resource], *, start_revision: int) -> AsyncIterator[WatchEvent[Any]]:
        self.watches += 1
        if kind.KIND in self.deaf_kinds:
            self.deaf_kinds.discard(kind.KIND)
            return DeafStream(self.store)._liveness_only(start_revision - 1)
        return self._late(kind, start_revision)

    async def _late(self, kind: type[Resource], start: int) -> AsyncIterator[WatchEvent[Any]]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, WatchEvent[Any]]] = asyncio.Queue()

        async def receive() -> None:
            async for event in self.store.watch(kind, start_revision=start):
                queue.put_nowait((loop.time() + self.lag, event))

        receiving = asyncio.create_task(receive())
        try:
            while True:
                due, event = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if event.type != "PROGRESS":
                    self.position = max(self.position, event.revision)
                    self.last_events = loop.time()
                yield event
        finally:
            receiving.cancel()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def _traffic(store: MemoryStore, stop: asyncio.Event) -> None:
    """Another writer, busy all along: an Environment every 20 ms."""
    for i in itertools.count():
        if stop.is_set():
            return
        await store.create(environment(f"busy-{i}"))
        await asyncio.sleep(0.02)


async def _caught_up_under_traffic(
    stream: LaggingStream, caplog: pytest.LogCaptureFixture
) -> Context:
    informers = InformerFactory(stream, inactivity_timeout=SILENCE)
    ctx = Context(store=stream.store, kv=stream.store, informers=informers, events=Sink())
    ctx.catch_up = 0.2
    informers.informer(Gadget)
    informers.informer(Environment)
    informers.start()
    stop = asyncio.Event()
    writing = asyncio.create_task(_traffic(stream.store, stop))
    try:
        await informers.wait_synced()
        await asyncio.sleep(2 * stream.lag + 0.1)  # the stream delivers all along
        created = await ctx.store.create(gadget("own-write"))
        with caplog.at_level(logging.INFO):
            await ctx.caught_up(Gadget, created.metadata.resource_version)
        await eventually(
            lambda: ctx.cache(Gadget).get("own-write"),
            within=5,
            message="the Gadget cache to show the write",
        )
        return ctx
    finally:
        stop.set()
        await writing
        await informers.stop()


async def test_a_cache_behind_a_slow_stream_is_not_taken_for_deaf(
    memory_store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Saturation (50,000 tasks): the stream delivers every event `lag` s late, longer than
    `catch_up`; the own write waits behind older events, and no watch is restarted."""
    stream = LaggingStream(memory_store, lag=0.5)
    await _caught_up_under_traffic(stream, caplog)
    assert "Restarting every watch" not in caplog.text
    assert "Watch stream behind a write" in caplog.text
    assert stream.watches == 2


async def test_a_deaf_watch_on_a_stream_past_the_write_is_restarted(
    memory_store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The stream delivers the other writer's later events at once: the own write's watch is
    deaf, not behind, and every watch is restarted (the Gadget cache then shows the write)."""
    stream = LaggingStream(memory_store, lag=0.0, deaf_kinds=("Gadget",))
    await _caught_up_under_traffic(stream, caplog)
    assert "Restarting every watch" in caplog.text
    assert stream.watches == 4
