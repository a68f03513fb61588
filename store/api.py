"""The store contract every implementation honours (etcd and in-memory). Pure: no client imports.

Semantics (DESIGN.md §2), checked by one contract test suite against both implementations:
- keys: `<prefix>/registry/<plural>/<name>`; the value is the resource JSON without
  `metadata.resourceVersion`; resourceVersion = the key's etcd mod_revision.
- create: txn(key absent -> put); sets uid, creationTimestamp, generation=1.
- update: txn(mod_revision == metadata.resourceVersion -> put), else ConflictError. Writes spec,
  labels, annotations, finalizers, ownerReferences; keeps the stored status and the key's etcd
  lease (unless `lease=` names another). Bumps generation only when spec changed. A write that
  changes nothing is skipped (returns the stored object).
- update_status: CAS like update; writes only status (never spec, never generation).
- create_many / update_many / update_status_many: the same per object, the puts (CAS, or key
  absent for creates) batched into txns of up to 128 ops (a few txns in flight); an object
  whose compare lost gets its own single write's result. The answer is a BatchResult: what was
  written, what lost its compare (conflicts), what is gone (missing), what was refused
  otherwise (errors; a name already taken is an AlreadyExistsError there). A lost fence or an
  unreachable etcd still raise (FencedError, StoreUnavailableError): nothing of the batch is
  known then.
- delete: an object with finalizers only gets deletionTimestamp; otherwise it is removed.
  When the last finalizer is removed from an object that has deletionTimestamp, it is removed.
  Without resource_version, a delete that races with a write re-reads and tries again (a few
  times); with one, a changed object is a ConflictError.
- retries: a txn that timed out may have applied before it is retried. create is idempotent
  (if the key holds exactly our value, with the uid we just drew, it returns that object instead
  of AlreadyExistsError); update and update_status succeed when the CAS lost only because the
  key already holds exactly the bytes they write. delete of an object a retried delete already
  removed raises NotFoundError, which callers treat as done.
- list: items + the etcd revision of the read + the keys whose value could not be parsed.
- watch(start_revision): events in revision order; CompactedError when the revision is gone;
  PROGRESS events while idle, so a silent but healthy watch can be told from a stalled one.
  watch_stream_idle / watch_stream_behind describe the stream the watches share (etcd), for
  telling a stalled or deaf watch from a quiet or lagging one; the in-memory store has no
  such stream (None / False). A fenced view answers as its store.
- a Fence makes every write conditional on the leader key still being ours (FencedError).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from crds.errors import ConflictError, NotFoundError, O2Error, UnreadableObjectError
from crds.resource import Resource

R = TypeVar("R", bound=Resource)
T = TypeVar("T")

DEFAULT_PREFIX = "/o2"


@dataclass(frozen=True)
class Fence:
    """Leader fencing: a write succeeds only while `key` still has this create_revision."""

    key: str
    create_revision: int


@dataclass(frozen=True)
class ListResult(Generic[T]):
    items: list[T]
    revision: int
    unreadable: list[UnreadableObjectError] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult(Generic[R]):
    """What a batched write did with each object; every list keeps the callers' order."""

    written: list[R] = field(default_factory=list)
    """The stored objects: written, or unchanged when the write was a no-op."""
    conflicts: list[R] = field(default_factory=list)
    """The caller's objects whose resourceVersion was stale: read again, decide again."""
    missing: list[R] = field(default_factory=list)
    """The caller's objects that are gone."""
    errors: list[tuple[R, O2Error]] = field(default_factory=list)
    """The caller's objects refused for another reason (e.g. unreadable, too large)."""

    @property
    def ok(self) -> bool:
        """Every object was written (or needed no write)."""
        return not (self.conflicts or self.missing or self.errors)

    @property
    def revision(self) -> int:
        """The highest resourceVersion written (0: none): wait for a cache to reach it."""
        return max((obj.metadata.resource_version or 0 for obj in self.written), default=0)

    @classmethod
    def of(cls, objs: Sequence[R], outcomes: Sequence[R | O2Error]) -> BatchResult[R]:
        """Sort per-item outcomes (the stored object, or that item's error) by kind."""
        result: BatchResult[R] = cls()
        for obj, outcome in zip(objs, outcomes, strict=True):
            if isinstance(outcome, ConflictError):
                result.conflicts.append(obj)
            elif isinstance(outcome, NotFoundError):
                result.missing.append(obj)
            elif isinstance(outcome, O2Error):
                result.errors.append((obj, outcome))
            else:
                result.written.append(outcome)
        return result


EventType = Literal["ADDED", "MODIFIED", "DELETED", "UNREADABLE", "PROGRESS"]


@dataclass(frozen=True)
class WatchEvent(Generic[T]):
    """One change. For DELETED, `obj` is the last known value; for UNREADABLE, `error` is set.
    PROGRESS (no name, no obj) says the watch is alive and has delivered every change up to
    `revision`; an idle watch gets one about every `Store.progress_interval` seconds."""

    type: EventType
    key: str
    name: str
    revision: int
    obj: T | None = None
    error: UnreadableObjectError | None = None


