"""Reconciler registration and the per-controller runner (queue + workers + resync).

A reconciler declares the kind it reconciles and the kinds it watches, each with a mapping
from a changed object to the keys to enqueue. It receives a key, never the event, reads from
the shared informer cache and writes through the (leader-fenced) store in `ctx.store`.

Leadership terms: `on_start()` runs when a term starts (caches synced, `ctx.store` fenced by
the new term, before any worker runs) and `on_stop(graceful=...)` when it ends (after the
workers stopped, before `ctx.store` is swapped out): the place to start and stop per-term
background work (a Mesos subscription), instead of watching `ctx.store`. Each hook is bounded
by `Controller.hook_timeout`; a hook that fails or overruns is logged and the term goes on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from controller.runtime.queue import ShutDown, WorkQueue
from crds.errors import ConflictError, FencedError, O2Error, PermanentError, TemporaryError
from crds.resource import Resource
from store.api import RuntimeKV, Store
from store.informer import CacheEvent, Informer, InformerFactory

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Resource)
KeyMapper = Callable[[CacheEvent[Any]], Iterable[str]]


@dataclass(frozen=True)
class Result:
    """What a reconcile asks for: nothing, or another look after `requeue_after` seconds."""

    requeue_after: float | None = None


@dataclass(frozen=True)
class Watch:
    """Enqueue `keys(event)` whenever an object of `kind` changes."""

    kind: type[Resource]
    keys: KeyMapper


def own_name(event: CacheEvent[Any]) -> Iterable[str]:
    return (event.name,)


def owners_of_kind(kind: str) -> KeyMapper:
    """Map a dependent to the names of its owners of `kind` (old and new owners alike)."""

    def mapper(event: CacheEvent[Any]) -> Iterable[str]:
        names: set[str] = set()
        for obj in (event.old, event.new):
            if obj is not None:
                refs = obj.metadata.owner_references
                names.update(ref.name for ref in refs if ref.kind == kind)
        return names

    return mapper


def label_value(label: str) -> KeyMapper:
    """Map an object to the value of its `label` (e.g. the environment it belongs to)."""

    def mapper(event: CacheEvent[Any]) -> Iterable[str]:
        names: set[str] = set()
        for obj in (event.old, event.new):
            if obj is not None and label in obj.metadata.labels:
                names.add(obj.metadata.labels[label])
        return names

    return mapper


class EventSink(Protocol):
    """Where reconcilers report Events (controller.events.EventRecorder)."""

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None: ...


@dataclass
class Context:
    """What a reconciler may use. `store` is the fenced view of the current leadership term."""

    store: Store
    kv: RuntimeKV
    informers: InformerFactory
    events: EventSink
    options: dict[str, Any] = field(default_factory=dict)

    def cache(self, kind: type[R]) -> Informer[R]:
        return self.informers.informer(kind)


class Reconciler(ABC):
    """Subclass, set `name` and `kind`, implement `reconcile`; add `watches()` for other kinds."""

    name: ClassVar[str]
    kind: ClassVar[type[Resource] | None] = None
    workers: ClassVar[int] = 4
    resync_period: ClassVar[float | None] = 600.0

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def watches(self) -> Sequence[Watch]:
        """Watches beyond the reconciled kind itself (which is always watched by name)."""
        return ()

    def all_watches(self) -> list[Watch]:
        primary = [Watch(self.kind, own_name)] if self.kind is not None else []
        return [*primary, *self.watches()]

    def resync_keys(self) -> Iterable[str]:
        """Keys enqueued on every resync (default: every cached object of `kind`)."""
        return self.ctx.cache(self.kind).names() if self.kind is not None else ()

    @abstractmethod
    async def reconcile(self, key: str) -> Result:
        """Observe → plan → act → write status. Never sleep: return `Result(requeue_after)`."""

    async def on_start(self) -> None:
        """A leadership term starts: caches are synced, `ctx.store` is fenced by this term,
        workers start right after. Start per-term background work here (keep it short)."""
        return None  # default: nothing per term

    async def on_stop(self, *, graceful: bool) -> None:
        """The term ends, after the workers stopped. `graceful`: shutdown while the lease is
        still held (writes still pass the fence: flush what is pending); otherwise the lease
        was lost or a write was fenced (writes would be rejected: stop at once)."""
        return None  # default: nothing per term


class Observer(Protocol):
    """Metrics sink for the runner (controller.metrics.RuntimeMetrics)."""

    def reconciled(self, controller: str, outcome: str, seconds: float) -> None: ...


FencedCallback = Callable[[FencedError], None]
ReconcileHook = Callable[[str, str], None]

DEFAULT_HOOK_TIMEOUT = 10.0


class Controller:
    """Runs one reconciler: informer handlers fill its queue; workers run only while leading."""

    def __init__(
        self,
        reconciler: Reconciler,
        *,
        observer: Observer | None = None,
        hook_timeout: float = DEFAULT_HOOK_TIMEOUT,
    ) -> None:
        self.reconciler = reconciler
        self.name = reconciler.name
        self.queue = WorkQueue()
        self.observer = observer
        self.on_fenced: FencedCallback | None = None
        self.halted = False
        """Set when a write was rejected by the fence, or on a graceful stop: workers stop
        pulling keys at once (the keys stay queued for the next term)."""
        self.hook_timeout = hook_timeout
        self.in_term = False
        """Between `start_term` and `end_term`: on_start was called, on_stop is owed."""
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[Any]] = set()
        self._handlers: list[tuple[Informer[Any], Callable[[CacheEvent[Any]], None]]] = []

    def attach(self) -> None:
        """Subscribe to the informers (keys accumulate, de-duplicated, even while standby)."""
        for watch in self.reconciler.all_watches():
            informer = self.reconciler.ctx.cache(watch.kind)
            handler = self._handler_for(watch.keys)
            informer.add_handler(handler)
            self._handlers.append((informer, handler))

    def detach(self) -> None:
        for informer, handler in self._handlers:
            informer.remove_handler(handler)
        self._handlers.clear()

    def _handler_for(self, keys: KeyMapper) -> Callable[[CacheEvent[Any]], None]:
        add = self.queue.add

        def handler(event: CacheEvent[Any]) -> None:
            for key in keys(event):
                add(key)

        return handler

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def start_term(self) -> None:
        """A leadership term starts (caches synced): `on_start`, then the workers."""
        self.in_term = True
        await self._hook("on_start", self.reconciler.on_start)
        self.start()

    async def end_term(self, *, graceful: bool, grace: float = 0.0) -> None:
        """The term ends: stop the workers (in-flight reconciles get `grace` seconds when
        graceful, none otherwise), then `on_stop` if `on_start` was called."""
        await self.stop(grace=grace if graceful else 0.0)
        if self.in_term:
            self.in_term = False
            await self._hook(
                "on_stop", functools.partial(self.reconciler.on_stop, graceful=graceful)
            )

    async def _hook(self, hook: str, call: Callable[[], Awaitable[None]]) -> None:
        """Run a term hook, bounded by `hook_timeout`; failures are logged, never raised."""
        try:
            async with asyncio.timeout(self.hook_timeout):
                await call()
        except TimeoutError:
            log.error(
                "Term hook timed out",
                extra={"controller": self.name, "hook": hook, "timeout": self.hook_timeout},
            )
        except Exception as exc:
            log.exception(
                "Term hook failed", extra={"controller": self.name, "hook": hook, "error": str(exc)}
            )

    def start(self) -> None:
        """Start workers (and resync); called when leadership is acquired (by `start_term`)."""
        if self._tasks:
            return
        self.halted = False
        for i in range(max(1, self.reconciler.workers)):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-w{i}"))
        if self.reconciler.resync_period:
            self._tasks.append(asyncio.create_task(self._resync(), name=f"{self.name}-resync"))
        for key in self.reconciler.resync_keys():
            self.queue.add(key)
        log.info("Controller started", extra={"controller": self.name})

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop workers. With `grace`, reconciles in flight may finish for that long (graceful
        shutdown); without, they are cancelled at once (lost leadership). Keys stay queued."""
        tasks, self._tasks = self._tasks, []
        if grace > 0 and tasks:
            for task in tasks:
                if task not in self._busy:
                    task.cancel()
            self.halted = True  # busy workers return after their current key
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if tasks:
            log.info("Controller stopped", extra={"controller": self.name})

    async def _worker(self) -> None:
        queue = self.queue
        me = asyncio.current_task()
        assert me is not None
        while not self.halted:
            try:
                key = await queue.get()
            except ShutDown:
                return
            if self.halted:  # deposed or stopping: leave the key for the next term
                queue.add(key)
                queue.done(key)
                return
            self._busy.add(me)
            try:
                await self._process(queue, key)
            except asyncio.CancelledError:
                queue.add(key)  # unfinished: look again next term
                raise
            finally:
                self._busy.discard(me)
                queue.done(key)
            await asyncio.sleep(0)  # never starve the loop (watches, lease keepalive)

    async def _process(self, queue: WorkQueue, key: str) -> None:
        started = time.perf_counter()
        outcome = "success"
        try:
            result = await self.reconciler.reconcile(key)
        except ConflictError:
            outcome = "conflict"
            queue.add_rate_limited(key)
        except TemporaryError as exc:
            outcome = "requeue"
            log.info("Reconcile will retry", extra=self._extra(key, exc, delay=exc.delay))
            queue.add_after(key, exc.delay)
        except PermanentError as exc:
            outcome = "error"
            queue.forget(key)
            log.error("Reconcile failed permanently", extra=self._extra(key, exc))
            self._warn(key, "ReconcileFailed", str(exc))
        except FencedError as exc:
            outcome = "fenced"
            self.halted = True
            queue.add(key)
            log.error("Write rejected by the leader fence", extra=self._extra(key, exc))
            if self.on_fenced is not None:
                self.on_fenced(exc)
        except O2Error as exc:  # expected failures (etcd unavailable, validation): no traceback
            outcome = "error"
            delay = queue.add_rate_limited(key)
            log.warning("Reconcile failed", extra=self._extra(key, exc, delay=delay))
        except Exception as exc:
            outcome = "error"
            delay = queue.add_rate_limited(key)
            log.exception("Reconcile crashed", extra=self._extra(key, exc, delay=delay))
        else:
            queue.forget(key)
            if result.requeue_after is not None:
                queue.add_after(key, result.requeue_after)
        if self.observer is not None:
            self.observer.reconciled(self.name, outcome, time.perf_counter() - started)

    def _warn(self, key: str, reason: str, message: str) -> None:
        """A Warning Event on the reconciled object, when it is cached."""
        kind = self.reconciler.kind
        obj = self.reconciler.ctx.cache(kind).get(key) if kind is not None else None
        if obj is not None:
            self.reconciler.ctx.events.event(obj, reason=reason, message=message, warning=True)

    def _extra(self, key: str, exc: BaseException, **more: Any) -> dict[str, Any]:
        return {"controller": self.name, "key": key, "error": str(exc), **more}

    async def _resync(self) -> None:
        period = self.reconciler.resync_period or 0.0
        while True:
            await asyncio.sleep(period * (0.9 + 0.2 * random.random()))
            for key in self.reconciler.resync_keys():
                self.queue.add(key)
