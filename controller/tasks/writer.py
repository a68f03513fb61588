"""Batched Task status writes: many small status changes become few `update_status_many` txns.

Changes are queued as functions of the current status (`patch(name, fn)`), so they are applied
to the newest copy known (the informer cache or this writer's own last write, whichever has the
higher resourceVersion) and re-applied after a conflict. `view(name)` is that newest copy with
the queued changes applied: the driver decides on it, never on a lagging cache. Store I/O only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from crds.errors import ConflictError, FencedError, NotFoundError, O2Error
from crds.kinds.task import Task, TaskStatus
from crds.meta import utcnow
from store.api import Store
from store.informer import Informer

log = logging.getLogger(__name__)

RETRY_AFTER = 1.0
"""Seconds before retrying writes that failed for a reason other than a conflict."""
FLUSHES_IN_FLIGHT = 2
"""Concurrent batched writes of `run()`."""

StatusFn = Callable[[TaskStatus], TaskStatus]
_ViewKey = tuple[object, object, int, object, int]
"""(base, writing, its change count, pending, its change count) a view was computed from."""
Finisher = Callable[[Task, TaskStatus, datetime], TaskStatus]
"""Adds derived fields (conditions, observedGeneration) to a new status."""


@dataclass
class _Pending:
    fns: list[StatusFn] = field(default_factory=list)
    then: list[Callable[[], None]] = field(default_factory=list)


class StatusWriter:
    """Queue status changes; `run()` flushes them in batches until cancelled."""

    def __init__(
        self,
        store: Callable[[], Store],
        cache: Informer[Task],
        *,
        finish: Finisher,
        on_written: Callable[[Task, Task], None] | None = None,
        batch: int = 512,
    ) -> None:
        self._store = store
        self._cache = cache
        self._finish = finish
        self._on_written = on_written
        self._batch = batch
        self._latest: dict[str, Task] = {}
        self._pending: dict[str, _Pending] = {}
        self._writing: dict[str, _Pending] = {}
        """Changes in a write not yet answered: `view` still shows them (no decision is made on
        the old copy meanwhile, e.g. resending a transition whose answer is being written)."""
        self._views: dict[str, tuple[_ViewKey, Task]] = {}
        """Memo of `view`: the objects it was computed from are held, so identity is safe."""
        self._wake = asyncio.Event()
        self.writes = 0
        self.failures = 0

    def base(self, name: str) -> Task | None:
        """The newest stored copy known (cache or our own last write)."""
        cached = self._cache.get(name)
        mine = self._latest.get(name)
        if cached is None or mine is None:
            return cached
        if (mine.metadata.resource_version or 0) > (cached.metadata.resource_version or 0):
            return mine
        del self._latest[name]  # the cache caught up: keep one copy of each task, not two
        return cached

    def view(self, name: str) -> Task | None:
        """The newest copy with queued changes applied (what the status will be). Computed
        once per (base, queued changes): the driver looks at every task on each pass."""
        task = self.base(name)
        if task is None:
            return None
        writing = self._writing.get(name)
        pending = self._pending.get(name)
        if pending is None and writing is None:
            self._views.pop(name, None)
            return task
        key = (task, writing, _count(writing), pending, _count(pending))
        memo = self._views.get(name)
        if memo is not None and _same_key(memo[0], key):
            return memo[1]
        status = task.status
        for queued in (writing, pending):
            for fn in queued.fns if queued is not None else ():
                status = fn(status)
        viewed = task.model_copy(update={"status": status})
        self._views[name] = (key, viewed)
        return viewed

    def patch(self, name: str, fn: StatusFn, *, then: Callable[[], None] | None = None) -> None:
        """Queue `fn` for `name`'s status; `then` runs once it is written (or dropped)."""
        pending = self._pending.setdefault(name, _Pending())
        pending.fns.append(fn)
        if then is not None:
            pending.then.append(then)
        self._wake.set()

    def forget(self, name: str) -> None:
        self._latest.pop(name, None)
        self._views.pop(name, None)

    async def run(self) -> None:
        """Flush queued changes, up to FLUSHES_IN_FLIGHT batches at a time (one batch is
        prepared while another waits for etcd); a task is in one write at a time, its newer
        changes wait for that write's answer."""
        flushes: set[asyncio.Task[set[str]]] = set()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                failures = self.failures
                _reap(flushes)
                if self.failures > failures:
                    await asyncio.sleep(RETRY_AFTER)  # etcd trouble: back off, keep the changes
                    self._wake.set()
                    continue
                while len(flushes) < FLUSHES_IN_FLIGHT:
                    names = self._ready()
                    if not names:
                        break
                    flush = asyncio.create_task(self.flush(names), name="task-status-flush")
                    flush.add_done_callback(lambda _: self._wake.set())
                    flushes.add(flush)
        finally:
            for flush in flushes:
                flush.cancel()
            await asyncio.gather(*flushes, return_exceptions=True)

    def _ready(self) -> list[str]:
        """Up to a batch of names with queued changes and no write in flight."""
        names: list[str] = []
        for name in self._pending:
            if name not in self._writing:
                names.append(name)
                if len(names) >= self._batch:
                    break
        return names

    async def write_now(self, changes: dict[str, StatusFn], *, attempts: int = 3) -> set[str]:
        """Write these changes now (with whatever is queued for the same tasks), retrying
        conflicts; a change that could not be written is dropped, never left queued: a launch
        goes ahead only for tasks whose launch status is stored. The names written."""
        done: set[str] = set()
        todo = dict(changes)
        for _ in range(attempts):
            if not todo:
                break
            for name, fn in todo.items():
                self._pending.setdefault(name, _Pending()).fns.append(fn)
            done |= await self.flush(list(todo))
            for name, fn in list(todo.items()):
                if name in done:
                    del todo[name]
                else:
                    self._drop(name, fn)
        return done

    def _drop(self, name: str, fn: StatusFn) -> None:
        pending = self._pending.get(name)
        if pending is None:
            return
        pending.fns = [f for f in pending.fns if f is not fn]
        if not pending.fns and not pending.then:
            del self._pending[name]

    async def flush(self, names: list[str] | None = None) -> set[str]:
        """Write the queued changes of `names` (all by default) now; the names written."""
        chosen = names if names is not None else list(self._pending)
        jobs = {n: self._pending.pop(n) for n in chosen if n in self._pending}
        objs: list[Task] = []
        befores: list[Task] = []
        order: list[str] = []
        done: set[str] = set()
        now = utcnow()
        for name, pending in jobs.items():
            task = self.base(name)
            if task is None:
                _run_all(pending.then)
                continue
            status = task.status
            for fn in pending.fns:
                status = fn(status)
            status = self._finish(task, status, now)
            if status == task.status:
                done.add(name)
                _run_all(pending.then)
                continue
            objs.append(task.model_copy(update={"status": status}))
            befores.append(task)
            order.append(name)
            self._writing[name] = pending
        if objs:
            try:
                results: list[Task | Exception] = await self._store().update_status_many(objs)
            except FencedError:
                self._forget_writing(order)
                raise
            except O2Error as exc:
                results = [exc] * len(objs)
            except BaseException:  # cancelled (the term ends): keep the changes queued
                self._forget_writing(order)
                for name in order:
                    self._requeue(name, jobs[name])
                raise
            self.writes += len(objs)
            for name, old, result in zip(order, befores, results, strict=True):
                done |= await self._settle(name, old, result, jobs[name])
        return done

    def _requeue(self, name: str, pending: _Pending) -> None:
        """Put changes back in front of any queued since (they were made first)."""
        again = self._pending.setdefault(name, _Pending())
        again.fns[:0] = pending.fns
        again.then[:0] = pending.then

    def _forget_writing(self, names: list[str]) -> None:
        for name in names:
            self._writing.pop(name, None)

    async def _settle(
        self, name: str, before: Task, result: Task | Exception, pending: _Pending
    ) -> set[str]:
        if self._writing.get(name) is pending:
            del self._writing[name]
        if isinstance(result, Task):
            self._latest[name] = result
            if name not in self._pending:
                self._views.pop(name, None)  # nothing queued: the view is the stored copy
            if self._on_written is not None:
                self._on_written(before, result)
            _run_all(pending.then)
            return {name}
        if isinstance(result, ConflictError):
            self._requeue(name, pending)
            self._wake.set()
            await self._refresh(name)
            return set()
        if isinstance(result, NotFoundError):
            self._latest.pop(name, None)
            _run_all(pending.then)
            return set()
        if isinstance(result, FencedError):
            raise result
        log.warning("Status write failed", extra={"task": name, "error": str(result)})
        self._requeue(name, pending)
        self.failures += 1
        return set()

    async def _refresh(self, name: str) -> None:
        try:
            self._latest[name] = await self._store().get(Task, name)
        except NotFoundError:
            self._latest.pop(name, None)


def _same_key(a: _ViewKey, b: _ViewKey) -> bool:
    return a[0] is b[0] and a[1] is b[1] and a[2] == b[2] and a[3] is b[3] and a[4] == b[4]


def _count(queued: _Pending | None) -> int:
    return len(queued.fns) if queued is not None else 0


def _reap(flushes: set[asyncio.Task[set[str]]]) -> None:
    """Drop finished flushes; a fenced one ends the writer (the term is over)."""
    for flush in [f for f in flushes if f.done()]:
        flushes.discard(flush)
        error = None if flush.cancelled() else flush.exception()
        if error is not None:
            raise error


def _run_all(callbacks: list[Callable[[], None]]) -> None:
    for cb in callbacks:
        try:
            cb()
        except Exception:
            log.exception("Status write callback failed")
