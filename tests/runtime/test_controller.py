"""The controller runner on real etcd: de-duplicated bursts, one reconcile per key, retries."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controller.runtime.reconciler import Context, Reconciler, Result
from controller.runtime.runner import Controller
from crds.errors import ConflictError, PermanentError, TemporaryError
from crds.resource import Resource
from store.etcd import EtcdStore
from store.informer import InformerFactory
from tests.runtime.gadget import Gadget, gadget
from tests.waiting import eventually


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        self.events.append((obj.metadata.name, reason))


class Probe(Reconciler):
    """Records every reconcile; `gate` holds reconciles; `fail` scripts errors per call."""

    name = "probe"
    kind = Gadget
    workers = 4

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()
        self.starts: list[tuple[str, int, float]] = []
        self.in_flight: Counter[str] = Counter()
        self.max_parallel_per_key = 0
        self.fail: list[Exception] = []
        self.finished: list[str] = []

    async def reconcile(self, key: str) -> Result:
        obj = self.ctx.cache(Gadget).get(key)
        value = obj.spec.value if obj else -1
        self.starts.append((key, value, asyncio.get_running_loop().time()))
        self.in_flight[key] += 1
        self.max_parallel_per_key = max(self.max_parallel_per_key, self.in_flight[key])
        self.started.set()
        try:
            await self.gate.wait()
            if self.fail:
                raise self.fail.pop(0)
            self.finished.append(key)
            return Result()
        finally:
            self.in_flight[key] -= 1


@pytest.fixture
async def probe(etcd_store: EtcdStore) -> AsyncIterator[tuple[Probe, Controller]]:
    factory = InformerFactory(etcd_store)
    ctx = Context(store=etcd_store, kv=etcd_store, informers=factory, events=Sink())
    reconciler = Probe(ctx)
    ctl = Controller(reconciler)
    ctl.attach()
    factory.start()
    try:
        yield reconciler, ctl
    finally:
        await ctl.stop()
        await factory.stop()


async def settle(ctl: Controller) -> None:
    await eventually(lambda: ctl.queue.core.idle, within=5)


async def start(ctl: Controller) -> None:
    informer = ctl.reconciler.ctx.cache(Gadget)
    await asyncio.wait_for(informer.wait_synced(), 5)
    ctl.start()


async def set_value(store: EtcdStore, name: str, value: int) -> int:
    obj = await store.get(Gadget, name)
    new = await store.update(
        obj.model_copy(update={"spec": obj.spec.model_copy(update={"value": value})})
    )
    return new.metadata.resource_version or 0


async def test_burst_of_changes_to_one_key_is_reconciled_once_and_never_in_parallel(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    reconciler, ctl = probe
    await etcd_store.create(gadget("k"))
    reconciler.gate.clear()
    await start(ctl)
    await asyncio.wait_for(reconciler.started.wait(), 5)  # first reconcile now in flight
    last = 0
    for value in range(1, 21):
        last = await set_value(etcd_store, "k", value)
    await asyncio.wait_for(reconciler.ctx.cache(Gadget).wait_for_revision(last), 5)
    reconciler.gate.set()
    await settle(ctl)
    assert [(k, v) for k, v, _ in reconciler.starts] == [("k", 0), ("k", 20)]
    assert reconciler.max_parallel_per_key == 1


async def test_different_keys_are_reconciled_in_parallel(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    reconciler, ctl = probe
    for name in ("a", "b", "c"):
        await etcd_store.create(gadget(name))
    reconciler.gate.clear()
    await start(ctl)
    await eventually(lambda: sum(reconciler.in_flight.values()) >= 3, within=5)
    reconciler.gate.set()
    await settle(ctl)
    assert sorted(k for k, _, _ in reconciler.starts) == ["a", "b", "c"]


async def test_temporary_error_retries_after_its_delay(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    reconciler, ctl = probe
    reconciler.fail = [TemporaryError("not yet", delay=0.2)]
    await etcd_store.create(gadget("t"))
    await start(ctl)
    await eventually(lambda: len(reconciler.starts) >= 2, within=5)
    await settle(ctl)
    (_, _, first), (_, _, second) = reconciler.starts
    assert second - first >= 0.2
    assert len(reconciler.starts) == 2


async def test_conflict_is_retried_at_once_and_permanent_error_is_not_retried(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    reconciler, ctl = probe
    reconciler.fail = [ConflictError("Gadget", "c", expected=1), PermanentError("bad spec")]
    await etcd_store.create(gadget("c"))
    await start(ctl)
    await eventually(lambda: len(reconciler.starts) >= 2, within=5)
    await settle(ctl)
    (_, _, first), (_, _, second) = reconciler.starts
    assert second - first < 0.5
    assert len(reconciler.starts) == 2  # the PermanentError was not retried
    sink = reconciler.ctx.events
    assert isinstance(sink, Sink) and sink.events == [("c", "ReconcileFailed")]


async def test_result_requeue_after_reconciles_again(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    reconciler, ctl = probe
    calls: list[Any] = []
    original = reconciler.reconcile

    async def twice(key: str) -> Result:
        calls.append(key)
        await original(key)
        return Result(requeue_after=0.05) if len(calls) == 1 else Result()

    reconciler.reconcile = twice  # type: ignore[method-assign]
    await etcd_store.create(gadget("r"))
    await start(ctl)
    await eventually(lambda: len(calls) >= 2, within=5)
    await settle(ctl)
    assert calls == ["r", "r"]


def answer_each(reconciler: Probe, result: Result) -> list[int]:
    """From now on each reconcile of `reconciler` returns `result`; the list gets the value
    each one started with."""
    calls: list[int] = []
    original = reconciler.reconcile

    async def answering(key: str) -> Result:
        await original(key)
        calls.append(reconciler.starts[-1][1])
        return result

    reconciler.reconcile = answering  # type: ignore[method-assign]
    return calls


async def test_a_paced_key_is_reconciled_at_the_changes_it_waits_for(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    """Result(pace, pace_adds): the hold is 60 s, but the second enqueue (a dependent's
    change) ends it at once."""
    reconciler, ctl = probe
    calls = answer_each(reconciler, Result(pace=60.0, pace_adds=2))
    await etcd_store.create(gadget("p"))
    await start(ctl)
    await eventually(lambda: calls == [0], within=5)
    await eventually(lambda: not ctl.queue.core.in_flight("p"), within=5)
    ctl.queue.add("p")
    await asyncio.sleep(0.2)
    assert calls == [0]  # one change of two: held
    ctl.queue.add("p")
    await eventually(lambda: calls == [0, 0], within=5)


async def test_a_new_spec_of_the_reconciled_object_ends_its_pace_hold(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    """The pace hold paces looks at dependents' churn; the object's own new spec (a user's
    change: a new generation) is looked at once."""
    reconciler, ctl = probe
    calls = answer_each(reconciler, Result(pace=60.0))
    await etcd_store.create(gadget("g"))
    await start(ctl)
    await eventually(lambda: calls == [0], within=5)
    await set_value(etcd_store, "g", 1)
    await eventually(lambda: calls == [0, 1], within=5)


async def test_graceful_stop_lets_the_reconcile_in_flight_finish(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    reconciler, ctl = probe
    await etcd_store.create(gadget("g"))
    reconciler.gate.clear()
    await start(ctl)
    await asyncio.wait_for(reconciler.started.wait(), 5)
    stopping = asyncio.create_task(ctl.stop(grace=5.0))
    await asyncio.sleep(0)
    reconciler.gate.set()
    await asyncio.wait_for(stopping, 5)
    assert reconciler.finished == ["g"]
    assert not ctl.running


async def test_stop_without_grace_cancels_the_reconcile_and_keeps_its_key(
    etcd_store: EtcdStore, probe: tuple[Probe, Controller]
) -> None:
    reconciler, ctl = probe
    await etcd_store.create(gadget("h"))
    reconciler.gate.clear()
    await start(ctl)
    await asyncio.wait_for(reconciler.started.wait(), 5)
    await asyncio.wait_for(ctl.stop(), 5)
    assert reconciler.finished == []
    assert ctl.queue.core.pop() == "h"  # queued again for the next term
