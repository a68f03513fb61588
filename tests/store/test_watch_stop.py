"""Stopping etcd watches never hangs and leaks nothing, even mid-setup (aetcd watcher race)."""

from __future__ import annotations

import asyncio
import random

from store.etcd import EtcdStore
from store.informer import Informer
from tests.store.widget import Widget, widget
from tests.waiting import eventually

CYCLES = 120
INFORMERS = 3
STOP_WITHIN = 5.0


async def _wait_no_watches(store: EtcdStore) -> None:
    """Cancels are queued on the stream and registrations end in tasks of their own."""
    await eventually(
        store.kv.watches_open,
        until=lambda count: count == 0,
        within=2,
        message="every watch, registration and cancel to end",
    )


async def test_informers_stopped_during_watch_setup_stop_promptly_without_leaks(
    etcd_store: EtcdStore,
) -> None:
    """Many start/stop cycles of concurrent informers on one client, stopped at delays that
    sweep across aetcd's watch registration: before the fix about one cycle in ten hung."""
    await etcd_store.create(widget("a"))
    rnd = random.Random(20)
    for cycle in range(CYCLES):
        informers = [Informer(etcd_store, Widget) for _ in range(INFORMERS)]
        for informer in informers:
            informer.start()
        await asyncio.sleep(rnd.random() * 0.006)
        stops = [asyncio.ensure_future(informer.stop()) for informer in informers]
        _, hung = await asyncio.wait(stops, timeout=STOP_WITHIN)
        for task in hung:
            task.cancel()
        assert not hung, f"Informer.stop() hung in cycle {cycle}"
    await _wait_no_watches(etcd_store)


async def test_raw_watch_streams_closed_mid_setup_leave_no_watch_behind(
    etcd_store: EtcdStore,
) -> None:
    created = await etcd_store.create(widget("a"))
    revision = created.metadata.resource_version or 1
    for delay in range(40):

        async def follow() -> None:
            async for _ in etcd_store.watch(Widget, start_revision=revision + 1):
                pass

        tasks = [asyncio.create_task(follow()) for _ in range(INFORMERS)]
        await asyncio.sleep(delay * 0.0002)
        for task in tasks:
            task.cancel()
        _, hung = await asyncio.wait(tasks, timeout=STOP_WITHIN)
        assert not hung
    await _wait_no_watches(etcd_store)
