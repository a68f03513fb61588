"""The controller manager: shared informers, leader election, and every registered controller.

Standby managers keep their caches warm (every kind a controller watches, triggers a job on or
declares in `cached_kinds`); the leader runs the controllers, each write fenced by its
leadership. Losing the lease (or a write rejected by the fence) stops the controllers at once
and the manager campaigns again. Each term: caches synced → every reconciler's `on_start` →
workers and jobs; at its end: workers and jobs stopped → `on_stop(graceful=...)` → the fenced
store swapped for one that rejects every write. Controllers are named by `module:Class` entry
points in CONTROLLERS (other controller modules append theirs) or picked with `--controller`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import os
import socket
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.events import EventRecorder
from controller.metrics import RuntimeMetrics, bound_port, serve_metrics
from controller.runtime.leader import LeaderConfig, LeaderElector
from controller.runtime.reconciler import Context, Reconciler
from controller.runtime.runner import Controller
from controller.settings import Settings
from crds.errors import FencedError, O2Error, UnreadableObjectError
from crds.kinds.event import ObjectReference
from store import versions
from store.api import Fence, RuntimeKV, Store
from store.informer import Informer, InformerFactory
from store.versions import ManagerRecord, manager_record_key, package_version, python_version

log = logging.getLogger(__name__)

CONTROLLERS: list[str] = [
    "controller.gc:GarbageCollector",
    "controller.tasks.controller:TaskReconciler",
    "controller.nodes.controller:NodeReconciler",
    "controller.gitsource.controller:GitSourceReconciler",
    "controller.configs.controller:ComponentConfigReconciler",
    "controller.environments.controller:EnvironmentReconciler",
    "controller.pilots.controller:PilotReconciler",
]
"""Entry points of the controllers a manager runs by default (append yours here)."""

DEFAULT_MANAGER = versions.DEFAULT_MANAGER


@dataclass(frozen=True)
class ManagerConfig:
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    lease_name: str = DEFAULT_MANAGER
    leader: LeaderConfig = field(default_factory=LeaderConfig)
    controllers: tuple[str, ...] = ()
    metrics_port: int | None = None
    inactivity_timeout: float | None = None
    """Restart a watch silent this long; None: 3 x the store's progress interval (or 300 s)."""
    shutdown_grace: float = 5.0
    """On SIGTERM, reconciles in flight may finish for this long before being cancelled."""
    hook_timeout: float = 10.0
    """Bound on each reconciler's on_start/on_stop term hook."""
    settings: Settings = field(default_factory=Settings)
    """Every controller's settings, passed to reconcilers as ctx.settings."""


def load_reconciler(entry: str) -> type[Reconciler]:
    module_name, _, attr = entry.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Reconciler)):
        raise TypeError(f"{entry} is not a Reconciler class")
    return cls


