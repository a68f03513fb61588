"""List+watch cache per kind, shared by controllers, `o2 get -w` and the GUI. Store-level only.

An Informer lists its kind at revision R and watches from R+1. A broken stream is resumed from
the last revision seen; a compacted revision forces a relist whose difference with the cache is
delivered as synthetic ADDED/MODIFIED/DELETED events, so no change is missed. An idle but healthy
watch still delivers PROGRESS events (every `store.progress_interval` s), so a watch that stays
silent longer than `inactivity_timeout` (default 3 progress intervals) has stalled and is
restarted from the last revision; but only when the store's whole watch stream was that silent
too (`store.watch_stream_idle()`; None: no shared stream): a store's watches share one stream,
on which a quiet watch's progress answers queue behind busy watches' events, and restarting it
would only add load. A watch can also go deaf on a stream that still answers (etcd answers a
progress request for the whole stream, whatever became of each watch on it): the guard cannot
tell, but a writer that waited in vain for its own committed write can (unless the stream still
delivers events older than that write, `store.watch_stream_behind()`: a backlog, not deafness),
and asks the factory to restart every watch (`InformerFactory.restart_watches`). Values that
cannot be parsed are reported to `on_unreadable` callbacks naming the key and otherwise skipped:
the last good copy (if any) stays in the cache. This module knows nothing about controllers.
"""

from __future__ import annotations

import asyncio
import builtins
import heapq
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from crds.errors import CompactedError, UnreadableObjectError
from crds.labels import canonical
from crds.resource import Resource
from store.api import Store, WatchEvent
from store.compact import compact

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Resource)

CacheEventType = Literal["ADDED", "MODIFIED", "DELETED"]
IndexFunc = Callable[[Resource], Iterable[str]]
NO_PROGRESS_INACTIVITY_TIMEOUT = 300.0
"""For a store whose watches send no PROGRESS events: only a long silence means a stall."""
_TIMER_SLACK = 0.001
"""Seconds a loop timer may run early (asyncio runs those due within its clock resolution)."""
OWNER_INDEX = "owner-uid"
LABEL_INDEX = "label"


@dataclass(frozen=True)
class CacheEvent(Generic[R]):
    """A change applied to the cache: `old` is None for ADDED, `new` is None for DELETED."""

    type: CacheEventType
    name: str
    old: R | None
    new: R | None

    @property
    def obj(self) -> R:
        """The newest known copy (the last copy for DELETED)."""
        obj = self.new if self.new is not None else self.old
        assert obj is not None
        return obj


Handler = Callable[[CacheEvent[Any]], None]
UnreadableHandler = Callable[[UnreadableObjectError], None]


def owner_uids(obj: Resource) -> list[str]:
    return [ref.uid for ref in obj.metadata.owner_references]


def label_pairs(obj: Resource) -> list[str]:
    return [f"{k}={v}" for k, v in obj.metadata.labels.items()]


_METADATA_SOURCE: dict[IndexFunc, str] = {owner_uids: "owner_references", label_pairs: "labels"}
"""The metadata field each built-in index reads: its values are unchanged when that field is
(a status write keeps the very same labels and ownerReferences), without building them."""


def default_inactivity_timeout(store: Store) -> float:
    """3 progress intervals of the store (a silent watch past that has stalled), else 300 s."""
    interval = getattr(store, "progress_interval", None)
    return 3 * interval if interval else NO_PROGRESS_INACTIVITY_TIMEOUT


