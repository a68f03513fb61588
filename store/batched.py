"""Batched writes of many resources in few etcd txns (create_many, update_many,
update_status_many).

A base of store.resources.ResourceStore; no client imports. Each object is merged exactly as
its single-object write would merge it (no-op skipped, generation bumped on spec change, status
alone for status writes); the CAS puts then go out in txns of up to BATCH_SIZE ops and
BATCH_BYTES, BATCHES_IN_FLIGHT at a time. A txn whose compare fails (someone else wrote one of
its objects) falls back to the single-object write for each of its items, so every item gets
exactly the result, or the error, that its own write would have given. Creates compare each
key's absence; a failed create batch reads its keys in the same txn, so an item whose key already
holds exactly its bytes (a retried txn that had applied) is our own write, as for `create`.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Generic, Literal, TypeVar

from crds.errors import (
    ConflictError,
    FencedError,
    NotFoundError,
    O2Error,
    StoreUnavailableError,
    UnreadableObjectError,
)
from crds.resource import Resource
from store import codec, splice
from store.api import BatchResult
from store.kv import KV, Compare, Get, Op, Put
from store.rawkv import FencedKV

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Resource)

BATCH_SIZE = 128
"""Ops per etcd txn: etcd's default --max-txn-ops is 128, counting the compares too, so a
fenced batch carries one write less (the fence is a compare)."""
BATCH_BYTES = 1024 * 1024
"""Bytes of values per txn, under etcd's default --max-request-bytes (1.5 MiB)."""
BATCHES_IN_FLIGHT = 8
"""Concurrent batch txns: with 8 in flight etcd reaches its physical write floor (DESIGN §7)."""

Outcome = Literal["unchanged", "write", "alone"]
"""What a merge asks for: nothing (return the stored object), a batched CAS put, or the
single-object write (e.g. an update that removes the last finalizer deletes the object)."""
Merge = Callable[[R, R], tuple[R, Outcome]]
Single = Callable[[R], Awaitable[R]]


def merge_for_update(stored: R, desired: R) -> tuple[R, Outcome]:
    merged, changed, remove = codec.merge_update(stored, desired)
    if not changed:
        return stored, "unchanged"
    return merged, "alone" if remove else "write"


def merge_for_status(stored: R, desired: R) -> tuple[R, Outcome]:
    merged, changed = codec.merge_status(stored, desired)
    return merged, "write" if changed else "unchanged"


@dataclass(slots=True)
class _Pending(Generic[R]):
    """One CAS put waiting for its batch. Not frozen: a frozen dataclass sets each field
    through object.__setattr__ (0.66 us a write, 0.16 us plain); nothing changes one."""

    index: int
    key: str
    merged: R
    expected: int
    """The resourceVersion the key must still have; 0 for a create (the key must be absent)."""
    raw: bytes

    @property
    def compare(self) -> Compare:
        if self.expected:
            return _compare(self.key, "mod", self.expected)
        return _compare(self.key, "create", 0)

    @property
    def put(self) -> Put:
        """A CAS put keeps the key's lease; a create puts it without one."""
        return _put(self.key, self.raw, 0, bool(self.expected))


_new = object.__new__
_COMPARE_SLOTS = tuple(Compare.__dict__[f.name].__set__ for f in fields(Compare))
_PUT_SLOTS = tuple(Put.__dict__[f.name].__set__ for f in fields(Put))
"""The slots' setters, in field order (each is set below, by position)."""


def _compare(key: str, target: Literal["mod", "create"], value: int) -> Compare:
    """`Compare(key, target, value)` set through its slots: a frozen dataclass's __init__ sets
    each field by object.__setattr__ (0.44 us; a Compare and a Put per write, 1.4 us)."""
    compare = _new(Compare)
    set_key, set_target, set_value = _COMPARE_SLOTS
    set_key(compare, key)
    set_target(compare, target)
    set_value(compare, value)
    return compare


def _put(key: str, value: bytes, lease: int, keep_lease: bool) -> Put:
    """`Put(key, value, lease, keep_lease)` set through its slots (as `_compare`)."""
    put = _new(Put)
    set_key, set_value, set_lease, set_keep = _PUT_SLOTS
    set_key(put, key)
    set_value(put, value)
    set_lease(put, lease)
    set_keep(put, keep_lease)
    return put


