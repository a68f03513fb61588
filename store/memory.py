"""In-memory KV backend and MemoryStore: the fake shipped beside the etcd store. No I/O.

It models etcd's semantics that o2 relies on: one global revision per write txn, mod/create
revisions, history for watch-from-revision, compaction, leases (on an injectable clock).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from crds.errors import CompactedError, NotFoundError, O2Error
from crds.meta import utcnow
from store.api import DEFAULT_PREFIX
from store.kv import KV, Compare, Get, KVEvent, Op, Put, TxnResult, progress_event
from store.resources import ResourceStore

MAX_TXN_OPS = 128
"""etcd's default --max-txn-ops: per txn, for the compares and for each branch's ops."""


@dataclass
class _Lease:
    ttl: int
    expires_at: float
    keys: set[str] = field(default_factory=set)


class MemoryKV:
    """A single-process etcd look-alike; every method is atomic (no awaits inside)."""

    endpoints_label = "memory"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        progress_interval: float | None = None,
    ) -> None:
        self.clock = clock
        self.progress_interval = progress_interval
        """An idle watch yields PROGRESS after this many seconds (None: only on request)."""
        self._progress_requests = 0
        self._data: dict[str, KV] = {}
        self._revision = 1
        self._history: list[KVEvent | KV] = []
        """Every change since the compaction: a DELETE's event, a PUT's new KV (its event is
        made for the watch that delivers it: a write no watch follows makes none)."""
        self._history_revs: list[int] = []
        self._compacted = 0
        self._base = 0
        """Absolute position of _history[0] in the event sequence (grows on compaction)."""
        self._leases: dict[int, _Lease] = {}
        self._next_expiry = math.inf
        """No lease expires before this clock reading (a lower bound, lowered by each grant and
        refresh), so a read or write with no lease due looks at none (`expire_leases`)."""
        self._lease_ids = itertools.count(0x1000)
        self._changed: asyncio.Event | None = None

    @property
    def revision(self) -> int:
        return self._revision

    # ----- reads and writes ---------------------------------------------------------

    def _holds(self, compare: Compare) -> bool:
        kv = self._data.get(compare.key)
        if compare.target == "mod":
            return (kv.mod_revision if kv else 0) == compare.value
        if compare.target == "create":
            return (kv.create_revision if kv else 0) == compare.value
        return kv is not None and kv.value == compare.value

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        self.expire_leases()
        if len(compares) > MAX_TXN_OPS:
            raise O2Error("etcdserver: too many operations in txn request")
        succeeded = True
        for compare in compares:  # a loop, not all(<genexpr>): two objects fewer per txn
            if not self._holds(compare):
                succeeded = False
                break
        ops = success if succeeded else failure
        self._check_ops(ops)
        gets: list[KV | None] = []
        revision = self._revision + 1
        wrote = False
        for op in ops:
            if isinstance(op, Put):
                self._put(op, revision)
                wrote = True
            elif isinstance(op, Get):
                gets.append(self._data.get(op.key))
            else:
                wrote = self._delete(op.key, revision) or wrote
        if wrote:
            self._revision = revision
            self._notify()
        return TxnResult(succeeded=succeeded, revision=self._revision, gets=gets)

    def _check_ops(self, ops: Sequence[Op]) -> None:
        if len(ops) > MAX_TXN_OPS:
            raise O2Error("etcdserver: too many operations in txn request")
        if len(ops) > 1:  # one op writes no key twice
            written = [op.key for op in ops if type(op) is not Get]
            if len(written) != len(set(written)):
                raise O2Error("duplicate key given in txn request")
        for op in ops:
            if type(op) is not Put:
                continue
            if op.lease and op.lease not in self._leases:
                raise NotFoundError("lease", str(op.lease))
            if op.keep_lease and op.key not in self._data:
                raise O2Error("etcdserver: key not found")

    def _put(self, op: Put, revision: int) -> None:
        key = op.key
        prev = self._data.get(key)
        if prev is None:
            lease = 0 if op.keep_lease else op.lease
            kv = KV(key, op.value, revision, revision, 1, lease)
        else:
            lease = prev.lease if op.keep_lease else op.lease
            if prev.lease and prev.lease in self._leases:
                self._leases[prev.lease].keys.discard(key)
            kv = KV(key, op.value, revision, prev.create_revision, prev.version + 1, lease)
        self._data[key] = kv
        if lease:
            self._leases[lease].keys.add(key)
        self._history.append(kv)
        self._history_revs.append(revision)

    def _delete(self, key: str, revision: int) -> bool:
        prev = self._data.pop(key, None)
        if prev is None:
            return False
        tomb = KV(key=key, value=b"", mod_revision=revision, create_revision=0, version=0)
        self._record(KVEvent("DELETE", tomb, prev, revision))
        return True

    def _record(self, event: KVEvent) -> None:
        self._history.append(event)
        self._history_revs.append(event.revision)

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def get(self, key: str) -> tuple[KV | None, int]:
        self.expire_leases()
        return self._data.get(key), self._revision

    async def range(self, prefix: str) -> tuple[list[KV], int]:
        self.expire_leases()
        kvs = [kv for key, kv in sorted(self._data.items()) if key.startswith(prefix)]
        return kvs, self._revision

    # ----- watch and compaction -----------------------------------------------------

    async def watch(self, key: str, *, start_revision: int, prefix: bool) -> AsyncIterator[KVEvent]:
        if start_revision <= 0:
            start_revision = self._revision + 1
        if start_revision < self._compacted:
            raise CompactedError(start_revision, self._compacted)
        position = self._base + bisect.bisect_left(self._history_revs, start_revision)
        answered = self._progress_requests
        while True:
            if position < self._base:  # compacted while this watcher lagged behind
                raise CompactedError(start_revision, self._compacted)
            index = position - self._base
            if index >= len(self._history):  # caught up: everything up to now was delivered
                if answered != self._progress_requests or not await self._wait_change():
                    answered = self._progress_requests
                    yield progress_event(key, max(self._revision, start_revision - 1))
                continue
            change = self._history[index]
            position += 1
            kv = change if isinstance(change, KV) else change.kv  # a change's revision: kv's
            if kv.mod_revision < start_revision:  # asked for a future revision: skip until it
                continue
            if not (kv.key.startswith(key) if prefix else kv.key == key):
                continue
            if isinstance(change, KVEvent):
                yield change
            else:  # a PUT's event, as etcd's backend sends it: without the previous value
                yield KVEvent("PUT", kv, None, kv.mod_revision)

    async def _wait_change(self) -> bool:
        """Until the next write or progress request; False when progress_interval passed."""
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            async with asyncio.timeout(self.progress_interval):
                await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def watch_stream_idle(self) -> None:
        """None: no stream is shared by the watches here, each reads the history itself (a
        quiet watch is judged by its own silence; see store.api.Store.watch_stream_idle)."""
        return None

    def watch_stream_behind(self, revision: int, *, within: float) -> bool:
        """False: a write is in the history the watches read as soon as it returns; no stream
        between them holds a backlog (see store.api.Store.watch_stream_behind)."""
        return False

    def request_progress(self) -> None:
        """Every watch that has caught up yields one PROGRESS event (etcd's progress request)."""
        self._progress_requests += 1
        self._notify()

    async def compact(self, revision: int) -> None:
        """Drop history below `revision`; watches from older revisions raise CompactedError."""
        index = bisect.bisect_left(self._history_revs, revision)
        del self._history[:index]
        del self._history_revs[:index]
        self._base += index
        self._compacted = max(self._compacted, revision)

    # ----- leases -------------------------------------------------------------------

    async def grant_lease(self, ttl: int) -> int:
        lease_id = next(self._lease_ids)
        lease = self._leases[lease_id] = _Lease(ttl=ttl, expires_at=self.clock() + ttl)
        self._next_expiry = min(self._next_expiry, lease.expires_at)
        return lease_id

    async def refresh_lease(self, lease_id: int) -> int:
        self.expire_leases()
        lease = self._leases.get(lease_id)
        if lease is None:
            raise NotFoundError("lease", str(lease_id))
        lease.expires_at = self.clock() + lease.ttl
        self._next_expiry = min(self._next_expiry, lease.expires_at)  # an injected clock can
        return lease.ttl  # go back: then a refresh moves the expiry earlier

    async def revoke_lease(self, lease_id: int) -> None:
        self._drop_lease(lease_id)

    def expire_leases(self) -> None:
        """Remove leases past their TTL on the clock, deleting their keys (one revision each).
        Called before every read and write: with no lease due, one comparison (no list, no
        walk over the leases)."""
        if not self._leases:
            return
        now = self.clock()
        if now < self._next_expiry:
            return
        for lease_id in [i for i, lease in self._leases.items() if lease.expires_at <= now]:
            self._drop_lease(lease_id)
        self._next_expiry = min(
            (lease.expires_at for lease in self._leases.values()), default=math.inf
        )

    def _drop_lease(self, lease_id: int) -> None:
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            return
        revision = self._revision + 1
        wrote = False
        for key in sorted(lease.keys):
            wrote = self._delete(key, revision) or wrote
        if wrote:
            self._revision = revision
            self._notify()

    async def close(self) -> None:
        return None


class MemoryStore(ResourceStore):
    """Store + RuntimeKV in memory, same rules as EtcdStore (they share store.resources)."""

    def __init__(
        self,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], datetime] = utcnow,
        lease_clock: Callable[[], float] = time.monotonic,
        progress_interval: float | None = None,
    ) -> None:
        self.kv = MemoryKV(clock=lease_clock, progress_interval=progress_interval)
        super().__init__(self.kv, prefix=prefix, clock=clock)

    def expire_leases(self) -> None:
        self.kv.expire_leases()

    def request_progress(self) -> None:
        self.kv.request_progress()
