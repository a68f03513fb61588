"""The typed resource store (store.api.Store + RuntimeKV) over any KVBackend. No client imports.

All create/update/status/delete/fence rules live here once; store.etcd and store.memory only
provide the backend, so the fake and the real store share semantics by construction.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from crds.errors import (
    AlreadyExistsError,
    ConflictError,
    FencedError,
    NotFoundError,
    O2Error,
    StoreUnavailableError,
    UnreadableObjectError,
)
from crds.meta import utcnow
from crds.resource import Resource
from store import codec
from store.api import DEFAULT_PREFIX, Fence, ListResult, RuntimeKV, Store, WatchEvent
from store.kv import KV, Compare, Delete, Get, KVBackend, KVEvent, Op, Put
from store.rawkv import FencedKV, ObjectCache

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Resource)

DELETE_ATTEMPTS = 3
BATCH_SIZE = 128
"""Ops per etcd txn in update_status_many: etcd's default --max-txn-ops is 128, counting the
compares too, so a fenced batch carries one write less (the fence is a compare)."""
BATCH_BYTES = 1024 * 1024
"""Bytes of values per txn, under etcd's default --max-request-bytes (1.5 MiB)."""
BATCHES_IN_FLIGHT = 8
"""Concurrent batch txns: with 8 in flight etcd reaches its physical write floor (DESIGN §7)."""


def kind_name(kind: type[Resource]) -> str:
    return kind.KIND or kind.__name__