class BatchedWrites(FencedKV):
    """The batched half of the typed store: needs only keys, the object cache and `_txn`."""

    def key_for(self, kind: type[Resource], name: str) -> str:
        return codec.registry_key(self.prefix, kind, name)

    def _decode(self, kind: type[R], kv: KV, *, verify: bool = True) -> R:
        cached = self._cache.get(kv.key, kv.mod_revision, verify=verify)
        if type(cached) is kind:  # same key and mod_revision: same bytes, skip parsing
            return cached
        obj = codec.decode(kind, kv.value, key=kv.key, mod_revision=kv.mod_revision)
        self._cache.put(kv.key, obj, kv.value)
        return obj

    async def _write_many(
        self, objs: Sequence[R], *, merge: Merge[R], single: Single[R], status: bool = False
    ) -> BatchResult[R]:
        """What happened to each object: written (or unchanged), conflict, missing, error.

        A write takes its cached bases unchecked and checks what it writes instead: a `status`
        write's bytes up to the status are the base's (the merge keeps its metadata and spec),
        so they must hash as the bytes etcd holds did (`ObjectCache.holds_head`); an update's
        status is the base's, and its spec unlike the base's when the merge found it changed
        (`ObjectCache.holds_update`). A base mutated in place fails that and is read again, as
        a failed check of the base itself would be. The one encode a write needs instead of two
        (re-encoding every cached base cost a 10,000-task walk 80,000 encodes, and each
        10,000-task transition 10,000 for its spec writes). A write found unchanged checks its
        base whole."""
        results: builtins.list[R | O2Error | None] = [None] * len(objs)
        pending: builtins.list[_Pending[R]] = []
        alone: builtins.list[int] = []
        keys = [self.key_for(type(obj), obj.metadata.name) for obj in objs]
        stored_all = await self._stored_many(objs, keys, verify=False)
        again: builtins.list[int] = []
        for index, (obj, stored) in enumerate(zip(objs, stored_all, strict=True)):
            planned = self._plan(index, obj, stored, keys[index], merge, checked=False)
            if planned is None:
                again.append(index)  # its cached base failed the check: dropped, read etcd
            elif isinstance(planned, _Pending):
                pending.append(planned)
            elif planned == "alone":
                alone.append(index)
            else:
                results[index] = planned
        if again:
            rereads = await self._stored_many([objs[i] for i in again], [keys[i] for i in again])
            for index, stored in zip(again, rereads, strict=True):
                planned = self._plan(index, objs[index], stored, keys[index], merge, checked=True)
                if isinstance(planned, _Pending):
                    pending.append(planned)
                elif planned == "alone":
                    alone.append(index)
                elif planned is not None:
                    results[index] = planned
        await self._send(pending, objs, results, single=single)
        for index in alone:
            results[index] = await _single_result(single, objs[index])
        return BatchResult.of(
            objs, [r if r is not None else O2Error("not written") for r in results]
        )

    def _plan(
        self, index: int, obj: R, stored: R | O2Error, key: str, merge: Merge[R], *, checked: bool
    ) -> _Pending[R] | R | O2Error | Literal["alone"] | None:
        """What to do with one object: its result (stored unchanged, or an error), "alone"
        (its own single write), or the CAS put to batch; None when `stored` was an unchecked
        cached base that fails its check (the cache entry is dropped)."""
        if isinstance(stored, O2Error):
            return stored
        merged, outcome = merge(stored, obj)
        if outcome == "unchanged":
            if checked or self._cache.get(key, stored.metadata.resource_version) is stored:
                return stored
            return None
        if outcome == "alone":
            return "alone"
        expected = stored.metadata.resource_version or 0
        codec.set_revision(merged, None)
        if raw := self._spliced(key, stored, merged):
            return _Pending(index, key, merged, expected, raw)
        raw = codec.encode_unstamped(merged)
        if not checked and not self._holds_base(key, stored, merged, raw):
            return None
        return _Pending(index, key, merged, expected, raw)

    def _spliced(self, key: str, stored: R, merged: R) -> bytes | None:
        """A write's bytes from those this store wrote for `stored`, with no check of the base,
        whose parts it writes back exactly as etcd holds them. A status write's: those up to
        the status, then `merged`'s status (codec.spliced: a fifth of the encode). A spec
        write's: those with the generation's digits and the spec replaced (splice.spec_spliced:
        the spec encoded alone, and no check of the base's status), when the spec moved in
        bytes as the merge found it did. None: encode."""
        own = self._cache.own_bytes(key, stored)
        if own is None:
            return None
        if merged.status is not stored.status:
            return codec.spliced(own, merged)
        return splice.spec_spliced(own, stored, merged)

    def _holds_base(self, key: str, stored: R, merged: R, raw: bytes) -> bool:
        """`raw`, merged onto the unchecked cached `stored`, agrees with what etcd holds
        in all it took from `stored`: a status write kept its metadata and spec, an update its
        status (and the generation, bumped when the spec changed)."""
        if merged.status is not stored.status:
            return self._cache.holds_head(key, stored, raw)
        changed = merged.metadata.generation != stored.metadata.generation
        return self._cache.holds_update(key, stored, raw, spec_changed=changed)

    async def _create_many(
        self, objs: Sequence[R], *, prepare: Callable[[R], R], single: Single[R]
    ) -> BatchResult[R]:
        """`prepare` (the store-owned fields of a create) each object, then put every key
        that is absent, in few txns; a batch whose compare failed is settled per item. Each
        batch is prepared and sent before the next is prepared, yielding in between: 10,000
        creates never hold the event loop (and the leader's lease renewal) for long."""
        results: builtins.list[R | O2Error | None] = [None] * len(objs)
        size = self._batch_size()
        limit = asyncio.Semaphore(BATCHES_IN_FLIGHT)
        sends: builtins.list[asyncio.Future[None]] = []
        for start in range(0, len(objs), size):
            chunk: builtins.list[_Pending[R]] = []
            for index in range(start, min(start + size, len(objs))):
                prepared = prepare(objs[index])
                key = self.key_for(type(prepared), prepared.metadata.name)
                raw = codec.encode_unstamped(prepared)
                chunk.append(_Pending(index, key, prepared, 0, raw))
            for batch in _batches(chunk, size=size):
                write = self._bounded_batch(limit, batch, objs, results, single=single)
                sends.append(asyncio.ensure_future(write))
            await asyncio.sleep(0)
        await asyncio.gather(*sends)
        return BatchResult.of(
            objs, [r if r is not None else O2Error("not written") for r in results]
        )

    def _batch_size(self) -> int:
        """Writes per txn: a fenced txn carries the fence compare too."""
        return BATCH_SIZE - (1 if self.fence is not None else 0)

    async def _send(
        self,
        pending: builtins.list[_Pending[R]],
        objs: Sequence[R],
        results: builtins.list[R | O2Error | None],
        *,
        single: Single[R],
    ) -> None:
        """The puts of `pending` in txns of BATCH_SIZE ops, BATCHES_IN_FLIGHT at a time."""
        limit = asyncio.Semaphore(BATCHES_IN_FLIGHT)
        await asyncio.gather(
            *(
                self._bounded_batch(limit, batch, objs, results, single=single)
                for batch in _batches(pending, size=self._batch_size())
            )
        )

    async def _bounded_batch(
        self,
        limit: asyncio.Semaphore,
        batch: builtins.list[_Pending[R]],
        objs: Sequence[R],
        results: builtins.list[R | O2Error | None],
        *,
        single: Single[R],
    ) -> None:
        async with limit:
            await self._write_batch(batch, objs, results, single=single)

    async def _stored_many(
        self, objs: Sequence[R], keys: Sequence[str], *, verify: bool = True
    ) -> builtins.list[R | O2Error]:
        """The stored object at each caller's resourceVersion (`keys`: theirs): cache hits,
        then batched reads. `verify=False` leaves the cache hits unchecked (the caller checks
        what it writes: `_write_many`)."""
        out: builtins.list[R | O2Error | None] = []
        missing: builtins.list[int] = []
        for obj, key in zip(objs, keys, strict=True):
            cached = self._cache.get(key, obj.metadata.resource_version, verify=verify)
            out.append(cached)  # type: ignore[arg-type]
            if cached is None:
                missing.append(len(out) - 1)
        for start in range(0, len(missing), BATCH_SIZE):
            chunk = missing[start : start + BATCH_SIZE]
            result = await self.backend.txn([], [Get(keys[i]) for i in chunk])
            for index, kv in zip(chunk, result.gets, strict=True):
                out[index] = self._stored_from(objs[index], kv)
        return [o for o in out if o is not None]

    def _stored_from(self, obj: R, kv: KV | None) -> R | O2Error:
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
        results: builtins.list[R | O2Error | None],
        *,
        single: Single[R],
    ) -> None:
        compares = [p.compare for p in batch]
        puts: builtins.list[Op] = [p.put for p in batch]
        creates = [p for p in batch if not p.expected]
        try:
            result = await self._txn(compares, puts, [Get(p.key) for p in creates])
        except (FencedError, StoreUnavailableError):
            raise
        except O2Error as exc:  # e.g. a request too large for etcd: try the items one by one
            log.warning("Write batch rejected; writing per item", extra={"error": str(exc)})
        else:
            if result.succeeded:
                for p in batch:
                    written = codec.set_revision(p.merged, result.revision)
                    self._cache.put(p.key, written, p.raw, own=True)
                    results[p.index] = written
                return
            ours = set(self._own_creates(creates, result.gets, results))
            batch = [p for p in batch if p.index not in ours]
        for p in batch:  # someone else wrote one of them: find out which, per item
            results[p.index] = await _single_result(single, objs[p.index])

    def _own_creates(
        self,
        creates: Iterable[_Pending[R]],
        found: Sequence[KV | None],
        results: builtins.list[R | O2Error | None],
    ) -> builtins.list[int]:
        """The creates of a failed batch whose key holds exactly their bytes (with the uid
        just drawn: a retry of a txn that had applied), settled as written; their indexes."""
        ours = []
        for p, kv in zip(creates, found, strict=False):
            if kv is not None and kv.value == p.raw:
                written = codec.set_revision(p.merged, kv.mod_revision)
                self._cache.put(p.key, written, p.raw, own=True)
                results[p.index] = written
                ours.append(p.index)
        return ours


async def _single_result(single: Single[R], obj: R) -> R | O2Error:
    try:
        return await single(obj)
    except (FencedError, StoreUnavailableError):
        raise
    except O2Error as exc:
        return exc


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
