"""Event recorder: writes Event resources, folding repeats into `count`, expiring via leases.

`event()` never blocks a reconciler: it enqueues, and one background task writes. Repeats of
the same object+type+reason+message share one Event named `<object>-<hash>` whose count and
lastTimestamp advance; repeats that arrive before the previous write are folded in memory, so
a burst costs one write. Each write attaches the Event to a shared etcd lease of its time bucket,
so an Event expires between `ttl` and `ttl + bucket` after its last occurrence. Events are
written only while a store is available (the manager hands the leader's fenced store).

Events are public (`o2 describe`, the read-only GUI), so every message is redacted of the
controller's known secrets (controller.redact) and capped at MESSAGE_LIMIT characters before it
is folded or written: whatever a reconciler or a hook's output put in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from controller.redact import Redactor, cap
from crds.errors import AlreadyExistsError, ConflictError, NotFoundError
from crds.kinds.event import Event, EventSpec, ObjectReference
from crds.meta import ObjectMeta, utcnow
from crds.resource import Resource
from store.api import RuntimeKV, Store

log = logging.getLogger(__name__)

DEFAULT_TTL = 3600
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Occurrence:
    """One event not yet written, with the repeats that arrived before it was."""

    involved: ObjectReference
    type: str
    reason: str
    message: str
    at: datetime
    first_at: datetime
    count: int = 1


def event_name(involved: ObjectReference, *, type_: str, reason: str, message: str) -> str:
    """`<object>-<hash>`: a DNS-1123 label, equal for repeats of the same event."""
    digest = hashlib.sha256(
        "\x00".join((involved.kind, involved.name, involved.uid, type_, reason, message)).encode()
    ).hexdigest()[:10]
    stem = _NOT_DNS.sub("-", involved.name.lower()).strip("-")[:52] or "object"
    return f"{stem}-{digest}"


def reference(obj: Resource) -> ObjectReference:
    return ObjectReference(kind=obj.kind, name=obj.metadata.name, uid=obj.metadata.uid)


class EventRecorder:
    """Non-blocking Event writer with aggregation; run `run()` as a task."""

    def __init__(
        self,
        store: Callable[[], Store | None],
        kv: RuntimeKV,
        *,
        source: str,
        ttl: int = DEFAULT_TTL,
        bucket: int | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_pending: int = 1000,
        cache_size: int = 4096,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        """`redact`: masks secrets in messages (default: those of this process's environment)."""
        self._store = store
        self._redact = Redactor.from_environ(os.environ) if redact is None else redact
        self.kv = kv
        self.source = source
        self.ttl = ttl
        self.bucket = bucket or max(1, ttl // 6)
        self.clock = clock
        self.dropped = 0
        self.written = 0
        self._queue: asyncio.Queue[str] = asyncio.Queue(max_pending)
        self._pending: dict[str, Occurrence] = {}
        self._leases: dict[int, int] = {}
        self._cache: OrderedDict[str, Event] = OrderedDict()
        self._cache_size = cache_size

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        self.emit(reference(obj), reason=reason, message=message, warning=warning)

    def emit(
        self, involved: ObjectReference, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        """Queue one occurrence; a repeat of one still queued only bumps its count."""
        message = cap(self._redact(message))
        type_ = "Warning" if warning else "Normal"
        name = event_name(involved, type_=type_, reason=reason, message=message)
        now = self.clock()
        queued = self._pending.get(name)
        if queued is not None:
            self._pending[name] = dataclasses.replace(queued, at=now, count=queued.count + 1)
            return
        try:
            self._queue.put_nowait(name)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("Event dropped: recorder queue full", extra={"reason": reason})
            return
        self._pending[name] = Occurrence(involved, type_, reason, message, now, now)

    async def run(self) -> None:
        while True:
            name = await self._queue.get()
            occ = self._pending.pop(name)
            try:
                await self._write(name, occ)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Event not written", extra={"reason": occ.reason, "error": str(exc)})
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Until every queued occurrence has been written (or given up)."""
        await self._queue.join()

    async def _write(self, name: str, occ: Occurrence) -> None:
        store = self._store()
        if store is None:
            return  # not leading: the leader reports events
        for attempt in range(3):
            try:
                await self._write_once(store, name, occ)
                self.written += 1
                return
            except (ConflictError, AlreadyExistsError, NotFoundError):
                self._cache.pop(name, None)
            except Exception:
                self._cache.pop(name, None)
                self._leases.clear()  # the bucket lease may be gone: grant another
                if attempt == 2:
                    raise

    async def _write_once(self, store: Store, name: str, occ: Occurrence) -> None:
        existing = self._cache.get(name)
        if existing is None:
            with contextlib.suppress(NotFoundError):
                existing = await store.get(Event, name)
        if existing is not None:
            spec = existing.spec.model_copy(
                update={"count": existing.spec.count + occ.count, "last_timestamp": occ.at}
            )
            fresh = existing.model_copy(update={"spec": spec})
            # one CAS write that also moves the Event to the current lease bucket
            updated = await store.update(fresh, lease=await self._lease())
            self._remember(name, updated)
            return
        created = await self._create(store, self._new_event(name, occ))
        self._remember(name, created)

    def _new_event(self, name: str, occ: Occurrence) -> Event:
        spec = EventSpec(
            involved_object=occ.involved,
            type="Warning" if occ.type == "Warning" else "Normal",
            reason=occ.reason,
            message=occ.message,
            count=occ.count,
            first_timestamp=occ.first_at,
            last_timestamp=occ.at,
            source=self.source,
        )
        return Event(metadata=ObjectMeta(name=name), spec=spec)

    async def _create(self, store: Store, event: Event) -> Event:
        fresh = event.model_copy(
            update={"metadata": ObjectMeta(name=event.metadata.name, labels=event.metadata.labels)}
        )
        return await store.create(fresh, lease=await self._lease())

    async def _lease(self) -> int:
        now = self.clock().timestamp()
        bucket = int(now // self.bucket)
        lease = self._leases.get(bucket)
        if lease is None:
            remaining = (bucket + 1) * self.bucket - now
            lease = await self.kv.grant_lease(int(self.ttl + remaining) + 1)
            self._leases = {bucket: lease}
        return lease

    def _remember(self, name: str, event: Event) -> None:
        self._cache[name] = event
        self._cache.move_to_end(name)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