class ResourceStore(FencedKV):
    """Store + RuntimeKV over a KVBackend; `with_fence` returns a view sharing the backend."""

    def __init__(
        self,
        backend: KVBackend,
        *,
        prefix: str = DEFAULT_PREFIX,
        fence: Fence | None = None,
        clock: Callable[[], datetime] = utcnow,
        cache: ObjectCache | None = None,
        owner: bool = True,
    ) -> None:
        super().__init__(backend, prefix=prefix, fence=fence, cache=cache, owner=owner)
        self.clock = clock

    @property
    def progress_interval(self) -> float | None:
        """Seconds between PROGRESS events of an idle watch (None: this store sends none)."""
        return self.backend.progress_interval

    def key_for(self, kind: type[Resource], name: str) -> str:
        return codec.registry_key(self.prefix, kind, name)

    def with_fence(self, fence: Fence | None) -> ResourceStore:
        view = type(self).__new__(type(self))
        ResourceStore.__init__(
            view,
            self.backend,
            prefix=self.prefix,
            fence=fence,
            clock=self.clock,
            cache=self._cache,
            owner=False,
        )
        return view

    # ----- typed resources ----------------------------------------------------------------

    def _decode(self, kind: type[R], kv: KV) -> R:
        cached = self._cache.get(kv.key, kv.mod_revision)
        if type(cached) is kind:  # same key and mod_revision: same bytes, skip parsing
            return cached
        obj = codec.decode(kind, kv.value, key=kv.key, mod_revision=kv.mod_revision)
        self._cache.put(kv.key, obj, kv.value)
        return obj

    async def create(self, obj: R, *, lease: int | None = None) -> R:
        key = self.key_for(type(obj), obj.metadata.name)
        prepared = codec.prepare_create(obj, now=self.clock())
        raw = codec.encode_unstamped(prepared)
        result = await self._txn(
            [Compare(key, "create", 0)], [Put(key, raw, lease or 0)], [Get(key)]
        )
        revision = result.revision
        if not result.succeeded:
            found = result.gets[0]
            if found is None or found.value != raw:
                raise AlreadyExistsError(obj.kind, obj.metadata.name)
            # our own write (same bytes, so same fresh uid): a retried txn that had applied
            revision = found.mod_revision
        created = codec.set_revision(prepared, revision)
        self._cache.put(key, created, raw)
        return created

    async def get(self, kind: type[R], name: str) -> R:
        key = self.key_for(kind, name)
        kv, _ = await self.backend.get(key)
        if kv is None:
            raise NotFoundError(kind_name(kind), name)
        return self._decode(kind, kv)

    async def _stored_for(self, obj: R) -> R:
        """The stored object at the caller's resourceVersion (cache, else one read)."""
        key = self.key_for(type(obj), obj.metadata.name)
        expected = obj.metadata.resource_version
        cached = self._cache.get(key, expected)
        if cached is not None:
            return cached  # type: ignore[return-value]
        stored = await self.get(type(obj), obj.metadata.name)
        if expected is not None and stored.metadata.resource_version != expected:
            raise ConflictError(obj.kind, obj.metadata.name, expected=expected)
        return stored

    async def _cas(self, obj: R, *, expected: int, op: Put | Delete) -> int:
        """txn(mod_revision == expected -> op); NotFound vs Conflict told apart in one trip."""
        result = await self._txn([Compare(op.key, "mod", expected)], [op], [Get(op.key)])
        if result.succeeded:
            return result.revision
        found = result.gets[0]
        if found is None:
            raise NotFoundError(obj.kind, obj.metadata.name)
        if isinstance(op, Put) and _holds_put(found, op):
            return found.mod_revision  # already holds exactly our value: a retried put applied
        raise ConflictError(obj.kind, obj.metadata.name, expected=expected)

    async def _write(self, merged: R, *, expected: int, lease: int | None = None) -> R:
        """CAS put; `lease` None keeps the key's lease, else attaches that one (0: none)."""
        key = self.key_for(type(merged), merged.metadata.name)
        try:
            raw = codec.encode_unstamped(codec.set_revision(merged, None))
            put = Put(key, raw, keep_lease=True) if lease is None else Put(key, raw, lease)
            revision = await self._cas(merged, expected=expected, op=put)
        except ConflictError:
            self._cache.drop(key)
            raise
        written = codec.set_revision(merged, revision)
        self._cache.put(key, written, raw)
        return written

    async def update(self, obj: R, *, lease: int | None = None) -> R:
        """CAS on metadata.resourceVersion (None: on the version read here, last write wins).
        The object keeps its etcd lease unless `lease` names another (0 detaches it); a new
        lease alone is a change, so a write with only a new lease is not skipped."""
        stored = await self._stored_for(obj)
        merged, changed, remove = codec.merge_update(stored, obj)
        if not changed:
            if lease is None:
                return stored
            merged = codec.with_meta(stored)  # a copy of our own: _write stamps it
        expected = stored.metadata.resource_version or 0
        if remove:
            key = self.key_for(type(obj), obj.metadata.name)
            await self._cas(obj, expected=expected, op=Delete(key))
            self._cache.drop(key)
            log.info("Removed object after last finalizer", extra={"object": obj.ref})
            return merged
        return await self._write(merged, expected=expected, lease=lease)

    async def update_status(self, obj: R) -> R:
        stored = await self._stored_for(obj)
        merged, changed = codec.merge_status(stored, obj)
        if not changed:
            return stored
        return await self._write(merged, expected=stored.metadata.resource_version or 0)

    async def delete(
        self, kind: type[R], name: str, *, resource_version: int | None = None
    ) -> R | None:
        """Without resource_version, a delete that raced with a write re-reads and tries again."""
        for _ in range(DELETE_ATTEMPTS - 1):
            try:
                return await self._delete_once(kind, name, resource_version=resource_version)
            except ConflictError:
                if resource_version is not None:
                    raise
        return await self._delete_once(kind, name, resource_version=resource_version)

    async def _delete_once(
        self, kind: type[R], name: str, *, resource_version: int | None
    ) -> R | None:
        key = self.key_for(kind, name)
        kv, _ = await self.backend.get(key)
        if kv is None:
            raise NotFoundError(kind_name(kind), name)
        if resource_version is not None and kv.mod_revision != resource_version:
            raise ConflictError(kind_name(kind), name, expected=resource_version)
        try:
            stored = self._decode(kind, kv)
        except UnreadableObjectError:
            stored = None  # garbage someone else wrote: removing it is always allowed
        if stored is not None and stored.metadata.finalizers:
            marked, changed = codec.mark_deleted(stored, now=self.clock())
            return await self._write(marked, expected=kv.mod_revision) if changed else stored
        result = await self._txn([Compare(key, "mod", kv.mod_revision)], [Delete(key)], [Get(key)])
        self._cache.drop(key)
        if not result.succeeded:
            if result.gets[0] is None:
                raise NotFoundError(kind_name(kind), name)
            raise ConflictError(kind_name(kind), name, expected=kv.mod_revision)
        return None

    async def list(
        self, kind: type[R], *, labels: Mapping[str, str] | None = None
    ) -> ListResult[R]:
        kvs, revision = await self.backend.range(codec.registry_prefix(self.prefix, kind))
        items: list[R] = []
        unreadable: list[UnreadableObjectError] = []
        wanted = dict(labels) if labels else None
        for kv in kvs:
            try:
                obj = self._decode(kind, kv)
            except UnreadableObjectError as exc:
                unreadable.append(exc)
                continue
            if codec.matches_labels(obj, wanted):
                items.append(obj)
        return ListResult(items=items, revision=revision, unreadable=unreadable)

    async def watch(self, kind: type[R], *, start_revision: int) -> AsyncIterator[WatchEvent[R]]:
        """Events from start_revision (inclusive): list at revision N, then watch from N+1."""
        prefix = codec.registry_prefix(self.prefix, kind)
        async for event in self.backend.watch(prefix, start_revision=start_revision, prefix=True):
            yield self._watch_event(kind, event)

    def _watch_event(self, kind: type[R], event: KVEvent) -> WatchEvent[R]:
        key = event.kv.key
        if event.type == "PROGRESS":
            return WatchEvent("PROGRESS", key, "", event.revision)
        name = codec.name_from_key(key)
        if event.type == "DELETE":
            self._cache.drop(key)
            last = None
            if event.prev is not None:
                try:
                    last = codec.decode(
                        kind, event.prev.value, key=key, mod_revision=event.prev.mod_revision
                    )
                except UnreadableObjectError:
                    last = None
            return WatchEvent("DELETED", key, name, event.revision, obj=last)
        try:
            obj = self._decode(kind, event.kv)
        except UnreadableObjectError as exc:
            return WatchEvent("UNREADABLE", key, name, event.revision, error=exc)
        added = event.kv.create_revision == event.kv.mod_revision
        return WatchEvent("ADDED" if added else "MODIFIED", key, name, event.revision, obj=obj)

    # ----- batched status writes --------------------------------------------------------

    async def update_status_many(self, objs: Sequence[R]) -> builtins.list[R | Exception]:
        """Many status writes, CAS puts batched into few txns (BATCH_SIZE ops, BATCH_BYTES),
        BATCHES_IN_FLIGHT at a time; a batch that fails falls back to per-item writes."""
        results: builtins.list[R | Exception | None] = [None] * len(objs)
        pending: builtins.list[_Pending[R]] = []
        stored_all = await self._stored_many(objs)
        for index, (obj, stored) in enumerate(zip(objs, stored_all, strict=True)):
            if isinstance(stored, Exception):
                results[index] = stored
                continue
            merged, changed = codec.merge_status(stored, obj)
            if not changed:
                results[index] = stored
                continue
            key = self.key_for(type(obj), obj.metadata.name)
            expected = stored.metadata.resource_version or 0
            raw = codec.encode_unstamped(codec.set_revision(merged, None))
            pending.append(_Pending(index, key, merged, expected, raw))
        size = BATCH_SIZE - (1 if self.fence is not None else 0)
        limit = asyncio.Semaphore(BATCHES_IN_FLIGHT)

        async def write(batch: builtins.list[_Pending[R]]) -> None:
            async with limit:
                await self._write_batch(batch, objs, results)

        await asyncio.gather(*(write(batch) for batch in _batches(pending, size=size)))
        return [r if r is not None else O2Error("not written") for r in results]

    async def _stored_many(self, objs: Sequence[R]) -> builtins.list[R | Exception]:
        out: builtins.list[R | Exception | None] = []
        missing: builtins.list[int] = []
        for index, obj in enumerate(objs):
            key = self.key_for(type(obj), obj.metadata.name)
            cached = self._cache.get(key, obj.metadata.resource_version)
            out.append(cached)  # type: ignore[arg-type]
            if cached is None:
                missing.append(index)
        for start in range(0, len(missing), BATCH_SIZE):
            chunk = missing[start : start + BATCH_SIZE]
            keys = [self.key_for(type(objs[i]), objs[i].metadata.name) for i in chunk]
            result = await self.backend.txn([], [Get(k) for k in keys])
            for index, kv in zip(chunk, result.gets, strict=True):
                out[index] = self._stored_from(objs[index], kv)
        return [o for o in out if o is not None]

    def _stored_from(self, obj: R, kv: KV | None) -> R | Exception:
        if kv is None:
            return NotFoundError(obj.kind, obj.metadata.name)
        try:
            stored = self._decode(type(obj), kv)
        except UnreadableObjectError as exc:
            return exc
        expected = obj.metadata.resource_version
        if expected is not None and kv.mod_revision != expected:
            return ConflictError(obj.kind, obj.metadata.name, expected=expected)
        return stored

    async def _write_batch(
        self,
        batch: builtins.list[_Pending[R]],
        objs: Sequence[R],
        results: builtins.list[R | Exception | None],
    ) -> None:
        compares = [Compare(p.key, "mod", p.expected) for p in batch]
        puts: builtins.list[Op] = [Put(p.key, p.raw, keep_lease=True) for p in batch]
        try:
            result = await self._txn(compares, puts)
        except (FencedError, StoreUnavailableError):
            raise
        except O2Error as exc:  # e.g. a request too large for etcd: try the items one by one
            log.warning("Status batch rejected; writing per item", extra={"error": str(exc)})
        else:
            if result.succeeded:
                for p in batch:
                    written = codec.set_revision(p.merged, result.revision)
                    self._cache.put(p.key, written, p.raw)
                    results[p.index] = written
                return
        for p in batch:  # someone else wrote one of them: find out which, per item
            try:
                results[p.index] = await self.update_status(objs[p.index])
            except O2Error as exc:
                results[p.index] = exc


