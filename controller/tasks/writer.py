"""Batched Task status writes: many small status changes become few `update_status_many` txns.
Store I/O only: what to write is the callers' decision.

Changes are queued as functions of the status (`patch(name, fn)`) and applied at write time to
the informer's copy, so a conflict only means applying them again to a newer copy (read again,
and the cache waited for up to that read). Reading our own writes is the informer's job too:
the changes of a write stay with the writer until the cache shows the revision the write
produced (the writer watches the cache for it), and a task's next write waits for that, so it
is always based on a copy that holds the previous one. `view(name)` is the cached copy with the
changes still in flight or queued applied: the driver decides on it, never on a lagging cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controller.runtime.reconciler import CATCH_UP
from controller.runtime.status import write_status_many
from controller.tasks.finish import same_status
from crds.copies import replaced
from crds.errors import FencedError, NotFoundError, O2Error
from crds.kinds.task import Task, TaskStatus
from crds.meta import utcnow
from store.api import BatchResult, Store
from store.informer import CacheEvent, Informer

log = logging.getLogger(__name__)

RETRY_AFTER = 1.0
"""Seconds before retrying writes that failed for a reason other than a conflict."""
FLUSHES_IN_FLIGHT = 2
"""Concurrent batched writes of `run()`."""

_UNANSWERED = O2Error("the store's answer did not mention this task")

StatusFn = Callable[[TaskStatus], TaskStatus]
_ViewKey = tuple[object, object, int, object, int]
"""(base, writing, its change count, pending, its change count) a view was computed from."""
Finisher = Callable[[Task, TaskStatus, datetime], TaskStatus]
"""Adds derived fields (conditions, observedGeneration) to a new status."""


class _Changes:
    __slots__ = ("fns", "generation", "settles_at", "then")

    def __init__(self) -> None:
        self.fns: list[StatusFn] = []
        self.then: list[Callable[[], None]] = []
        self.settles_at = 0
        """Once written: the resourceVersion the cache must show before it holds these."""
        self.generation = -1
        """Once taken into a write: the generation that write stamps as observed."""


@dataclass
class _Batch:
    """One write: the changes taken from the queue, and the copies they were applied to."""

    jobs: dict[str, _Changes]
    bases: dict[str, Task] = field(default_factory=dict)
    changes: list[tuple[Task, TaskStatus]] = field(default_factory=list)
    done: set[str] = field(default_factory=set)


class StatusWriter:
    """Queue status changes; `run()` flushes them in batches until cancelled."""

    def __init__(
        self,
        store: Callable[[], Store],
        cache: Informer[Task],
        *,
        finish: Finisher,
        on_written: Callable[[Task, Task], None] | None = None,
        on_settled: Callable[[str], None] | None = None,
        batch: int = 512,
        catch_up: float = CATCH_UP,
    ) -> None:
        self._store = store
        self._cache = cache
        self._finish = finish
        self._on_written = on_written
        self._on_settled = on_settled
        """Told each name whose changes are all over (written and in the cache, found needless
        or dropped): `writing(name)` is false from then on until a new change is queued."""
        self._batch = batch
        self._catch_up = catch_up
        self._pending: dict[str, _Changes] = {}
        self._ready_names: dict[str, None] = {}
        """Names made ready for a write since they were last taken (a change queued with no
        write in flight, or a write over with changes queued), in order; may hold names taken
        or busy since, dropped when found. `run()` picks from these, not from every queued
        name: tasks waiting for their write in flight are not scanned on every wake-up."""
        self._writing: dict[str, _Changes] = {}
        """Changes in a write not yet answered, or written but not in the cache yet: `view`
        still shows them (no decision is made on the old copy meanwhile, e.g. resending a
        transition whose answer is being written) and the task's next write waits."""
        self._views: dict[str, tuple[_ViewKey, Task]] = {}
        """Memo of `view`: the objects it was computed from are held, so identity is safe."""
        self._wake = asyncio.Event()
        self._released = asyncio.Event()
        """Set (and replaced) whenever a task's write is over: explicit flushes wait on it."""
        self._waiters = 0
        self.writes = 0
        self.failures = 0
        cache.add_handler(self._on_cache_change)

    def view(self, name: str) -> Task | None:
        """The cached copy with the changes in flight and queued applied (what the status will
        be). Computed once per (copy, changes): the driver looks at every task on each pass."""
        task = self._cache.get(name)
        if task is None:
            return None
        pending = self._pending.get(name)
        if pending is None and name not in self._writing:  # the usual case: the copy itself
            if self._views:
                self._views.pop(name, None)
            return task
        writing = self._writing_on(name, task)
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
        viewed = replaced(task, {"status": status})
        self._views[name] = (key, viewed)
        return viewed

    def writing(self, name: str) -> bool:
        """Whether a status change of `name` is queued, or written and not yet in the cache
        (its `view` is then a copy with the changes applied, not the cached copy)."""
        return name in self._pending or name in self._writing

    def patch(self, name: str, fn: StatusFn, *, then: Callable[[], None] | None = None) -> None:
        """Queue `fn` for `name`'s status; `then` runs once it is written (or dropped)."""
        pending = self._pending.get(name)
        if pending is None:
            pending = self._pending[name] = _Changes()
        pending.fns.append(fn)
        if then is not None:
            pending.then.append(then)
        if name not in self._writing:
            self._ready_names[name] = None
        self._wake.set()

    def after_writes(self, name: str, then: Callable[[], None]) -> None:
        """Run `then` once the changes of `name` queued or in a write now are written (or
        dropped); at once when none is (a write answered already ran its own `then`s)."""
        queued = self._pending.get(name)
        if queued is None:
            queued = self._writing.get(name)
            if queued is not None and queued.settles_at:
                queued = None
        if queued is None:
            then()
        else:
            queued.then.append(then)

    def stamps(self, name: str, generation: int) -> bool:
        """Whether the write of `name`'s changes queued or in flight records `generation` as
        observed (a queued one is finished on the copy it is taken from: the current one)."""
        if name in self._pending:
            return True
        writing = self._writing.get(name)
        return writing is not None and writing.generation == generation

    def forget(self, name: str) -> None:
        """The task is gone for good: drop what was remembered about it."""
        self._views.pop(name, None)

    # ---- the cache showing our writes --------------------------------------------------------

    def _on_cache_change(self, event: CacheEvent[Task]) -> None:
        writing = self._writing.get(event.name)
        if writing is None or not writing.settles_at:
            return
        new = event.new
        if new is None or (new.metadata.resource_version or 0) >= writing.settles_at:
            self._release(event.name)

    def _writing_on(self, name: str, task: Task) -> _Changes | None:
        """The changes in a write of `name` that `task` (its cached copy) does not hold yet."""
        writing = self._writing.get(name)
        if writing is None or not writing.settles_at:
            return writing
        if (task.metadata.resource_version or 0) >= writing.settles_at:
            self._release(name)
            return None
        return writing

    def _release(self, name: str) -> None:
        """The write of `name` is over: the task may be written again."""
        del self._writing[name]
        if self._views:  # its view's memo is stale now (walks skip tasks not being written)
            self._views.pop(name, None)
        if name in self._pending:
            self._ready_names[name] = None
            self._wake.set()
        elif self._on_settled is not None:
            self._on_settled(name)
        if self._waiters:
            self._released.set()  # the waiters renew it (one event per wake-up, not per task)

    async def _settled(self, names: Iterable[str]) -> None:
        """Until no write of `names` is in flight or unseen by the cache (bounded)."""
        busy = [n for n in names if self._busy(n)]
        if not busy:
            return  # the usual case: no timer, no yield
        self._waiters += 1
        try:
            async with asyncio.timeout(self._catch_up):
                # each name is looked at until its write is over, then never again: a wait
                # for 10,000 names costs O(names + wake-ups), not O(names) per wake-up
                at = 0
                while at < len(busy):
                    if not self._busy(busy[at]):
                        at += 1
                        continue
                    if self._released.is_set():
                        self._released = asyncio.Event()
                    await self._released.wait()
        except TimeoutError:
            log.warning("Status writes not in the cache yet", extra={"tasks": len(self._writing)})
        finally:
            self._waiters -= 1

    async def settled(self, names: Iterable[str]) -> None:
        """Until the informer cache shows every write of `names` made so far (bounded by
        `catch_up`): a reader of the same cache then sees them."""
        await self._settled(list(names))

    def _busy(self, name: str) -> bool:
        task = self._cache.get(name)
        writing = self._writing_on(name, task) if task is not None else self._writing.get(name)
        return writing is not None

    # ---- writing -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Flush queued changes, up to FLUSHES_IN_FLIGHT batches at a time (one batch is
        prepared while another waits for etcd); a task is in one write at a time, its newer
        changes wait for that write to be answered and seen by the cache."""
        flushes: set[asyncio.Task[set[str]]] = set()
        seen = self.failures
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                _reap(flushes)
                if self.failures > seen:  # etcd trouble: back off, keep the changes
                    seen = self.failures
                    await asyncio.sleep(RETRY_AFTER)
                    self._wake.set()
                    continue
                while len(flushes) < FLUSHES_IN_FLIGHT:
                    names = self._ready()
                    if not names:
                        break
                    batch = self._take(names)
                    flush = asyncio.create_task(self._write(batch), name="task-status-flush")
                    flush.add_done_callback(lambda _: self._wake.set())
                    flushes.add(flush)
        finally:
            for flush in flushes:
                flush.cancel()
            await asyncio.gather(*flushes, return_exceptions=True)

    def _ready(self) -> list[str]:
        """Up to a batch of names with queued changes and no write in flight, in the order they
        became ready; the names looked at are those made ready since, not every queued one."""
        names: list[str] = []
        gone: list[str] = []
        for name in self._ready_names:
            if name in self._pending and not self._busy(name):
                names.append(name)
                if len(names) >= self._batch:
                    break
            else:
                gone.append(name)  # taken or busy since: made ready again when its write ends
        for name in gone:
            del self._ready_names[name]
        return names

    async def write_now(self, changes: Mapping[str, StatusFn], *, attempts: int = 3) -> set[str]:
        """Write these changes now (with whatever is queued for the same tasks), retrying
        conflicts; a change that could not be written is dropped, never left queued: a launch
        goes ahead only for tasks whose launch status is stored. The names written."""
        done: set[str] = set()
        todo = dict(changes)
        await self._settled(todo)
        for _ in range(attempts):
            ready = {name: fn for name, fn in todo.items() if not self._busy(name)}
            if not ready:
                break
            for name, fn in ready.items():
                self._pending.setdefault(name, _Changes()).fns.append(fn)
            done |= await self._write(self._take(list(ready)))
            for name, fn in ready.items():
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
            self._settle(name)

    def _settle(self, name: str) -> None:
        """Tell `on_settled` if nothing of `name` is queued or in a write any more."""
        if self._on_settled is not None and not self.writing(name):
            self._on_settled(name)

    async def flush(self, names: list[str] | None = None) -> set[str]:
        """Write the queued changes of `names` (all by default) now, each on a copy that holds
        the task's previous write (waited for, within `catch_up`); the names written."""
        chosen = list(self._pending) if names is None else names
        busy = {n for n in chosen if self._busy(n)}
        done = await self._write(self._take([n for n in chosen if n not in busy]))
        if busy:  # the others first: a lagging cache holds back only these
            await self._settled(busy)
            done |= await self._write(self._take([n for n in busy if not self._busy(n)]))
        return done

    def _take(self, names: list[str]) -> _Batch:
        """Take the queued changes of `names` into one write (they are in flight from now)."""
        pending, ready, get, views = self._pending, self._ready_names, self._cache.get, self._views
        batch = _Batch({n: pending.pop(n) for n in names if n in pending})
        bases, out = batch.bases, batch.changes
        now = utcnow()
        for name, changes in batch.jobs.items():
            ready.pop(name, None)
            if views:
                views.pop(name, None)  # of the changes queued: stale
            task = get(name)
            if task is None:
                _run_all(changes.then)
                self._settle(name)
                continue
            stored = status = task.status
            for fn in changes.fns:
                status = fn(status)
            status = self._finish(task, status, now)
            if same_status(status, stored):
                batch.done.add(name)
                _run_all(changes.then)
                self._settle(name)
                continue
            out.append((task, status))
            bases[name] = task
            changes.generation = task.metadata.generation
            self._writing[name] = changes
        return batch

    async def _write(self, batch: _Batch) -> set[str]:
        """Send the batch and sort out the answer; the names written (or needing no write)."""
        if not batch.changes:
            return batch.done
        try:
            result = await write_status_many(
                self._store(), batch.changes, observe=False, compared=True
            )
        except FencedError:
            self._abandon(batch, requeue=False)
            raise
        except O2Error as exc:
            result = BatchResult(errors=[(task, exc) for task, _ in batch.changes])
        except BaseException:  # cancelled (the term ends): keep the changes queued
            self._abandon(batch, requeue=True)
            raise
        self.writes += len(batch.changes)
        self._sort_out(result, batch)
        if result.conflicts:
            await self._retry_conflicts([obj.name for obj in result.conflicts], batch)
        return batch.done

    def _sort_out(self, result: BatchResult[Task], batch: _Batch) -> None:
        """Apply the answer of each written, gone or refused task (conflicts are retried)."""
        answered = {obj.name for obj in result.conflicts}
        for stored in result.written:
            answered.add(stored.name)
            self._written(stored, batch)
        for obj in result.missing:
            answered.add(obj.name)
            self._end_write(obj.name, batch)
            _run_all(batch.jobs[obj.name].then)
        errors = [(obj.name, error) for obj, error in result.errors]
        answered.update(name for name, _ in errors)
        errors += [(name, _UNANSWERED) for name in batch.bases.keys() - answered]
        for name, error in errors:
            if isinstance(error, FencedError):
                self._abandon(batch, requeue=False)
                raise error
            log.warning("Status write failed", extra={"task": name, "error": str(error)})
            self._end_write(name, batch, requeue=True)
            self.failures += 1

    def _written(self, stored: Task, batch: _Batch) -> None:
        name = stored.name
        changes = batch.jobs[name]
        batch.done.add(name)
        if self._writing.get(name) is changes:
            cached = self._cache.get(name)
            if cached is None or (cached.metadata.resource_version or 0) >= (
                stored.metadata.resource_version or 0
            ):
                self._release(name)
            else:
                changes.settles_at = stored.metadata.resource_version or 0
        if self._on_written is not None:
            self._on_written(batch.bases[name], stored)
        if changes.then:
            _run_all(changes.then)

    async def _retry_conflicts(self, names: list[str], batch: _Batch) -> None:
        """Someone else wrote these tasks since our copy: read them again and let the cache
        catch up (the changes stay in flight meanwhile), then queue the changes again."""
        try:
            revision = await self._stored_revision(names)
            try:
                async with asyncio.timeout(self._catch_up):
                    await self._cache.wait_for_revision(revision)
            except TimeoutError:
                log.warning("Cache did not catch up", extra={"revision": revision})
        finally:
            for name in names:
                self._end_write(name, batch, requeue=True)

    async def _stored_revision(self, names: list[str]) -> int:
        """The newest resourceVersion among the stored copies of `names` (gone ones: none)."""
        store = self._store()
        reads = await asyncio.gather(*(store.get(Task, n) for n in names), return_exceptions=True)
        revision = 0
        for read in reads:
            if isinstance(read, Task):
                revision = max(revision, read.metadata.resource_version or 0)
            elif not isinstance(read, NotFoundError):
                raise read
        return revision

    def _end_write(self, name: str, batch: _Batch, *, requeue: bool = False) -> None:
        changes = batch.jobs[name]
        if self._writing.get(name) is changes:
            self._release(name)
        if requeue:
            self._requeue(name, changes)

    def _abandon(self, batch: _Batch, *, requeue: bool) -> None:
        for name in batch.bases:
            self._end_write(name, batch, requeue=requeue)

    def _requeue(self, name: str, changes: _Changes) -> None:
        """Put changes back in front of any queued since (they were made first)."""
        again = self._pending.setdefault(name, _Changes())
        again.fns[:0] = changes.fns
        again.then[:0] = changes.then
        if name not in self._writing:
            self._ready_names[name] = None
        self._wake.set()


def _same_key(a: _ViewKey, b: _ViewKey) -> bool:
    return a[0] is b[0] and a[1] is b[1] and a[2] == b[2] and a[3] is b[3] and a[4] == b[4]


def _count(queued: _Changes | None) -> int:
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
