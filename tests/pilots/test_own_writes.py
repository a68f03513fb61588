"""The pilot controller waits for the caches to show its own writes, so the next pass plans
from the caches alone and does not act twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from controller.pilots.controller import PilotReconciler
from controller.runtime.clock import FakeClock
from controller.runtime.reconciler import Context
from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.resource import Resource
from store.api import Store
from store.informer import InformerFactory
from store.memory import MemoryStore
from tests.pilots.factories import node, pilot_class


class CountingStore:
    """The store, counting the writes made through it."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.writes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def create(self, obj: Resource, **kwargs: Any) -> Resource:
        self.writes.append(f"create {obj.kind}/{obj.name}")
        return await self._store.create(obj, **kwargs)

    async def update_status(self, obj: Resource) -> Resource:
        self.writes.append(f"status {obj.kind}/{obj.name}")
        return await self._store.update_status(obj)


class Sink:
    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        pass


@pytest.fixture
async def pilots(memory_store: MemoryStore) -> AsyncIterator[tuple[PilotReconciler, CountingStore]]:
    await memory_store.create(pilot_class())
    template = node("a", mode="async")
    created = await memory_store.create(template)
    await memory_store.update_status(created.model_copy(update={"status": template.status}))
    counting = CountingStore(memory_store)
    informers = InformerFactory(memory_store)
    ctx = Context(
        store=cast(Store, counting),
        kv=memory_store,
        informers=informers,
        events=Sink(),
        clock=FakeClock(),
    )
    reconciler = PilotReconciler(ctx)
    for kind in (Node, Task, Environment, TaskClass):
        informers.informer(kind)
    informers.start()
    await informers.wait_synced()
    try:
        yield reconciler, counting
    finally:
        await informers.stop()


async def test_pass_returns_once_the_caches_show_its_writes(
    pilots: tuple[PilotReconciler, CountingStore],
) -> None:
    reconciler, store = pilots
    await reconciler.run_pass()
    assert store.writes == ["status Node/a", "create Task/pilot-a"]
    cached = reconciler.ctx.cache(Node).get("a")
    assert cached is not None and cached.status.pilot == "pilot-a"
    assert reconciler.ctx.cache(Task).get("pilot-a") is not None


async def test_an_immediate_second_pass_writes_nothing(
    pilots: tuple[PilotReconciler, CountingStore],
) -> None:
    reconciler, store = pilots
    await reconciler.run_pass()
    written = list(store.writes)
    await reconciler.run_pass()
    assert store.writes == written
