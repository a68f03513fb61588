"""Context.caught_up, the one read-your-own-writes wait: until the cache shows a write, bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from controller.runtime.clock import FakeClock
from controller.runtime.reconciler import Context
from crds.resource import Resource
from store.informer import InformerFactory
from store.memory import MemoryStore
from tests.runtime.gadget import Gadget, gadget


class Sink:
    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        pass


@pytest.fixture
async def ctx(memory_store: MemoryStore) -> AsyncIterator[Context]:
    informers = InformerFactory(memory_store)
    context = Context(store=memory_store, kv=memory_store, informers=informers, events=Sink())
    informers.informer(Gadget)
    informers.start()
    await informers.wait_synced()
    try:
        yield context
    finally:
        await informers.stop()


async def test_caught_up_returns_once_the_cache_shows_the_write(ctx: Context) -> None:
    created = await ctx.store.create(gadget("g"))
    assert ctx.cache(Gadget).get("g") is None  # the watch has not delivered it yet
    await ctx.caught_up(Gadget, created.metadata.resource_version)
    cached = ctx.cache(Gadget).get("g")
    assert cached is not None and cached.metadata.uid == created.metadata.uid


async def test_caught_up_gives_up_after_catch_up_seconds_with_a_warning(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    created = await ctx.store.create(gadget("g"))
    ctx.catch_up = 0.05
    never = (created.metadata.resource_version or 0) + 1000
    with caplog.at_level(logging.WARNING, logger="controller.runtime.reconciler"):
        await asyncio.wait_for(ctx.caught_up(Gadget, never), 5)
    messages = [r.getMessage() for r in caplog.records if r.name == "controller.runtime.reconciler"]
    assert messages[0] == "Cache did not catch up"
    # the cache showed nothing at all meanwhile: its watches are restarted too (test_deaf_watch)
    assert messages[1:] == ["Restarting every watch: a cache shows nothing of a committed write"]


async def test_no_revision_means_nothing_to_wait_for(ctx: Context) -> None:
    ctx.catch_up = 60.0
    await asyncio.wait_for(ctx.caught_up(Gadget, None), 1)
    await asyncio.wait_for(ctx.caught_up(Gadget, 0), 1)


def test_fake_clock_moves_wall_and_monotonic_time_together_only_when_told() -> None:
    clock = FakeClock()
    start, mono = clock.now(), clock.monotonic()
    assert (clock.now(), clock.monotonic()) == (start, mono)
    clock.advance(61)
    assert (clock.now() - start).total_seconds() == 61 and clock.monotonic() - mono == 61
