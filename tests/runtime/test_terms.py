"""Leadership-term hooks in an in-process manager on real etcd: order, lease loss, failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from controller.manager import Manager, ManagerConfig
from controller.runtime.leader import LeaderConfig
from controller.runtime.reconciler import Context, Reconciler, Result
from store.etcd import EtcdStore
from tests.runtime.gadget import Gadget, gadget

FAST = LeaderConfig(ttl=2, renew_deadline=1.3, retry_period=0.3)
HERE = "tests.runtime.test_terms"


class TermProbe(Reconciler):
    """Records hooks and reconciles in order, with what each saw of the cache and the store."""

    name = "term-probe"
    kind = Gadget
    workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.calls: list[str] = []
        self.fences: list[int] = []
        self.cached_at_start: list[int] = []
        self.changed = asyncio.Event()

    def _record(self, call: str) -> None:
        self.calls.append(call)
        fence = getattr(self.ctx.store, "fence", None)
        self.fences.append(fence.create_revision if fence is not None else 0)
        self.changed.set()

    async def on_start(self) -> None:
        self.cached_at_start.append(len(self.ctx.cache(Gadget)))
        self._record("start")

    async def on_stop(self, *, graceful: bool) -> None:
        self._record(f"stop graceful={graceful}")

    async def reconcile(self, key: str) -> Result:
        self._record(f"reconcile {key}")
        return Result()

    async def wait_for(self, call: str, *, count: int = 1, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while self.calls.count(call) < count:
                self.changed.clear()
                await self.changed.wait()


class FailingHooks(TermProbe):
    name = "failing-hooks"

    async def on_start(self) -> None:
        await super().on_start()
        raise RuntimeError("on_start broke")

    async def on_stop(self, *, graceful: bool) -> None:
        await super().on_stop(graceful=graceful)
        raise RuntimeError("on_stop broke")


class HangingStart(TermProbe):
    name = "hanging-start"

    async def on_start(self) -> None:
        await super().on_start()
        await asyncio.Event().wait()  # never returns: bounded by the hook timeout


@dataclass
class Running:
    manager: Manager
    stop: asyncio.Event
    task: asyncio.Task[None]

    def probe(self, index: int = 0) -> TermProbe:
        reconciler = self.manager.controllers[index].reconciler
        assert isinstance(reconciler, TermProbe)
        return reconciler

    async def shut_down(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 15)


async def run_manager(store: EtcdStore, *controllers: str, hook_timeout: float = 5.0) -> Running:
    config = ManagerConfig(
        identity="terms",
        leader=FAST,
        controllers=tuple(f"{HERE}:{c}" for c in controllers),
        hook_timeout=hook_timeout,
    )
    manager = Manager(store, store, config=config)
    stop = asyncio.Event()
    return Running(manager, stop, asyncio.create_task(manager.run(stop)))


@pytest.fixture
async def running(etcd_store: EtcdStore) -> AsyncIterator[list[Running]]:
    started: list[Running] = []
    try:
        yield started
    finally:
        for r in started:
            r.stop.set()
        await asyncio.gather(*(r.task for r in started), return_exceptions=True)


async def test_on_start_runs_after_caches_sync_before_reconciles_and_on_stop_on_shutdown(
    etcd_store: EtcdStore, running: list[Running]
) -> None:
    for name in ("a", "b"):
        await etcd_store.create(gadget(name))
    r = await run_manager(etcd_store, "TermProbe")
    running.append(r)
    probe = r.probe()
    await probe.wait_for("reconcile a")
    await probe.wait_for("reconcile b")
    await r.shut_down()
    assert probe.calls[0] == "start" and probe.cached_at_start == [2]
    assert probe.calls[-1] == "stop graceful=True"
    assert sorted(probe.calls[1:-1]) == ["reconcile a", "reconcile b"]
    term = probe.fences[0]
    assert term > 0 and probe.fences == [term] * len(probe.fences)  # one term's fenced store


async def test_lost_lease_ends_the_term_at_once_and_the_next_term_starts_again(
    etcd_store: EtcdStore, running: list[Running]
) -> None:
    r = await run_manager(etcd_store, "TermProbe")
    running.append(r)
    probe = r.probe()
    await probe.wait_for("start")
    lease = r.manager.elector.lease
    assert lease is not None
    loop = asyncio.get_running_loop()
    revoked = loop.time()
    await etcd_store.revoke_lease(lease)  # as if the lease expired
    await probe.wait_for("stop graceful=False", within=5)
    assert loop.time() - revoked < 1.0
    await probe.wait_for("start", count=2, within=10)  # campaigned and won again
    await etcd_store.create(gadget("late"))
    await probe.wait_for("reconcile late")
    await r.shut_down()
    assert probe.calls[0] == "start" and probe.calls[1] == "stop graceful=False"
    assert probe.calls[-1] == "stop graceful=True"
    first, second = probe.fences[0], probe.fences[probe.calls.index("start", 1)]
    assert second > first  # a new term, a new fence


async def test_failing_or_hanging_hooks_are_logged_and_do_not_wedge_the_manager(
    etcd_store: EtcdStore, running: list[Running], caplog: pytest.LogCaptureFixture
) -> None:
    await etcd_store.create(gadget("k"))
    caplog.set_level(logging.INFO, logger="controller.runtime.reconciler")
    r = await run_manager(etcd_store, "FailingHooks", "HangingStart", hook_timeout=0.3)
    running.append(r)
    failing, hanging = r.probe(0), r.probe(1)
    await failing.wait_for("reconcile k")
    await hanging.wait_for("reconcile k")
    await r.shut_down()
    assert failing.calls[-1] == hanging.calls[-1] == "stop graceful=True"
    messages = [(rec.getMessage(), getattr(rec, "hook", "")) for rec in caplog.records]
    assert ("Term hook failed", "on_start") in messages
    assert ("Term hook failed", "on_stop") in messages
    assert ("Term hook timed out", "on_start") in messages
