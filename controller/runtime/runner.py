"""The per-controller runner: informer handlers fill the queues; workers and jobs run while leading.

One `Controller` runs one reconciler: its work queue of keys (workers call `reconcile(key)`),
one single-key queue per declared `Job` (one runner each, so a job never runs twice at once and
triggers that come while it runs coalesce into one more run), the informers of its
`cached_kinds`, and the periodic resync. Keys and triggers accumulate, de-duplicated, while
standby; workers and jobs run only between `start()` and `stop()`. A reconcile or a job run is
one "call" with the same outcome handling: `Result` (requeue, pace) on success, per-key backoff
on failure, a fenced write halts the term; nothing a call raises reaches the manager.

Leadership terms: `start_term` runs the reconciler's `on_start` then `start()`; `end_term`
runs `stop()` then `on_stop(graceful=...)`. Each hook is bounded by `hook_timeout`; a hook that
fails or overruns is logged and the term goes on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from controller.runtime.queue import ShutDown, WorkQueue
from controller.runtime.reconciler import Job, KeyMapper, Reconciler, Result, own_name
from crds.errors import ConflictError, FencedError, O2Error, PermanentError, TemporaryError
from crds.resource import Resource
from store.informer import CacheEvent, Informer

log = logging.getLogger(__name__)


class Observer(Protocol):
    """Metrics sink for the runner (controller.metrics.RuntimeMetrics)."""

    def reconciled(self, controller: str, outcome: str, seconds: float) -> None: ...


FencedCallback = Callable[[FencedError], None]
Call = Callable[[str], Awaitable[Result]]
Handler = Callable[[CacheEvent[Any]], None]

DEFAULT_HOOK_TIMEOUT = 10.0


class Controller:
    """Runs one reconciler: informer handlers fill its queues; workers run only while leading."""

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
        self.jobs: dict[str, tuple[Job, WorkQueue]] = {
            job.name: (job, WorkQueue()) for job in reconciler.jobs()
        }
        """Each job's own single-key queue (its name is its key)."""
        reconciler.bind_queue(self.queue.add)
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
        self._handlers: list[tuple[Informer[Any], Handler]] = []

    def attach(self) -> None:
        """Create the informers of the cached kinds and subscribe to those watched or triggering
        a job (keys and triggers accumulate, de-duplicated, even while standby)."""
        ctx = self.reconciler.ctx
        for kind in self.reconciler.cached_kinds:
            ctx.cache(kind)
        for watch in self.reconciler.all_watches():
            primary = watch.kind is self.reconciler.kind and watch.keys is own_name
            handler = self._own_handler() if primary else self._handler_for(watch.keys)
            self._subscribe(watch.kind, handler)
        for job, queue in self.jobs.values():
            for trigger in job.triggers:
                self._subscribe(trigger.kind, _trigger(trigger.when, queue, job.name))

    def detach(self) -> None:
        for informer, handler in self._handlers:
            informer.remove_handler(handler)
        self._handlers.clear()

    def _subscribe(self, kind: type[Resource], handler: Handler) -> None:
        informer = self.reconciler.ctx.cache(kind)
        informer.add_handler(handler)
        self._handlers.append((informer, handler))

    def _handler_for(self, keys: KeyMapper) -> Handler:
        add = self.queue.add

        def handler(event: CacheEvent[Any]) -> None:
            for key in keys(event):
                add(key)

        return handler

    def _own_handler(self) -> Handler:
        """The reconciled kind's own changes: a new spec (generation) ends a pace hold (the
        hold paces looks at dependents' churn; a user's change is picked up at once)."""
        add, rush = self.queue.add, self.queue.rush

        def handler(event: CacheEvent[Any]) -> None:
            old, new = event.old, event.new
            if old is None or new is None or old.metadata.generation != new.metadata.generation:
                rush(event.name)
            else:
                add(event.name)

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
        """Start workers, jobs (each runs at once) and resync; when leadership is acquired."""
        if self._tasks:
            return
        self.halted = False
        for i in range(self.reconciler.workers):
            self._spawn(self._worker(self.queue, self._reconcile), f"w{i}")
        if self.reconciler.resync_period:
            self._spawn(self._every(self.reconciler.resync_period, self._resync), "resync")
        for key in self.reconciler.resync_keys():
            self.queue.add(key)
        for job, queue in self.jobs.values():
            self._spawn(self._worker(queue, _job_call(job)), job.name)
            if job.period:
                tick = functools.partial(queue.add, job.name)
                self._spawn(self._every(job.period, tick), f"{job.name}-tick")
            queue.add(job.name)
        log.info("Controller started", extra={"controller": self.name})

    async def _reconcile(self, key: str) -> Result:
        return await self.reconciler.reconcile(key)

    def _spawn(self, work: Coroutine[Any, Any, None], suffix: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=f"{self.name}-{suffix}"))

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop workers and jobs. With `grace`, calls in flight may finish for that long
        (graceful shutdown); without, they are cancelled at once (lost leadership). Keys stay
        queued."""
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

    async def _worker(self, queue: WorkQueue, call: Call) -> None:
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
                await self._process(queue, key, call)
            except asyncio.CancelledError:
                queue.add(key)  # unfinished: look again next term
                raise
            finally:
                self._busy.discard(me)
                queue.done(key)
            await asyncio.sleep(0)  # never starve the loop (watches, lease keepalive)

    async def _process(self, queue: WorkQueue, key: str, call: Call) -> None:
        started = time.perf_counter()
        outcome = "success"
        try:
            result = await call(key)
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
            if queue is self.queue:
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
            if result.pace:
                queue.pace(key, result.pace, adds=result.pace_adds)
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

    def _resync(self) -> None:
        for key in self.reconciler.resync_keys():
            self.queue.add(key)

    @staticmethod
    async def _every(period: float, tick: Callable[[], None]) -> None:
        """Call `tick` about every `period` seconds (±10 %, so controllers do not align)."""
        while True:
            await asyncio.sleep(period * (0.9 + 0.2 * random.random()))
            tick()


def _trigger(when: Callable[[CacheEvent[Any]], bool], queue: WorkQueue, name: str) -> Handler:
    def handler(event: CacheEvent[Any]) -> None:
        if when(event):
            queue.add(name)

    return handler


def _job_call(job: Job) -> Call:
    async def call(_key: str) -> Result:
        return await job.run()

    return call