class Informer(Generic[R]):
    """The cache of one kind. Handlers must be quick and must not block (enqueue, don't work)."""

    def __init__(
        self,
        store: Store,
        kind: type[R],
        *,
        inactivity_timeout: float | None = None,
        retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
    ) -> None:
        self.store = store
        self.kind = kind
        self.inactivity_timeout = inactivity_timeout or default_inactivity_timeout(store)
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.revision = 0
        self.watch_restarts = 0
        self.relists = 0
        self.stalls = 0
        self.progress_events = 0
        self.unreadable: dict[str, UnreadableObjectError] = {}
        self._items: dict[str, R] = {}
        self._handlers: list[Handler] = []
        self._unreadable_handlers: list[UnreadableHandler] = []
        self._index_funcs: dict[str, IndexFunc] = {
            OWNER_INDEX: owner_uids,
            LABEL_INDEX: label_pairs,
        }
        self._indexes: dict[str, dict[str, set[str]]] = {OWNER_INDEX: {}, LABEL_INDEX: {}}
        self._synced = asyncio.Event()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._guard: _StallGuard | None = None
        """The open watch's guard (None between watches)."""

    # -- reading the cache -------------------------------------------------------------------

    def get(self, name: str) -> R | None:
        return self._items.get(name)

    def list(self, *, labels: Mapping[str, str] | None = None) -> builtins.list[R]:
        if not labels:
            return list(self._items.values())
        first, *rest = (f"{canonical(k)}={v}" for k, v in labels.items())  # legacy keys too
        names = set(self._indexes[LABEL_INDEX].get(first, ()))
        for pair in rest:
            names &= self._indexes[LABEL_INDEX].get(pair, set())
        return [self._items[n] for n in names]

    def names(self) -> builtins.list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def by_index(self, index: str, value: str) -> builtins.list[R]:
        return [self._items[n] for n in self._indexes[index].get(value, ())]

    def by_owner(self, uid: str) -> builtins.list[R]:
        """Objects that list `uid` in their ownerReferences."""
        return self.by_index(OWNER_INDEX, uid)

    def add_index(self, name: str, func: IndexFunc) -> None:
        self._index_funcs[name] = func
        self._indexes[name] = {}
        for obj in self._items.values():
            self._index_add(name, obj)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Until the first list has been applied to the cache."""
        await self._synced.wait()

    async def wait_for_revision(self, revision: int) -> None:
        """Until the cache has applied everything up to `revision` (e.g. after our own write)."""
        if self.revision >= revision:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (revision, next(self._seq), fut))
        await fut

    # -- subscribing -------------------------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        """Receive every change; a late subscriber first gets ADDED for what is cached."""
        self._handlers.append(handler)
        for name, obj in list(self._items.items()):
            handler(CacheEvent("ADDED", name, None, obj))

    def remove_handler(self, handler: Handler) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def on_unreadable(self, handler: UnreadableHandler) -> None:
        self._unreadable_handlers.append(handler)

    # -- running -----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"informer-{self.kind.KIND}")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def run(self) -> None:
        """List, then watch forever; every failure is retried with a capped backoff."""
        need_list = not self.synced
        delay = self.retry_delay
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                if await self._watch():
                    delay = self.retry_delay
                else:  # a stream that ended without delivering anything: do not spin
                    await asyncio.sleep(delay)
                    delay = min(self.max_retry_delay, delay * 2)
            except CompactedError as exc:
                self.relists += 1
                log.warning(
                    "Watch revision compacted; relisting",
                    extra={"kind": self.kind.KIND, "revision": exc.revision},
                )
                need_list = True
            except Exception as exc:  # any broken stream: resume from the last revision
                self.watch_restarts += 1
                log.warning(
                    "Watch broken; resuming",
                    extra={"kind": self.kind.KIND, "revision": self.revision, "error": str(exc)},
                )
                await asyncio.sleep(delay)
                delay = min(self.max_retry_delay, delay * 2)

    async def _relist(self) -> None:
        result = await self.store.list(self.kind)
        fresh = {obj.metadata.name: obj for obj in result.items}
        self.unreadable = {}
        for err in result.unreadable:
            self._report_unreadable(err)
        first = not self.synced
        for name in list(self._items):
            if name not in fresh and name not in self.unreadable:
                self._apply_delete(name)
        for name, obj in fresh.items():
            self.unreadable.pop(name, None)
            self._apply_put(name, obj)
        self._advance(result.revision)
        self._synced.set()
        log.info(
            "Listed" if first else "Relisted",
            extra={"kind": self.kind.KIND, "items": len(fresh), "revision": result.revision},
        )

    async def _watch(self) -> bool:
        """Follow one watch stream; True when it delivered something or went silent."""
        stream = self.store.watch(self.kind, start_revision=self.revision + 1)
        loop = asyncio.get_running_loop()
        delivered = False
        guard: _StallGuard | None = None
        try:
            async with asyncio.timeout(None) as deadline:
                guard = self._guard = _StallGuard(
                    deadline,
                    silence=self.inactivity_timeout,
                    stream_idle=self.store.watch_stream_idle,
                )
                async for event in stream:
                    guard.last = loop.time()  # per event only this: no timer (a busy watch's CPU)
                    self._on_watch_event(event)
                    delivered = True
        except TimeoutError:
            self.stalls += 1
            asked = guard is not None and guard.asked
            log.warning(
                "Watch restarted on request" if asked else "Watch silent too long; restarting it",
                extra={"kind": self.kind.KIND, "revision": self.revision},
            )
            return True
        finally:
            self._guard = None
            if guard is not None:
                guard.cancel()
            await _close(stream)
        return delivered

    def restart_watch(self) -> bool:
        """End the open watch now; `run` resumes from the last revision (nothing relisted,
        nothing missed). False when no watch is open."""
        if self._guard is None:
            return False
        self._guard.fire()
        return True

    def _on_watch_event(self, event: WatchEvent[R]) -> None:
        if event.type == "UNREADABLE":
            if event.error is not None:
                self._report_unreadable(event.error)
        elif event.type == "DELETED":
            self.unreadable.pop(event.name, None)
            self._apply_delete(event.name, last=event.obj)
        elif event.obj is not None and event.type in ("ADDED", "MODIFIED"):
            self.unreadable.pop(event.name, None)
            self._apply_put(event.name, event.obj)
        elif event.type == "PROGRESS":
            self.progress_events += 1
        self._advance(event.revision)

    # -- applying changes --------------------------------------------------------------------

    def _apply_put(self, name: str, obj: R) -> None:
        old = self._items.get(name)
        if old is not None and old.metadata.resource_version == obj.metadata.resource_version:
            return
        compact(obj, old)  # the cache holds every object of the kind: share what repeats
        self._items[obj.metadata.name] = obj  # the name string the object and indexes hold
        if old is None:
            for index in self._index_funcs:
                self._index_add(index, obj)
        else:
            self._reindex(name, old, obj)
        self._emit(CacheEvent("ADDED" if old is None else "MODIFIED", name, old, obj))

    def _apply_delete(self, name: str, *, last: R | None = None) -> None:
        old = self._items.pop(name, None)
        if old is None:
            return
        self._index_remove(name, old)
        self._emit(CacheEvent("DELETED", name, old, None))

    def _emit(self, event: CacheEvent[R]) -> None:
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:
                log.exception("Informer handler failed", extra={"kind": self.kind.KIND})

    def _report_unreadable(self, err: UnreadableObjectError) -> None:
        name = err.key.rsplit("/", 1)[-1]
        self.unreadable[name] = err
        log.warning("Unreadable object skipped", extra={"key": err.key, "reason": err.reason})
        for handler in self._unreadable_handlers:
            try:
                handler(err)
            except Exception:
                log.exception("Unreadable handler failed", extra={"key": err.key})

    def _advance(self, revision: int) -> None:
        self.revision = max(self.revision, revision)
        while self._waiters and self._waiters[0][0] <= self.revision:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)

    def _index_add(self, index: str, obj: R) -> None:
        table = self._indexes[index]
        for value in self._index_funcs[index](obj):
            table.setdefault(value, set()).add(obj.metadata.name)

    def _reindex(self, name: str, old: R, new: R) -> None:
        """Move `name` between index entries only where its values changed: most updates (every
        status write) keep labels and owners, and leave the index sets as they are."""
        for index, func in self._index_funcs.items():
            source = _METADATA_SOURCE.get(func)
            if source is not None:
                mine, theirs = getattr(old.metadata, source), getattr(new.metadata, source)
                if mine is theirs or mine == theirs:
                    continue
            before, after = tuple(func(old)), tuple(func(new))
            if before == after:
                continue
            self._discard(index, name, before)
            table = self._indexes[index]
            for value in after:
                table.setdefault(value, set()).add(name)

    def _index_remove(self, name: str, obj: R) -> None:
        for index, func in self._index_funcs.items():
            self._discard(index, name, func(obj))

    def _discard(self, index: str, name: str, values: Iterable[str]) -> None:
        table = self._indexes[index]
        for value in values:
            names = table.get(value)
            if names is not None:
                names.discard(name)
                if not names:
                    del table[value]


class _StallGuard:
    """Fires a watch's deadline once both the watch (`last` event) and its whole stream have
    been silent for `silence` s. A timer that looks again when that could first be so, instead
    of catching the deadline: leaving `asyncio.timeout` would end the watch's generator."""

    def __init__(
        self,
        deadline: asyncio.Timeout,
        *,
        silence: float,
        stream_idle: Callable[[], float | None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._deadline = deadline
        self._silence = silence
        self._stream_idle = stream_idle
        self.last = self._loop.time()
        self.asked = False
        """The deadline was fired on request (`fire`), not by silence."""
        self._timer = self._loop.call_at(self.last + silence, self._check)

    def fire(self) -> None:
        self.asked = True
        self._timer.cancel()
        self._deadline.reschedule(self._loop.time())

    def _check(self) -> None:
        now = self._loop.time()
        quiet_since = self.last
        idle = self._stream_idle()
        if idle is not None:
            quiet_since = max(quiet_since, now - idle)
        if now >= quiet_since + self._silence - _TIMER_SLACK:
            self._deadline.reschedule(now)
        else:
            self._timer = self._loop.call_at(quiet_since + self._silence, self._check)

    def cancel(self) -> None:
        self._timer.cancel()


async def _close(stream: AsyncIterator[Any]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            log.debug("Closing a watch stream failed", exc_info=True)


class InformerFactory:
    """One informer per kind per process, shared by every controller (and the GUI)."""

    def __init__(self, store: Store, **informer_options: Any) -> None:
        self.store = store
        self._options = informer_options
        self._informers: dict[type[Resource], Informer[Any]] = {}
        self._started = False
        self._on_new: list[Callable[[Informer[Any]], None]] = []
        self._restarted_at = float("-inf")

    def informer(self, kind: type[R]) -> Informer[R]:
        found = self._informers.get(kind)
        if found is None:
            found = Informer(self.store, kind, **self._options)
            self._informers[kind] = found
            for callback in self._on_new:
                callback(found)
            if self._started:
                found.start()
        return found

    def on_new_informer(self, callback: Callable[[Informer[Any]], None]) -> None:
        """Call `callback` for every informer, existing and created later (e.g. to subscribe)."""
        self._on_new.append(callback)
        for informer in list(self._informers.values()):
            callback(informer)

    def restart_watches(self, *, min_gap: float) -> int:
        """Restart every informer's watch from its last revision (at most once per `min_gap`
        seconds): one of them proved deaf, and all of a process's watches share one stream
        (a cache with no own write to miss would stay stale). Returns how many restarted."""
        now = asyncio.get_running_loop().time()
        if now - self._restarted_at < min_gap:
            return 0
        self._restarted_at = now
        return sum(informer.restart_watch() for informer in self._informers.values())

    def all(self) -> list[Informer[Any]]:
        return list(self._informers.values())

    def start(self) -> None:
        self._started = True
        for informer in self._informers.values():
            informer.start()

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._informers.values()))

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(i.stop() for i in self._informers.values()))
