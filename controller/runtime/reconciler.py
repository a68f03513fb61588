"""What a reconciler declares and may use; run by controller.runtime.runner.Controller.

A reconciler declares the kind it reconciles and the kinds it watches, each with a mapping
from a changed object to the keys to enqueue. It receives a key, never the event, reads from
the shared informer cache and writes through the (leader-fenced) store in `ctx.store`. Beside
keys it may declare `cached_kinds` (informers it reads but reacts to no change of) and `jobs()`:
named singleton runs with no object key (a poll, a sweep, a pass over everything), each run
again after its own `Result.requeue_after`, about every `period`, and on its `Trigger`s.
Background work a reconcile starts (a hook subprocess) ends in `requeue(key)`, never in a
worker held waiting for it.

Leadership terms: `on_start()` runs when a term starts (caches synced, `ctx.store` fenced by
the new term, before any worker or job runs) and `on_stop(graceful=...)` when it ends (after
they stopped, before `ctx.store` is swapped out): the place to start and stop per-term
background work (a Mesos subscription), instead of watching `ctx.store`. Each hook is bounded
by `Controller.hook_timeout`; a hook that fails or overruns is logged and the term goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from controller.runtime.clock import Clock, SystemClock
from controller.settings import Settings
from crds.resource import Resource
from store.api import RuntimeKV, Store
from store.informer import CacheEvent, Informer, InformerFactory

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Resource)
KeyMapper = Callable[[CacheEvent[Any]], Iterable[str]]


@dataclass(frozen=True)
class Result:
    """What a reconcile (or a job run) asks for: nothing, or another look after
    `requeue_after` seconds; and with `pace`, that the next look starts no sooner than `pace`
    seconds from now, whatever enqueues the key meanwhile (the queue holds it: no reconcile
    runs just to find it is too early); with `pace_adds` too, the hold ends sooner, once the
    key was enqueued that many times (counted from this look's start): the look waits for
    that many more changes, and is not held past the last of them."""

    requeue_after: float | None = None
    pace: float | None = None
    pace_adds: int | None = None


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


def always(_event: CacheEvent[Any]) -> bool:
    return True


@dataclass(frozen=True)
class Trigger:
    """Run a job (once more, coalesced) when an object of `kind` changes and `when(event)`."""

    kind: type[Resource]
    when: Callable[[CacheEvent[Any]], bool] = always


@dataclass(frozen=True)
class Job:
    """A named singleton run with no object key, while leading: at once when a term starts,
    then after the `requeue_after` its run returns, about every `period` seconds (a safety
    net, like resync), and on its triggers. Never two runs at once; failures back off."""

    name: str
    run: Callable[[], Awaitable[Result]]
    period: float | None = None
    triggers: Sequence[Trigger] = ()


class EventSink(Protocol):
    """Where reconcilers report Events (controller.events.EventRecorder)."""

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None: ...


CATCH_UP = 5.0
"""Seconds a writer waits for a cache to show its own write (`Context.caught_up`)."""
DEAF_GRACE = 1.0
"""Seconds more a cache that showed nothing of a write may take to move once its watch stream
is past that write, before its watches are restarted (`Context.caught_up`)."""


@dataclass
class Context:
    """What a reconciler may use. `store` is the fenced view of the current leadership term."""

    store: Store
    kv: RuntimeKV
    informers: InformerFactory
    events: EventSink
    settings: Settings = field(default_factory=Settings)
    """Every controller's settings, built once at startup (controller.settings)."""
    clock: Clock = field(default_factory=SystemClock)
    identity: str = ""
    """The manager's identity (its leader election candidate name)."""
    catch_up: float = CATCH_UP

    def cache(self, kind: type[R]) -> Informer[R]:
        return self.informers.informer(kind)

    async def caught_up(self, kind: type[Resource], revision: int | None) -> None:
        """Until the cache of `kind` shows everything up to `revision` (our own write), so the
        next reconcile plans from the cache alone and never acts twice on a stale read. Bounded
        by `catch_up`: a cache that lags longer is logged, and the next look sees it later."""
        if not revision or revision <= 0:
            return
        cache = self.cache(kind)
        before = cache.revision
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            async with asyncio.timeout(self.catch_up):
                await cache.wait_for_revision(revision)
        except TimeoutError:
            log.warning("Cache did not catch up", extra={"kind": kind.KIND, "revision": revision})
            if cache.revision == before and await self._deaf(cache, revision):
                self._restart_watches(kind, revision)

    async def _deaf(self, cache: Informer[Any], revision: int) -> bool:
        """A cache that showed nothing at all for `catch_up` s is deaf, not slow, unless its
        watch stream still delivers older events (the process reads slower than etcd commits,
        as a 50,000-task transition makes it: the write waits in that backlog, it is not
        lost), or it moves within DEAF_GRACE s (the stream just got past the write)."""
        if self.informers.store.watch_stream_behind(revision, within=self.catch_up):
            log.info("Watch stream behind a write", extra={"revision": revision})
            return False
        before = cache.revision
        grace = min(DEAF_GRACE, self.catch_up)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await cache.wait_for_revision(before + 1)
        return cache.revision == before

    def _restart_watches(self, kind: type[Resource], revision: int) -> None:
        """The cache's watch delivered nothing while a write it must show was committed:
        it went deaf (its stream may still answer, which keeps the informers' stall guard
        quiet). Every watch shares that stream: restart them all, each from its revision."""
        restarted = self.informers.restart_watches(min_gap=self.catch_up)
        if restarted:
            log.warning(
                "Restarting every watch: a cache shows nothing of a committed write",
                extra={"kind": kind.KIND, "revision": revision, "watches": restarted},
            )


class Reconciler:
    """Subclass, set `name` and `kind`, implement `reconcile`; add `watches()` for other kinds,
    `cached_kinds` for kinds only read, `jobs()` for work without a key. A controller of jobs
    only sets no `kind`, no watches and `workers = 0`, and needs no `reconcile`."""

    name: ClassVar[str]
    kind: ClassVar[type[Resource] | None] = None
    cached_kinds: ClassVar[tuple[type[Resource], ...]] = ()
    """Kinds kept cached (informers started and synced before a term) without enqueueing."""
    workers: ClassVar[int] = 4
    resync_period: ClassVar[float | None] = 600.0

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._requeue: Callable[[str], None] = _nowhere

    def bind_queue(self, add: Callable[[str], None]) -> None:
        """Where `requeue` puts keys: set by the Controller that runs this reconciler."""
        self._requeue = add

    def requeue(self, key: str) -> None:
        """Enqueue `key` from outside a reconcile (background work it started has ended);
        nothing happens until a Controller runs this reconciler."""
        self._requeue(key)

    def jobs(self) -> Sequence[Job]:
        """Named singleton jobs run beside the workers while leading (read once, at setup)."""
        return ()

    def watches(self) -> Sequence[Watch]:
        """Watches beyond the reconciled kind itself (which is always watched by name)."""
        return ()

    def all_watches(self) -> list[Watch]:
        primary = [Watch(self.kind, own_name)] if self.kind is not None else []
        return [*primary, *self.watches()]

    def resync_keys(self) -> Iterable[str]:
        """Keys enqueued on every resync (default: every cached object of `kind`)."""
        return self.ctx.cache(self.kind).names() if self.kind is not None else ()

    async def reconcile(self, key: str) -> Result:
        """Observe → plan → act → write status. Never sleep: return `Result(requeue_after)`."""
        raise NotImplementedError(f"{self.name} reconciles no keys (got {key!r})")

    async def on_start(self) -> None:
        """A leadership term starts: caches are synced, `ctx.store` is fenced by this term,
        workers start right after. Start per-term background work here (keep it short)."""
        return None  # default: nothing per term

    async def on_stop(self, *, graceful: bool) -> None:
        """The term ends, after the workers stopped. `graceful`: shutdown while the lease is
        still held (writes still pass the fence: flush what is pending); otherwise the lease
        was lost or a write was fenced (writes would be rejected: stop at once)."""
        return None  # default: nothing per term


def _nowhere(_key: str) -> None:
    return None
