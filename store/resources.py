"""The typed resource store (store.api.Store + RuntimeKV) over any KVBackend. No client imports.

All create/update/status/delete/fence rules live here once; store.etcd and store.memory only
provide the backend, so the fake and the real store share semantics by construction.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from crds.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    UnreadableObjectError,
)
from crds.meta import utcnow
from crds.resource import Resource
from store import codec
from store.api import (
    DEFAULT_PREFIX,
    BatchResult,
    Fence,
    ListResult,
    RuntimeKV,
    Store,
    WatchEvent,
)
from store.batched import BatchedWrites, merge_for_status, merge_for_update
from store.kv import KV, Compare, Delete, Get, KVBackend, KVEvent, Put
from store.rawkv import ObjectCache

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Resource)

DELETE_ATTEMPTS = 3


def kind_name(kind: type[Resource]) -> str:
    return kind.KIND or kind.__name__


class ResourceStore(BatchedWrites):
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

    def watch_stream_idle(self) -> float | None:
        """Seconds the backend's shared watch stream has been silent (store.api.Store)."""
        return self.backend.watch_stream_idle()

    def watch_stream_behind(self, revision: int, *, within: float) -> bool:
        """The backend's shared watch stream still delivers older events (store.api.Store)."""
        return self.backend.watch_stream_behind(revision, within=within)

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
        self._cache.put(key, created, raw, own=True)
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

    async def _write(
        self, merged: R, *, expected: int, lease: int | None = None, raw: bytes | None = None
    ) -> R:
        """CAS put; `lease` None keeps the key's lease, else attaches that one (0: none); `raw`:
        `merged`'s bytes, when the caller encoded it already."""
        key = self.key_for(type(merged), merged.metadata.name)
        try:
            if raw is None:
                raw = codec.encode_unstamped(codec.set_revision(merged, None))
            put = Put(key, raw, keep_lease=True) if lease is None else Put(key, raw, lease)
            revision = await self._cas(merged, expected=expected, op=put)
        except ConflictError:
            self._cache.drop(key)
            raise
        written = codec.set_revision(merged, revision)
        self._cache.put(key, written, raw, own=True)
        return written

    async def update(self, obj: R, *, lease: int | None = None) -> R:
        """CAS on metadata.resourceVersion (None: on the version read here, last write wins).
        The object keeps its etcd lease unless `lease` names another (0 detaches it); a new
        lease alone is a change, so a write with only a new lease is not skipped.

        A cached base is taken unchecked and what is written checked instead, as a batched
        update does (BatchedWrites._holds_base: one encode per write, not two), or a spec
        write spliced onto the bytes this store wrote for it (BatchedWrites._spliced); a base
        that fails the check is dropped and the update made again on the stored object."""
        cached = self._unchecked_base(obj)
        if cached is not None:
            written = await self._update_on(cached, obj, lease=lease, checked=False)
            if written is not None:
                return written
        stored = await self._stored_for(obj)
        written = await self._update_on(stored, obj, lease=lease, checked=True)
        assert written is not None  # a checked base is never refused
        return written

    async def _update_on(self, stored: R, obj: R, *, lease: int | None, checked: bool) -> R | None:
        """`update` on base `stored`; None when the base was unchecked and fails its check."""
        key = self.key_for(type(obj), obj.metadata.name)
        merged, changed, remove = codec.merge_update(stored, obj)
        if not changed or remove:
            if not checked and self._cache.get(key, stored.metadata.resource_version) is None:
                return None  # written nothing from it: the base itself is checked (encoded)
            checked = True
        if not changed:
            if lease is None:
                return stored
            merged = codec.with_meta(stored)  # a copy of our own: _write stamps it
        expected = stored.metadata.resource_version or 0
        if remove:
            await self._cas(obj, expected=expected, op=Delete(key))
            self._cache.drop(key)
            log.info("Removed object after last finalizer", extra={"object": obj.ref})
            return merged
        codec.set_revision(merged, None)
        raw = self._spliced(key, stored, merged) if changed else None
        if raw is None:
            raw = codec.encode_unstamped(merged)
            if not checked and not self._holds_base(key, stored, merged, raw):
                return None
        return await self._write(merged, expected=expected, lease=lease, raw=raw)

    async def update_status(self, obj: R) -> R:
        """Merge `obj`'s status onto the stored object (CAS on its resourceVersion); on a
        cached base, the bytes this store wrote for it up to the status, else the bytes
        written are checked, as in `update` (as a batched status write: BatchedWrites._plan)."""
        cached = self._unchecked_base(obj)
        if cached is not None:
            key = self.key_for(type(obj), obj.metadata.name)
            merged, changed = codec.merge_status(cached, obj)
            if not changed:
                if self._cache.get(key, cached.metadata.resource_version) is cached:
                    return cached
            else:
                codec.set_revision(merged, None)
                expected = cached.metadata.resource_version or 0
                raw = self._spliced(key, cached, merged)
                if raw is not None:
                    return await self._write(merged, expected=expected, raw=raw)
                raw = codec.encode_unstamped(merged)
                if self._holds_base(key, cached, merged, raw):
                    return await self._write(merged, expected=expected, raw=raw)
        stored = await self._stored_for(obj)
        merged, changed = codec.merge_status(stored, obj)
        if not changed:
            return stored
        return await self._write(merged, expected=stored.metadata.resource_version or 0)

    def _unchecked_base(self, obj: R) -> R | None:
        """The cached object at `obj`'s resourceVersion, not checked against etcd's bytes (the
        caller checks what it writes from it)."""
        key = self.key_for(type(obj), obj.metadata.name)
        cached = self._cache.get(key, obj.metadata.resource_version, verify=False)
        return cached  # type: ignore[return-value]

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
        self._cache.hold(prefix)  # the echo of each write to the kind finds it cached
        try:
            async for event in self.backend.watch(
                prefix, start_revision=start_revision, prefix=True
            ):
                yield self._watch_event(kind, event)
        finally:
            self._cache.release(prefix)

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
            # A cache hit is an object this store wrote (or read) at this very revision, handed
            # on unchecked: re-encoding every echo of our writes cost a 10,000-task transition
            # 7% of the manager's CPU. The base of a write stays checked (an object mutated in
            # place must never reach etcd); o2 never mutates the frozen models in place.
            obj = self._decode_watched(kind, event.kv)
        except UnreadableObjectError as exc:
            return WatchEvent("UNREADABLE", key, name, event.revision, error=exc)
        added = event.kv.create_revision == event.kv.mod_revision
        return WatchEvent("ADDED" if added else "MODIFIED", key, name, event.revision, obj=obj)

    def _decode_watched(self, kind: type[R], kv: KV) -> R:
        """A watched value: the cached object at its revision; else, when the cache holds the
        key with the same bytes up to the status (a status write delivered after our next
        write), its status alone decoded onto that object (a fifth of a whole decode, and
        the metadata and spec shared); else the whole value."""
        cached = self._cache.get(kv.key, kv.mod_revision, verify=False)
        if isinstance(cached, kind) and type(cached) is kind:
            return cached
        obj: R | None = None
        base = self._cache.base_for(kv.key, kv.value)
        if base is not None and isinstance(base[0], kind) and type(base[0]) is kind:
            obj = codec.decode_onto(base[0], kv.value, base[1], mod_revision=kv.mod_revision)
        if obj is None:
            obj = codec.decode(kind, kv.value, key=kv.key, mod_revision=kv.mod_revision)
        self._cache.put(kv.key, obj, kv.value, read=True)
        return obj

    # ----- batched writes (store.batched) ------------------------------------------------

    async def create_many(self, objs: Sequence[R]) -> BatchResult[R]:
        """Many `create`s (no lease) in few txns; an item whose key exists gets its own
        create's answer (AlreadyExistsError in `errors`)."""
        now = self.clock()
        return await self._create_many(
            objs, prepare=lambda obj: codec.prepare_create(obj, now=now), single=self.create
        )

    async def update_many(self, objs: Sequence[R]) -> BatchResult[R]:
        """Many `update`s (same merge, generation and no-op rules; leases kept) in few txns;
        an item whose CAS lost gets its own update's answer."""
        return await self._write_many(objs, merge=merge_for_update, single=self.update)

    async def update_status_many(self, objs: Sequence[R]) -> BatchResult[R]:
        """Many `update_status`s in few txns; per-item results in order."""
        return await self._write_many(
            objs, merge=merge_for_status, single=self.update_status, status=True
        )


def _holds_put(found: KV, put: Put) -> bool:
    """The key already holds exactly what `put` writes (value, and its lease when it names one)."""
    return found.value == put.value and (put.keep_lease or found.lease == put.lease)


def _conforms(store: ResourceStore) -> tuple[Store, RuntimeKV]:
    """Checked by mypy: ResourceStore implements both contracts of store.api."""
    return store, store