@dataclass(frozen=True, slots=True)
class _Pending(Generic[R]):
    """One status write waiting for its batch."""

    index: int
    key: str
    merged: R
    expected: int
    raw: bytes


def _batches(items: list[_Pending[R]], *, size: int) -> list[list[_Pending[R]]]:
    """Chunks of at most `size` ops and BATCH_BYTES, with no key twice (etcd rejects duplicate
    keys in a txn, and requests over its --max-request-bytes)."""
    batches: list[list[_Pending[R]]] = []
    current: list[_Pending[R]] = []
    seen: set[str] = set()
    used = 0
    for item in items:
        full = len(current) >= size or used + len(item.raw) > BATCH_BYTES
        if current and (full or item.key in seen):
            batches.append(current)
            current, seen, used = [], set(), 0
        current.append(item)
        seen.add(item.key)
        used += len(item.raw)
    if current:
        batches.append(current)
    return batches


def _holds_put(found: KV, put: Put) -> bool:
    """The key already holds exactly what `put` writes (value, and its lease when it names one)."""
    return found.value == put.value and (put.keep_lease or found.lease == put.lease)


def _conforms(store: ResourceStore) -> tuple[Store, RuntimeKV]:
    """Checked by mypy: ResourceStore implements both contracts of store.api."""
    return store, store
