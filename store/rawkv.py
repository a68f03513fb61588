"""Raw keys with leader fencing (store.api.RuntimeKV) over any KVBackend. No client imports.

The base of ResourceStore: every write goes through `_txn`, which adds the fence compare.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping

from crds.errors import ConflictError, FencedError, UnreadableObjectError
from crds.resource import Resource
from store import codec
from store.api import DEFAULT_PREFIX, Fence, RawValue
from store.kv import KV, Compare, Delete, Get, KVBackend, Op, Put, TxnResult

CACHE_SIZE = 20_000
"""Entries kept of keys no watch of this store follows (e.g. Events); the keys of a watched kind
are all kept (`ObjectCache.hold`): at 20,000 for every key, a 50,000-task manager missed on most
writes and watch events, each miss a read and a whole decode (17% of the manager's CPU in
CONFIGURE at 50,000 tasks, 0 at 10,000)."""
INCREMENT_ATTEMPTS = 1_000


class ObjectCache:
    """Last object per key with a hash of the bytes stored for it, so a CAS update needs no
    read when the caller's resourceVersion is the one we saw (a key at a mod_revision has
    exactly one value).

    Entries are checked against that hash on every hit: models are frozen but their dicts are
    not, and an instance mutated in place must never pass for what etcd holds (such an entry
    is dropped: the caller reads etcd); a status write checks the bytes it writes instead
    (`holds_head`). A hash, not the bytes, of what the store read: 10,000 cached Tasks would
    keep another 15 MB of JSON alive for nothing. What it wrote it keeps (`own_bytes`): a
    status write then encodes its status alone (codec.spliced), about 1.3 KB a Task.

    Each entry keeps its bytes' hashes in parts: before the status (`codec.status_split`), the
    status on, and the spec (`codec.spec_split`). A watched value of the same key that differs
    only in its status (a status write the watch delivers after our next write to that key
    already replaced the entry) is then decoded from its status alone (`base_for`); a write
    checks the parts of its own bytes that it took from its base (`holds_head`,
    `holds_update`) instead of encoding the base again.

    At most `size` entries are kept, least recently written first out; except the keys under a
    prefix a watch of this store follows (`hold`): the watch's informer keeps every one of those
    objects anyway (an entry costs its key and two hashes), and its echo of each write needs the
    entry. Bounded, a write of 50,000 Tasks in a row left none of them cached when their echoes
    came, and every echo and the base of every next write was decoded again (a fifth of the
    manager's CPU at 50,000 tasks, none at 10,000).
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: dict[str, _Entry] = {}
        """(object, hash of its bytes from the status on (all of them when it has no status
        object), hash before the status (0: none), hash of the spec (0: none), the bytes
        themselves when this store wrote them (`own_bytes`), else None)."""
        self._lru: OrderedDict[str, None] = OrderedDict()
        """The keys not held, oldest write first: those evicted beyond `size`."""
        self._holds: dict[str, int] = {}
        self._held: tuple[str, ...] = ()

    def get(self, key: str, revision: int | None, *, verify: bool = True) -> Resource | None:
        """The cached object at `revision`; `verify=False` skips the check (only for reads
        that hand the object on, never for the base of a write)."""
        entry = self._items.get(key)
        if entry is None or revision is None or entry[0].metadata.resource_version != revision:
            return None
        obj = entry[0]
        if verify and not _holds(entry, codec.encode(obj)):
            del self._items[key]
            return None
        return obj

    def holds_head(self, key: str, obj: Resource, raw: bytes) -> bool:
        """`obj` is the cached object of `key` and `raw` equals its stored bytes up to the
        status (`raw`: a status write's bytes built on `obj`, which keep its metadata and spec:
        a dict of either mutated in place since shows in them). False drops the entry."""
        entry = self._items.get(key)
        if entry is None or entry[0] is not obj:
            return False
        split = codec.status_split(raw)
        if entry[2] and split > 0 and hash(raw[:split]) == entry[2]:
            return True
        del self._items[key]
        return False

    def holds_update(self, key: str, obj: Resource, raw: bytes, *, spec_changed: bool) -> bool:
        """`obj` is the cached object of `key` as etcd holds it, for an update's bytes `raw`
        built on it (the caller's labels, annotations, finalizers, owners and spec; `obj`'s
        status and store-owned metadata). With `spec_changed` (the merge found the caller's
        spec unlike `obj`'s, and bumped the generation), `raw`'s status must hash as the stored
        one and its spec unlike it: a status or spec of `obj` changed in place since shows, as
        it would in `obj`'s own bytes. Otherwise, or when `raw` is laid out otherwise, `obj` is
        checked whole (`get`: encoded again). Unchecked, as the merge only copies them: the
        metadata's scalars (uid, generation, timestamps), which a frozen model cannot change;
        only the dicts it holds can be. False drops the entry."""
        entry = self._items.get(key)
        if entry is None or entry[0] is not obj:
            return False
        split = codec.status_split(raw) if spec_changed and entry[3] else -1
        if split > 0 and hash(raw[split:]) == entry[1]:
            at = codec.spec_split(raw, split)
            if at > 0 and hash(raw[at:split]) != entry[3]:
                return True
        return self.get(key, obj.metadata.resource_version) is obj

    def base_for(self, key: str, raw: bytes) -> tuple[Resource, int] | None:
        """The cached object of `key` whose stored bytes equal `raw` up to the status and end
        with its own status (re-encoded: nothing after it), and where `raw`'s status starts;
        None when there is none. Its metadata and spec go unchecked, as with `get(...,
        verify=False)`: only for reads that hand the object on."""
        entry = self._items.get(key)
        if entry is None or not entry[2]:
            return None
        split = codec.status_split(raw)
        if split < 0 or hash(raw[:split]) != entry[2]:
            return None
        obj = entry[0]
        if hash(codec.status_tail(obj)) != entry[1]:
            return None  # its bytes had more after the status: those could change the rest
        return obj, split

    def own_bytes(self, key: str, obj: Resource) -> bytes | None:
        """The bytes this store encoded and wrote for `obj`, the cached object of `key` (None:
        not cached, or read): a status write keeps them up to the status (codec.spliced)."""
        entry = self._items.get(key)
        return entry[4] if entry is not None and entry[0] is obj else None

    def put(
        self, key: str, obj: Resource, raw: bytes, *, read: bool = False, own: bool = False
    ) -> None:
        """Cache `obj` as stored in `raw`. A `read` (a decoded watch event or read) does not
        replace a newer entry: a watch delivers our own writes late, and the newest is the one
        the next write's CAS and the next event can use. `own`: `raw` is `obj` as this store
        encoded it for a write (kept: `own_bytes`)."""
        held = self._items.get(key)
        if read and held is not None and _newer(held[0], obj):
            return
        self._items[key] = _hashes(obj, raw, held, raw if own else None)
        if key.startswith(self._held):
            return
        self._lru[key] = None
        self._lru.move_to_end(key)
        for _ in range(2):  # two: a released prefix's entries run out with later writes
            if len(self._lru) <= self._size:
                break
            del self._items[self._lru.popitem(last=False)[0]]

    def drop(self, key: str) -> None:
        self._items.pop(key, None)
        self._lru.pop(key, None)

    def hold(self, prefix: str) -> None:
        """Keep every entry under `prefix` (a watch of it opened) until `release`."""
        self._holds[prefix] = self._holds.get(prefix, 0) + 1
        if self._holds[prefix] == 1:
            self._held = tuple(self._holds)
            for key in [key for key in self._lru if key.startswith(prefix)]:
                del self._lru[key]

    def release(self, prefix: str) -> None:
        """One watch of `prefix` ended: with none left, its entries are evicted like any (the
        oldest first, as later writes come: a watch restarted at once loses nothing)."""
        count = self._holds.get(prefix, 0) - 1
        if count > 0:
            self._holds[prefix] = count
            return
        self._holds.pop(prefix, None)
        self._held = tuple(self._holds)
        if keys := [
            k for k in self._items if k.startswith(prefix) and not k.startswith(self._held)
        ]:
            newer, self._lru = self._lru, OrderedDict.fromkeys(keys)
            self._lru.update(newer)

    def __len__(self) -> int:
        return len(self._items)


_Entry = tuple[Resource, int, int, int, bytes | None]


def _hashes(obj: Resource, raw: bytes, held: _Entry | None, own: bytes | None) -> _Entry:
    """The cache entry of `obj` stored as `raw` (`ObjectCache._items`); the spec's hash is
    `held`'s when the bytes before the status are (a status write's: no search for the spec)."""
    split = codec.status_split(raw)
    if split <= 0:
        return obj, hash(raw), 0, 0, own
    head = hash(raw[:split])
    if held is not None and held[2] == head:
        return obj, hash(raw[split:]), head, held[3], own
    at = codec.spec_split(raw, split)
    return obj, hash(raw[split:]), head, hash(raw[at:split]) if at > 0 else 0, own


def _holds(entry: _Entry, raw: bytes) -> bool:
    """`raw` hashes as the bytes of `entry` did."""
    if not entry[2]:
        return hash(raw) == entry[1]
    split = codec.status_split(raw)
    return split > 0 and hash(raw[:split]) == entry[2] and hash(raw[split:]) == entry[1]


def _newer(held: Resource, obj: Resource) -> bool:
    mine, theirs = held.metadata.resource_version, obj.metadata.resource_version
    return mine is not None and theirs is not None and mine > theirs


def raw_value(kv: KV) -> RawValue:
    return RawValue(
        value=kv.value,
        mod_revision=kv.mod_revision,
        create_revision=kv.create_revision,
        lease=kv.lease,
    )


class FencedKV:
    """RuntimeKV on a backend; with a Fence, every write also requires the leader key."""

    def __init__(
        self,
        backend: KVBackend,
        *,
        prefix: str = DEFAULT_PREFIX,
        fence: Fence | None = None,
        cache: ObjectCache | None = None,
        owner: bool = True,
    ) -> None:
        self.backend = backend
        self.prefix = prefix.rstrip("/")
        self.fence = fence
        self._cache = cache if cache is not None else ObjectCache()
        self._owner = owner

    def runtime_key(self, name: str) -> str:
        return codec.runtime_key(self.prefix, name)

    def lease_key(self, name: str) -> str:
        return codec.lease_key(self.prefix, name)

    async def _txn(
        self, compares: list[Compare], success: list[Op], failure: list[Op] | None = None
    ) -> TxnResult:
        """A txn that also carries the fence; raises FencedError when the fence failed."""
        failure = list(failure or [])
        if self.fence is not None:
            compares = [*compares, Compare(self.fence.key, "create", self.fence.create_revision)]
            failure.append(Get(self.fence.key))
        result = await self.backend.txn(compares, success, failure)
        if not result.succeeded and self.fence is not None:
            held = result.gets[-1]
            if held is None or held.create_revision != self.fence.create_revision:
                raise FencedError(self.fence.key)
        return result

    async def get_raw(self, key: str) -> RawValue | None:
        kv, _ = await self.backend.get(key)
        return raw_value(kv) if kv is not None else None

    async def list_raw(self, prefix: str) -> dict[str, bytes]:
        kvs, _ = await self.backend.range(prefix)
        return {kv.key: kv.value for kv in kvs}

    async def put_raw(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        self._cache.drop(key)
        return (await self._txn([], [Put(key, value, lease or 0)])).revision

    async def create_raw(self, key: str, value: bytes, *, lease: int | None = None) -> int | None:
        result = await self._txn([Compare(key, "create", 0)], [Put(key, value, lease or 0)])
        return result.revision if result.succeeded else None

    async def cas_raw(self, key: str, value: bytes, *, expected_mod_revision: int) -> bool:
        self._cache.drop(key)
        result = await self._txn([Compare(key, "mod", expected_mod_revision)], [Put(key, value)])
        return result.succeeded

    async def delete_raw(self, key: str) -> None:
        self._cache.drop(key)
        await self._txn([], [Delete(key)])

    async def increment(self, key: str) -> int:
        """Advance the integer at `key` by one with a CAS loop; never hands out a value twice."""
        for _ in range(INCREMENT_ATTEMPTS):
            kv, _ = await self.backend.get(key)
            current = _counter_value(key, kv)
            result = await self._txn([_unchanged(key, kv)], [Put(key, str(current + 1).encode())])
            if result.succeeded:
                return current + 1
        raise ConflictError("counter", key)

    async def allocate(self, counter: str, *, record: str, claim: str) -> int:
        """The number recorded at `record` for `claim`; else the counter's next value, which
        one txn writes to the counter and, with `claim`, to `record` (see `allocate_with`)."""
        number, _ = await self.allocate_with(counter, record=record, claim=claim, data={})
        return number

    async def allocate_with(
        self, counter: str, *, record: str, claim: str, data: Mapping[str, str]
    ) -> tuple[int, dict[str, str]]:
        """The number and data recorded at `record` for `claim`; else the counter's next value,
        which one txn writes to the counter and, with `claim` and `data`, to `record` (compares
        on both keys and the fence). A retry of the same claim (after a lost status write, a
        crash, a failover, or a txn that timed out after it applied) gets the same number and
        the first call's data back; a new claim moves the counter on. A `record` someone else
        filled with garbage is overwritten."""
        for _ in range(INCREMENT_ATTEMPTS):
            read = await self.backend.txn([], [Get(record), Get(counter)])
            held, kv = read.gets
            found = _claimed(held, claim)
            if found is not None:
                return found
            number = _counter_value(counter, kv) + 1
            body: dict[str, object] = {"claim": claim, "number": number}
            if data:
                body["data"] = dict(data)
            guards = [_unchanged(counter, kv), _unchanged(record, held)]
            ops: list[Op] = [
                Put(counter, str(number).encode()),
                Put(record, json.dumps(body).encode()),
            ]
            if (await self._txn(guards, ops)).succeeded:
                return number, dict(data)
        raise ConflictError("counter", counter)

    async def grant_lease(self, ttl: int) -> int:
        return await self.backend.grant_lease(ttl)

    async def refresh_lease(self, lease_id: int) -> int:
        return await self.backend.refresh_lease(lease_id)

    async def revoke_lease(self, lease_id: int) -> None:
        await self.backend.revoke_lease(lease_id)

    async def watch_raw(
        self, key: str, *, start_revision: int, prefix: bool = False
    ) -> AsyncIterator[tuple[str, RawValue | None, int]]:
        async for event in self.backend.watch(key, start_revision=start_revision, prefix=prefix):
            if event.type == "PROGRESS":
                continue
            value = raw_value(event.kv) if event.type == "PUT" else None
            yield event.kv.key, value, event.revision

    async def compact(self, revision: int) -> None:
        """Compact history up to `revision` (watches from older revisions get CompactedError)."""
        await self.backend.compact(revision)

    async def close(self) -> None:
        if self._owner:
            await self.backend.close()


def _unchanged(key: str, kv: KV | None) -> Compare:
    """The compare that holds while `key` is as `kv` read it (absent when None)."""
    return Compare(key, "mod", kv.mod_revision) if kv else Compare(key, "create", 0)


def _claimed(kv: KV | None, claim: str) -> tuple[int, dict[str, str]] | None:
    """The number and data an allocation record holds for `claim` (None: absent, another claim,
    or not a record at all; data {} when the record has none or it is not a string map)."""
    if kv is None:
        return None
    try:
        held = json.loads(kv.value)
    except ValueError:
        return None
    if not isinstance(held, dict) or held.get("claim") != claim:
        return None
    number = held.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    data = held.get("data")
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        data = {}
    return number, {str(k): v for k, v in data.items()}


def _counter_value(key: str, kv: KV | None) -> int:
    if kv is None or not kv.value.strip():
        return 0
    try:
        return int(kv.value)
    except ValueError as exc:
        raise UnreadableObjectError(key, f"counter is not an integer: {kv.value[:40]!r}") from exc
