"""A watch that delivers nothing while the store's watch stream looks alive (seen in the chaos
soak after an etcd member died while watches re-registered: a manager's caches stayed at one
revision for minutes, and an environment whose spec changed was never reconciled): the stall
guard never fires. A write the controller made, committed, that its cache does not show within
`catch_up` while that cache has not moved at all proves the watch deaf: every watch of the
process is restarted from its last revision (they share the stream), and the caches catch up,
also with changes other writers made."""

from __future__ import annotations

import asyncio
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