class Manager:
    """Run with `await Manager(...).run(stop)`; set `stop` for a graceful shutdown."""

    def __init__(self, store: Store, kv: RuntimeKV, *, config: ManagerConfig) -> None:
        self.store = store
        self.kv = kv
        self.config = config
        self.lease_key = f"{store.prefix}/leases/{config.lease_name}"
        self.informers = InformerFactory(store, inactivity_timeout=config.inactivity_timeout)
        self.metrics = RuntimeMetrics()
        self.elector = LeaderElector(kv, self.lease_key, config.identity, config=config.leader)
        self.leading_store: Store | None = None
        self.recorder = EventRecorder(lambda: self.leading_store, kv, source=config.lease_name)
        never = Fence(self.lease_key, -1)  # fails every write until we lead
        self.ctx = Context(
            store=store.with_fence(never),
            kv=kv,
            informers=self.informers,
            events=self.recorder,
            settings=config.settings,
            identity=config.identity,
        )
        entries = config.controllers or tuple(CONTROLLERS)
        self.controllers = [
            Controller(
                load_reconciler(e)(self.ctx),
                observer=self.metrics,
                hook_timeout=config.hook_timeout,
            )
            for e in entries
        ]
        self.metrics_port: int | None = None
        self._fenced = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        self._prepare()
        background = [asyncio.create_task(self.recorder.run(), name="event-recorder")]
        runner = None
        if self.config.metrics_port is not None:
            runner = await serve_metrics(self.metrics, port=self.config.metrics_port)
            self.metrics_port = bound_port(runner)
            log.info("Serving metrics", extra={"port": self.metrics_port})
        try:
            while not stop.is_set():
                if not await self._first(self.elector.campaign(), stop):
                    break
                await self._lead(stop)
        finally:
            await self._shutdown(background, runner)

    def _prepare(self) -> None:
        for ctl in self.controllers:
            ctl.on_fenced = self._on_fenced
            ctl.attach()
        self.informers.on_new_informer(self._watch_unreadable)
        self.metrics.track(lambda: self.controllers, self.informers.all)
        self.informers.start()

    async def _lead(self, stop: asyncio.Event) -> None:
        """One leadership term: keep the lease alive, start controllers once caches are synced,
        and stop them at once when the lease is lost, a write is fenced, or we are told to."""
        fence = self.elector.fence
        assert fence is not None
        self._fenced.clear()
        self.leading_store = self.store.with_fence(fence)
        self.ctx.store = self.leading_store
        self.metrics.leader.labels(self.config.identity).set(1)
        ends = [
            asyncio.create_task(self.elector.hold()),
            asyncio.create_task(self._fenced.wait()),
            asyncio.create_task(stop.wait()),
        ]
        starting = asyncio.create_task(self._start_term())
        try:
            done, _ = await asyncio.wait([starting, *ends], return_when=asyncio.FIRST_COMPLETED)
            if starting in done:
                await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost = ends[0].done() or self._fenced.is_set()
            for task in (starting, *ends):
                task.cancel()
            await asyncio.gather(starting, *ends, return_exceptions=True)
            graceful = stop.is_set() and not lost
            await self._stop_controllers(graceful=graceful)
        if self._fenced.is_set():
            await self.elector.resign()  # whatever we hold is stale: let the others decide

    async def _start_term(self) -> None:
        await asyncio.gather(self.informers.wait_synced(), self._record_leadership())
        await asyncio.gather(*(ctl.start_term() for ctl in self.controllers))

    async def _record_leadership(self) -> None:
        """Say who leads, running which o2 and Python (read by `o2 version`; store.versions),
        on the leader key's etcd lease so the record goes with the leadership. Best effort: a
        failed write is logged, never the end of the term."""
        record = ManagerRecord(
            identity=self.config.identity,
            version=package_version(),
            python=python_version(),
            since=datetime.now(UTC).isoformat(),
        )
        key = manager_record_key(self.store.prefix, self.config.lease_name)
        try:
            await self.kv.put_raw(key, record.to_bytes(), lease=self.elector.lease)
        except O2Error as exc:
            log.warning("Leadership record not written", extra={"key": key, "error": str(exc)})

    async def _stop_controllers(self, *, graceful: bool = False) -> None:
        """End the term of every controller: workers first, then their on_stop hooks (while
        ctx.store is still this term's), then swap in a store that rejects every write."""
        was_running = any(ctl.running or ctl.in_term for ctl in self.controllers)
        grace = self.config.shutdown_grace if graceful else 0.0
        await asyncio.gather(
            *(ctl.end_term(graceful=graceful, grace=grace) for ctl in self.controllers)
        )
        self.leading_store = None
        self.ctx.store = self.store.with_fence(Fence(self.lease_key, -1))
        self.metrics.leader.labels(self.config.identity).set(0)
        if was_running:
            log.info("Controllers stopped", extra={"identity": self.config.identity})

    def _on_fenced(self, exc: FencedError) -> None:
        log.error("Fenced: stopping controllers", extra={"lease_key": exc.lease_key})
        self._fenced.set()

    def _watch_unreadable(self, informer: Informer[Any]) -> None:
        informer.on_unreadable(functools.partial(self._report_unreadable, informer.kind.KIND))

    def _report_unreadable(self, kind: str, err: UnreadableObjectError) -> None:
        name = err.key.rsplit("/", 1)[-1]
        self.recorder.emit(
            ObjectReference(kind=kind, name=name),
            reason="Unreadable",
            message=f"{err.key}: {err.reason}",
            warning=True,
        )

    async def _first(self, work: Awaitable[Any], stop: asyncio.Event) -> bool:
        """Await `work` unless `stop` comes first; True when work finished without error."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (task, stopper):
                t.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)
        return task.done() and not task.cancelled() and task.exception() is None

    async def _shutdown(self, background: list[asyncio.Task[None]], runner: Any) -> None:
        await self._stop_controllers()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.recorder.flush(), 2.0)
        await self.elector.resign()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await self.informers.stop()
        if runner is not None:
            await runner.cleanup()
        log.info("Manager stopped", extra={"identity": self.config.identity})