@dataclass(frozen=True)
class RawValue:
    value: bytes
    mod_revision: int
    create_revision: int
    lease: int = 0


class Store(Protocol):
    """Typed resource store. `kind` arguments are the model classes (e.g. `Environment`)."""

    prefix: str

    @property
    def progress_interval(self) -> float | None:
        """Seconds between PROGRESS events of an idle watch; None when it sends none."""
        ...

    def watch_stream_idle(self) -> float | None:
        """Seconds since the store's shared watch stream last delivered anything (events or
        progress answers, for any watch on it); None when no shared stream carries watches.
        The informers' stall guard restarts a silent watch only when this is that long too: on
        a shared stream, a quiet watch's progress answers queue behind busy watches' events.
        The etcd store: its client's stream (None while no watch is open). The in-memory
        store: None, always: each of its watches reads the history itself, so a watch's own
        silence is all there is to judge."""
        ...

    def watch_stream_behind(self, revision: int, *, within: float) -> bool:
        """The shared watch stream delivered events in the last `within` s, all older than
        `revision`: a watch on it that shows nothing of a write at `revision` yet waits behind
        that backlog and is not deaf (Context.caught_up restarts every watch only when this is
        False). The etcd store: its client's stream. The in-memory store: False, always: a
        write is in the history its watches read once it returns, nothing queues in between."""
        ...

    def key_for(self, kind: type[Resource], name: str) -> str: ...

    async def create(self, obj: R, *, lease: int | None = None) -> R: ...

    async def get(self, kind: type[R], name: str) -> R: ...

    async def update(self, obj: R, *, lease: int | None = None) -> R:
        """`lease`: None keeps the object's etcd lease; an id re-attaches it (0: no lease)."""
        ...

    async def update_status(self, obj: R) -> R: ...

    async def create_many(self, objs: Sequence[R]) -> BatchResult[R]:
        """`create` for many objects (no lease) in as few etcd txns as possible; what happened
        to each, sorted (see BatchResult)."""
        ...

    async def update_many(self, objs: Sequence[R]) -> BatchResult[R]:
        """`update` for many objects (keeping their leases) in as few etcd txns as possible;
        what happened to each, sorted (see BatchResult)."""
        ...

    async def update_status_many(self, objs: Sequence[R]) -> BatchResult[R]:
        """Status writes for many objects in as few etcd txns as possible (see BatchResult)."""
        ...

    async def delete(
        self, kind: type[R], name: str, *, resource_version: int | None = None
    ) -> R | None:
        """Returns the object marked for deletion, or None when it was removed."""
        ...

    async def list(
        self, kind: type[R], *, labels: Mapping[str, str] | None = None
    ) -> ListResult[R]: ...

    def watch(self, kind: type[R], *, start_revision: int) -> AsyncIterator[WatchEvent[R]]: ...

    def with_fence(self, fence: Fence | None) -> Store:
        """A view of this store whose writes all carry the fence."""
        ...

    async def close(self) -> None: ...


class RuntimeKV(Protocol):
    """Raw keys under `<prefix>/runtime/` and `<prefix>/leases/`: counters, ids, leader leases."""

    async def get_raw(self, key: str) -> RawValue | None: ...

    async def list_raw(self, prefix: str) -> dict[str, bytes]:
        """Every key under `prefix` (a whole key prefix) with its value."""
        ...

    async def put_raw(self, key: str, value: bytes, *, lease: int | None = None) -> int: ...

    async def create_raw(self, key: str, value: bytes, *, lease: int | None = None) -> int | None:
        """Put only if absent; returns the new revision, or None when the key exists."""
        ...

    async def cas_raw(self, key: str, value: bytes, *, expected_mod_revision: int) -> bool: ...

    async def delete_raw(self, key: str) -> None: ...

    async def increment(self, key: str) -> int:
        """Atomically advance an integer counter (txn loop); returns the new value."""
        ...

    async def allocate(self, counter: str, *, record: str, claim: str) -> int:
        """Advance `counter` and record the value for `claim` at `record` in one txn; when
        `record` already holds `claim`, return its value and advance nothing (exactly once per
        claim, across retries, crashes and failover)."""
        ...

    async def allocate_with(
        self, counter: str, *, record: str, claim: str, data: Mapping[str, str]
    ) -> tuple[int, dict[str, str]]:
        """`allocate`, recording `data` with the number; a retry of the same claim gets the
        number and the data of the call that allocated it."""
        ...

    async def grant_lease(self, ttl: int) -> int: ...

    async def refresh_lease(self, lease_id: int) -> int:
        """Returns the remaining TTL; raises NotFoundError when the lease is gone."""
        ...

    async def revoke_lease(self, lease_id: int) -> None: ...

    def watch_raw(
        self, key: str, *, start_revision: int, prefix: bool = False
    ) -> AsyncIterator[tuple[str, RawValue | None, int]]:
        """(key, value or None on delete, revision) events."""
        ...
