"""The key-value backend seam under the resource store: etcd's data model in plain types. Pure.

Both backends (store.etcd over aetcd, store.memory in-process) implement `KVBackend`; the typed
resource logic in store.resources runs unchanged on either, so the fake cannot drift.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class KV:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int
    version: int = 1
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Compare:
    """`target(key) == value`: mod/create revision, or the value bytes."""

    key: str
    target: Literal["mod", "create", "value"]
    value: int | bytes


@dataclass(frozen=True, slots=True)
class Put:
    """`keep_lease`: keep the key's current lease (etcd's ignore_lease; the key must exist)."""

    key: str
    value: bytes
    lease: int = 0
    keep_lease: bool = False


@dataclass(frozen=True, slots=True)
class Delete:
    key: str


@dataclass(frozen=True, slots=True)
class Get:
    key: str


Op = Put | Delete | Get


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    revision: int
    """The store revision after the txn (the put's mod_revision when it wrote)."""
    gets: list[KV | None] = field(default_factory=list)
    """One entry per Get op of the branch that ran, in order."""


@dataclass(frozen=True, slots=True)
class KVEvent:
    type: Literal["PUT", "DELETE", "PROGRESS"]
    kv: KV
    """For DELETE: key with mod_revision = the deletion revision, empty value. For PROGRESS
    (the watch is alive and has delivered every change up to `revision`): the watched key."""
    prev: KV | None
    """DELETE: the value deleted (None when unknown, e.g. compacted). None for PUT and PROGRESS:
    nothing reads a PUT's previous value, and copying it doubled what every watched write
    cost."""
    revision: int


def progress_event(key: str, revision: int) -> KVEvent:
    """A PROGRESS event: every change up to `revision` has been delivered."""
    return KVEvent(
        "PROGRESS", KV(key=key, value=b"", mod_revision=revision, create_revision=0), None, revision
    )


class KVBackend(Protocol):
    endpoints_label: str
    progress_interval: float | None

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult: ...

    async def get(self, key: str) -> tuple[KV | None, int]: ...

    async def range(self, prefix: str) -> tuple[list[KV], int]:
        """Every key starting with `prefix`, sorted by key, and the read revision."""
        ...

    def watch(self, key: str, *, start_revision: int, prefix: bool) -> AsyncIterator[KVEvent]:
        """Events from `start_revision` (inclusive), resuming across broken streams;
        raises CompactedError when that revision is gone. An idle watch also yields PROGRESS
        events (about every `progress_interval` seconds, when the backend has one)."""
        ...

    def watch_stream_idle(self) -> float | None:
        """Seconds the watches' shared stream has been silent as a whole; None when no shared
        stream carries watches (see store.api.Store.watch_stream_idle)."""
        ...

    def watch_stream_behind(self, revision: int, *, within: float) -> bool:
        """A shared watch stream still delivers a backlog older than `revision` (see
        store.api.Store.watch_stream_behind)."""
        ...

    async def grant_lease(self, ttl: int) -> int: ...

    async def refresh_lease(self, lease_id: int) -> int: ...

    async def revoke_lease(self, lease_id: int) -> None: ...

    async def compact(self, revision: int) -> None: ...

    async def close(self) -> None: ...
