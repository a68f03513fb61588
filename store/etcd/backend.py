"""The etcd KV backend and EtcdStore: failover across endpoints, and retries with backoff and
jitter on transient errors only (never on a lost compare-and-swap). aetcd stays in store.etcd.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aetcd.exceptions
import grpc
from aetcd import rpc
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from crds.errors import CompactedError, NotFoundError, O2Error, StoreUnavailableError
from store.api import DEFAULT_PREFIX
from store.etcd.aetcd_internals import Client, Progress
from store.etcd.connection import Connection, close_quietly, credentials
from store.etcd.convert import (
    build_txn,
    deleted_without_prev,
    fill_prev,
    permanent,
    prefix_end,
    prev_requests,
    to_kv,
)
from store.etcd.watches import WatchRegistry
from store.kv import KV, Compare, KVEvent, Op, TxnResult, progress_event
from store.resources import ResourceStore

log = logging.getLogger(__name__)

T = TypeVar("T")

_TRANSIENT_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.UNAUTHENTICATED,  # expired auth token: reconnect re-authenticates
}
_CHANNEL_OPTIONS = {
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.keepalive_time_ms": 30_000,
}
_RANGE_PAGE = 2000


class _Transient(Exception):
    """A failure worth retrying on the next endpoint (connection, timeout, stale token)."""


class EtcdKV:
    """KVBackend on etcd through aetcd; failover across endpoints, retries on transient errors."""

    def __init__(self, conn: Connection) -> None:
        if not conn.endpoints:
            raise O2Error("no etcd endpoints configured (--etcd / O2_ETCD)")
        self.conn = conn
        self.endpoints_label = ",".join(conn.endpoints)
        self._index = 0
        self._client: Client | None = None
        self._generation = 0
        self._closing: set[asyncio.Task[None]] = set()
        self._users: dict[int, int] = {}
        """In-flight calls and open watches per client (by id): a client is closed only idle,
        because closing a grpc channel cancels its calls with a bare CancelledError."""
        self._retired: dict[int, Client] = {}
        self._watches = WatchRegistry(timeout=conn.timeout)
        self.progress_interval: float | None = conn.progress_interval

    # ----- connection and retries ---------------------------------------------------

    def _make_client(self) -> Client:
        url = urlsplit(self.conn.endpoints[self._index % len(self.conn.endpoints)])
        return Client(
            url.hostname or "127.0.0.1",
            url.port or 2379,
            credentials=credentials(self.conn, url.scheme),
            username=self.conn.username,
            password=self.conn.password,
            timeout=self.conn.timeout,
            options=dict(_CHANNEL_OPTIONS),
            connect_wait_timeout=int(self.conn.timeout),
        )

    def _current(self) -> tuple[Client, int]:
        """The client in use (created on first need) and its generation; not yet connected."""
        if self._client is None:
            self._client = self._make_client()
        return self._client, self._generation

    async def _rotate(self, generation: int, error: BaseException) -> None:
        """Drop the client that failed (once, however many calls saw it fail) and move on."""
        if generation != self._generation:
            return
        self._generation += 1
        old, self._client = self._client, None
        self._index += 1
        log.warning(
            "etcd call failed; reconnecting",
            extra={"endpoints": self.endpoints_label, "error": str(error)},
        )
        if old is not None:
            self._retired[id(old)] = old
            self._close_if_idle(old)

    def _use(self, client: Client) -> None:
        self._users[id(client)] = self._users.get(id(client), 0) + 1

    def _release(self, client: Client) -> None:
        left = self._users.get(id(client), 1) - 1
        if left > 0:
            self._users[id(client)] = left
            return
        self._users.pop(id(client), None)
        self._close_if_idle(client)

    def _close_if_idle(self, client: Client) -> None:
        if id(client) in self._users or self._retired.pop(id(client), None) is None:
            return
        closing = asyncio.get_running_loop().create_task(close_quietly(client))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _call(self, fn: Callable[[Client], Awaitable[T]]) -> T:
        try:  # fast path: no retry machinery unless the first attempt hit a transient error
            return await self._attempt(fn)
        except _Transient:
            pass
        retrying = AsyncRetrying(
            stop=stop_after_delay(self.conn.retry_timeout),
            wait=wait_exponential(multiplier=0.05, max=1.0) + wait_random(0, 0.1),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(fn)
        except _Transient as exc:
            raise StoreUnavailableError(
                f"etcd unreachable at {self.endpoints_label}: {exc.__cause__ or exc}; "
                "check --etcd / O2_ETCD and that etcd is running"
            ) from exc
        raise AssertionError("unreachable")

    async def _attempt(self, fn: Callable[[Client], Awaitable[T]]) -> T:
        client, generation = self._current()
        self._use(client)  # before any await: a rotation must not close it under us
        try:
            await client.connect()
            return await fn(client)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _TRANSIENT_CODES:
                await self._rotate(generation, exc)
                raise _Transient(exc.details()) from exc
            raise permanent(exc, user=self.conn.username) from exc
        except (
            aetcd.exceptions.ConnectionFailedError,
            aetcd.exceptions.ConnectionTimeoutError,
            aetcd.exceptions.UnauthenticatedError,
            TimeoutError,
        ) as exc:
            await self._rotate(generation, exc)
            raise _Transient(str(exc)) from exc
        except aetcd.exceptions.ClientError as exc:
            raise O2Error(f"etcd error: {exc}") from exc
        finally:
            self._release(client)

    def watches_open(self) -> int:
        """Watches on the current client's stream plus registrations and cancels in flight."""
        watcher = self._client.watcher() if self._client is not None else None
        registered = watcher.watch_count() if watcher is not None else 0
        return registered + self._watches.in_flight

    def watch_stream_idle(self) -> float | None:
        """Seconds since the quietest watch stream that carries watches last delivered
        anything (None: no watch open). Every watch of a client shares one stream, and under
        load its answers queue behind the busy watches' events: a quiet watch on a stream that
        delivers has not stalled."""
        clients = [self._client, *self._retired.values()]
        idle = [
            watcher.idle()
            for client in clients
            if client is not None
            and (watcher := client.watcher()) is not None
            and watcher.watch_count()
        ]
        return max(idle, default=None)

    def watch_stream_behind(self, revision: int, *, within: float) -> bool:
        """A watch stream delivered events in the last `within` s, all older than `revision`
        (aetcd_internals.Watcher.behind): a watch on it that shows nothing of a write at
        `revision` yet waits behind that backlog, it is not deaf."""
        clients = [self._client, *self._retired.values()]
        return any(
            watcher.behind(revision, within=within)
            for client in clients
            if client is not None
            and (watcher := client.watcher()) is not None
            and watcher.watch_count()
        )

    async def close(self) -> None:
        client, self._client = self._client, None
        self._generation += 1
        retired, self._retired = list(self._retired.values()), {}
        for old in [client, *retired]:
            if old is not None:
                await close_quietly(old)
        await self._watches.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # ----- KV -----------------------------------------------------------------------

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        request = build_txn(compares, success, failure)

        async def run(client: Client) -> Any:
            return await client.kvstub.Txn(
                request, timeout=self.conn.timeout, metadata=client.metadata
            )

        response = await self._call(run)
        gets: list[KV | None] = []
        for item in response.responses:
            if item.WhichOneof("response") == "response_range":
                kvs = item.response_range.kvs
                gets.append(to_kv(kvs[0]) if kvs else None)
        return TxnResult(succeeded=response.succeeded, revision=response.header.revision, gets=gets)

    async def _range(self, request: Any) -> Any:
        async def run(client: Client) -> Any:
            return await client.kvstub.Range(
                request, timeout=self.conn.timeout, metadata=client.metadata
            )

        return await self._call(run)

    async def get(self, key: str) -> tuple[KV | None, int]:
        response = await self._range(rpc.RangeRequest(key=key.encode()))
        kv = to_kv(response.kvs[0]) if response.kvs else None
        return kv, response.header.revision

    async def range(self, prefix: str) -> tuple[list[KV], int]:
        """Paged prefix read, every page at the first page's revision (one consistent view)."""
        start, end = prefix.encode(), prefix_end(prefix.encode())
        out: list[KV] = []
        revision = 0
        while True:
            request = rpc.RangeRequest(
                key=start, range_end=end, limit=_RANGE_PAGE, revision=revision
            )
            response = await self._range(request)
            revision = revision or response.header.revision
            out.extend(to_kv(kv) for kv in response.kvs)
            if not response.more or not response.kvs:
                return out, revision
            start = response.kvs[-1].key + b"\x00"

    # ----- watch --------------------------------------------------------------------

    async def watch(self, key: str, *, start_revision: int, prefix: bool) -> AsyncIterator[KVEvent]:
        """Resumes from the last seen revision when the stream breaks (e.g. etcd restart)."""
        next_rev = start_revision if start_revision > 0 else (await self.get(key))[1] + 1
        key_b = key.encode()
        range_end = prefix_end(key_b) if prefix else None
        loop = asyncio.get_running_loop()
        broken_since: float | None = None
        while True:
            client, generation = self._current()
            self._use(client)
            try:
                await client.connect()
                async with contextlib.aclosing(
                    self._stream(client, key_b, range_end, next_rev)
                ) as stream:
                    async for item in stream:
                        broken_since = None
                        if isinstance(item, Progress):  # None: alive, nothing new known
                            next_rev = max(next_rev, (item.revision or 0) + 1)
                            yield progress_event(key, next_rev - 1)
                            continue
                        next_rev = item.revision + 1
                        yield item
            except (aetcd.exceptions.ClientError, grpc.aio.AioRpcError, TimeoutError) as exc:
                broken_since = broken_since or loop.time()
                log.info("etcd watch broke; resuming", extra={"revision": next_rev})
                await self._watch_backoff(exc, broken_since, generation=generation)
            finally:
                self._release(client)

    async def _stream(
        self, client: Client, key: bytes, range_end: bytes | None, start: int
    ) -> AsyncGenerator[KVEvent | Progress, None]:
        """One watch stream on one client; errors end it (the caller resumes elsewhere).
        Asks etcd for progress every `progress_interval`, so a silent watch still shows life.
        Opening and cancelling go through store.etcd.watches (safe against cancellation)."""
        self._use(client)  # released when the registration ends, even if we are cancelled
        try:
            watch = await self._watches.open(
                client,
                key=key,
                range_end=range_end,
                start=start,
                on_done=lambda: self._release(client),
            )
        except aetcd.exceptions.RevisionCompactedError as exc:
            raise CompactedError(start, exc.compacted_revision) from exc
        asking = asyncio.get_running_loop().create_task(self._ask_progress(client))
        try:
            async with contextlib.aclosing(watch.batches()) as batches:
                async for batch in batches:
                    if isinstance(batch, Progress):
                        yield batch
                        continue
                    if deleted := deleted_without_prev(batch):
                        await self._read_deleted(deleted)
                    for kv_event in batch:
                        start = kv_event.revision + 1
                        yield kv_event
        except aetcd.exceptions.RevisionCompactedError as exc:
            raise CompactedError(start, exc.compacted_revision) from exc
        finally:
            asking.cancel()
            await asyncio.gather(asking, return_exceptions=True)
            self._watches.cancel(client, watch)

    async def _read_deleted(self, deleted: list[KVEvent]) -> None:
        """The values `deleted` removed, read from history (convert.prev_requests: the watch
        does not ask for them); a compacted history leaves them None, as etcd would."""
        responses = []
        for request in prev_requests(deleted):

            async def run(client: Client, request: Any = request) -> Any:
                return await client.kvstub.Txn(
                    request, timeout=self.conn.timeout, metadata=client.metadata
                )

            try:
                responses.append(await self._call(run))
            except CompactedError:
                return
        fill_prev(deleted, responses)

    async def _ask_progress(self, client: Client) -> None:
        if not self.progress_interval:
            return
        while True:
            await asyncio.sleep(self.progress_interval)
            client.request_progress(min_gap=self.progress_interval / 2)

    async def _watch_backoff(
        self, exc: BaseException, broken_since: float, *, generation: int
    ) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - broken_since > self.conn.retry_timeout:
            raise StoreUnavailableError(
                f"etcd watch could not resume at {self.endpoints_label}: {exc}"
            ) from exc
        if len(self.conn.endpoints) > 1:
            await self._rotate(generation, exc)
        await asyncio.sleep(0.1)

    # ----- leases and maintenance ---------------------------------------------------

    async def grant_lease(self, ttl: int) -> int:
        async def run(client: Client) -> Any:
            return await client.leasestub.LeaseGrant(
                rpc.LeaseGrantRequest(TTL=ttl, ID=0),
                timeout=self.conn.timeout,
                metadata=client.metadata,
            )

        return int((await self._call(run)).ID)

    async def refresh_lease(self, lease_id: int) -> int:
        async def run(client: Client) -> Any:
            return await client.refresh_lease(lease_id)

        reply = await self._call(run)
        if reply is None or reply.TTL <= 0:
            raise NotFoundError("lease", str(lease_id))
        return int(reply.TTL)

    async def revoke_lease(self, lease_id: int) -> None:
        async def run(client: Client) -> Any:
            return await client.leasestub.LeaseRevoke(
                rpc.LeaseRevokeRequest(ID=lease_id),
                timeout=self.conn.timeout,
                metadata=client.metadata,
            )

        try:
            await self._call(run)
        except NotFoundError:
            return

    async def server_version(self) -> str:
        """The version of the etcd member that answers (its Status RPC)."""

        async def run(client: Client) -> Any:
            return await client.maintenancestub.Status(
                rpc.StatusRequest(), timeout=self.conn.timeout, metadata=client.metadata
            )

        reply = await self._call(run)
        return str(reply.version)

    async def compact(self, revision: int) -> None:
        async def run(client: Client) -> Any:
            return await client.kvstub.Compact(
                rpc.CompactionRequest(revision=revision, physical=True),
                timeout=self.conn.timeout,
                metadata=client.metadata,
            )

        try:
            await self._call(run)
        except CompactedError:
            return


class EtcdStore(ResourceStore):
    """Store + RuntimeKV on etcd. Build it with store.config.open_store(config)."""

    def __init__(self, conn: Connection, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.kv = EtcdKV(conn)
        super().__init__(self.kv, prefix=prefix)

    async def server_version(self) -> str:
        """The etcd server's version, e.g. `3.5.17` (for `o2 version`)."""
        return await self.kv.server_version()

    async def ping(self) -> int:
        """One read, to fail fast when etcd is unreachable; returns the current revision."""
        return (await self.kv.get(self.prefix + "/"))[1]
