"""The runner's shapes beyond keys: singleton jobs, cached kinds, requeue from outside a
reconcile, and pacing through the Result (on the in-memory store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from controller.runtime.reconciler import Context, Job, Reconciler, Result, Trigger
from controller.runtime.runner import Controller
from crds.resource import Resource
from store.informer import CacheEvent, InformerFactory
from store.memory import MemoryStore
from tests.runtime.gadget import Gadget, gadget
from tests.waiting import eventually


class NoEvents:
    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        return None


def only_positive(event: CacheEvent[Any]) -> bool:
    return event.new is not None and event.new.spec.value > 0


class Sweeper(Reconciler):
    """Jobs only: `sweep` runs on Gadgets with a positive value; `gate` holds its runs."""

    name = "sweeper"
    workers = 0
    cached_kinds = (Gadget,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.gate = asyncio.Event()
        self.gate.set()
        self.running = asyncio.Event()
        self.runs = 0
        self.parallel = 0
        self.max_parallel = 0
        self.script: list[Result | Exception] = []

    def jobs(self) -> Sequence[Job]:
        return [Job("sweep", self.sweep, triggers=[Trigger(Gadget, only_positive)])]

    async def sweep(self) -> Result:
        self.runs += 1
        self.parallel += 1
        self.max_parallel = max(self.max_parallel, self.parallel)
        self.running.set()
        try:
            await self.gate.wait()
            step = self.script.pop(0) if self.script else Result()
            if isinstance(step, Exception):
                raise step
            return step
        finally:
            self.parallel -= 1


@pytest.fixture
async def sweeper(memory_store: MemoryStore) -> AsyncIterator[tuple[Sweeper, Controller]]:
    factory = InformerFactory(memory_store)
    ctx = Context(store=memory_store, kv=memory_store, informers=factory, events=NoEvents())
    reconciler = Sweeper(ctx)
    ctl = Controller(reconciler)
    ctl.attach()
    factory.start()
    await factory.wait_synced()
    try:
        yield reconciler, ctl
    finally:
        await ctl.stop()
        ctl.detach()
        await factory.stop()


async def settled(ctl: Controller) -> None:
    _, queue = ctl.jobs["sweep"]
    await eventually(lambda: queue.core.idle, within=5)


class Reader(Reconciler):
    """Reads Gadgets, reconciles nothing."""

    name = "reader"
    workers = 0
    resync_period = None
    cached_kinds = (Gadget,)


async def test_a_cached_kind_gets_its_informer_at_attach_and_enqueues_nothing(
    memory_store: MemoryStore,
) -> None:
    factory = InformerFactory(memory_store)
    ctx = Context(store=memory_store, kv=memory_store, informers=factory, events=NoEvents())
    ctl = Controller(Reader(ctx))
    assert factory.all() == []
    ctl.attach()
    assert [informer.kind for informer in factory.all()] == [Gadget]
    factory.start()
    try:
        await factory.wait_synced()
        created = await memory_store.create(gadget("quiet"))
        await ctx.cache(Gadget).wait_for_revision(created.metadata.resource_version or 0)
        ctl.start()
        assert not ctl.running and ctl.queue.core.idle  # no workers, no keys, no jobs
    finally:
        await ctl.stop()
        ctl.detach()
        await factory.stop()


async def test_job_runs_when_a_term_starts_and_triggers_during_a_run_coalesce(
    memory_store: MemoryStore, sweeper: tuple[Sweeper, Controller]
) -> None:
    reconciler, ctl = sweeper
    reconciler.gate.clear()
    ctl.start()
    await asyncio.wait_for(reconciler.running.wait(), 5)
    last = 0
    for i in range(5):
        obj = await memory_store.create(gadget(f"g{i}", value=1))
        last = obj.metadata.resource_version or 0
    await memory_store.create(gadget("ignored"))  # value 0: the trigger says no
    await reconciler.ctx.cache(Gadget).wait_for_revision(last)
    reconciler.gate.set()
    await eventually(lambda: reconciler.runs >= 2, within=5)
    await settled(ctl)
    assert (reconciler.runs, reconciler.max_parallel) == (2, 1)


async def test_job_runs_again_after_its_requeue_and_after_a_failure(
    sweeper: tuple[Sweeper, Controller],
) -> None:
    reconciler, ctl = sweeper
    reconciler.script = [Result(requeue_after=0.01), RuntimeError("agent list garbled")]
    ctl.start()
    await eventually(lambda: reconciler.runs >= 3, within=5)
    await settled(ctl)
    assert reconciler.runs == 3 and ctl.running  # the crash was retried, nothing stopped


async def test_trigger_while_standby_runs_the_job_once_when_the_term_starts(
    memory_store: MemoryStore, sweeper: tuple[Sweeper, Controller]
) -> None:
    reconciler, ctl = sweeper
    obj = await memory_store.create(gadget("early", value=3))
    await reconciler.ctx.cache(Gadget).wait_for_revision(obj.metadata.resource_version or 0)
    assert reconciler.runs == 0
    ctl.start()
    await eventually(lambda: reconciler.runs >= 1, within=5)
    await settled(ctl)
    assert reconciler.runs == 1


class Pacer(Reconciler):
    """Reconciles Gadgets: asks for a long pace once, and records every reconcile."""

    name = "pacer"
    kind = Gadget
    workers = 2
    resync_period = None

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.seen: list[str] = []

    async def reconcile(self, key: str) -> Result:
        self.seen.append(key)
        return Result(pace=60.0) if key == "big" else Result()


async def test_paced_key_is_held_by_the_queue_and_requeue_runs_an_unpaced_key(
    memory_store: MemoryStore,
) -> None:
    factory = InformerFactory(memory_store)
    ctx = Context(store=memory_store, kv=memory_store, informers=factory, events=NoEvents())
    reconciler = Pacer(ctx)
    ctl = Controller(reconciler)
    ctl.attach()
    factory.start()
    await factory.wait_synced()
    try:
        ctl.start()
        await memory_store.create(gadget("big"))
        await eventually(lambda: reconciler.seen == ["big"], within=5)
        await eventually(lambda: not ctl.queue.core.in_flight("big"), within=5)
        ctl.queue.add("big")  # a dependent's change (a new spec of its own ends the hold)
        await eventually(lambda: ctl.queue.core.delayed == 1, within=5)  # held, not run
        reconciler.requeue("small")  # background work ended: a key from outside a reconcile
        await eventually(lambda: "small" in reconciler.seen, within=5)
        assert reconciler.seen == ["big", "small"]
    finally:
        await ctl.stop()
        ctl.detach()
        await factory.stop()
