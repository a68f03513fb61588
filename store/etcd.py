"""The etcd KV backend and EtcdStore: the only module that imports aetcd (and grpc for TLS).

Connection concerns live here: endpoints with failover, TLS, username/password, timeouts, and
retries with backoff+jitter on transient errors only (never on a lost compare-and-swap).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aetcd
import aetcd.exceptions
import aetcd.watcher
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
from store.kv import KV, Compare, Delete, KVEvent, Op, Put, TxnResult
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
_COMPARE_TARGETS = {
    "mod": rpc.Compare.MOD,
    "create": rpc.Compare.CREATE,
    "value": rpc.Compare.VALUE,
}


class _Transient(Exception):
    """A failure worth retrying on the next endpoint (connection, timeout, stale token)."""


@dataclass(frozen=True)
class Connection:
    """How to reach etcd (StoreConfig resolves flags and environment into this)."""

    endpoints: tuple[str, ...]
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    retry_timeout: float = 15.0


class _Client(aetcd.Client):  # type: ignore[misc]
    """aetcd's client with TLS: aetcd's connect() only opens insecure channels."""

    def __init__(self, host: str, port: int, *, credentials: Any, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self._credentials = credentials

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        if self._is_connecting:  # type: ignore[has-type]
            await asyncio.wait_for(self._connected.wait(), self._connect_wait_timeout)
            return
        try:
            self._is_connecting = True
            await self._open()
            self._connected.set()
        finally:
            self._is_connecting = False

    async def _open(self) -> None:
        target = f"{self._host}:{self._port}"
        options = list(self._options.items())
        if self._credentials is not None:
            self.channel = rpc.secure_channel(target, self._credentials, options=options)
        else:
            self.channel = rpc.insecure_channel(target, options=options)
        if self._username is not None and self._password is not None:
            self.auth_stub = rpc.AuthStub(self.channel)
            request = rpc.AuthenticateRequest(name=self._username, password=self._password)
            response = await self.auth_stub.Authenticate(request, timeout=self._timeout)
            self.metadata = (("token", response.token),)
        self.kvstub = rpc.KVStub(self.channel)
        self.clusterstub = rpc.ClusterStub(self.channel)
        self.leasestub = rpc.LeaseStub(self.channel)
        self.maintenancestub = rpc.MaintenanceStub(self.channel)
        self._watcher = aetcd.watcher.Watcher(
            rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata
        )


def _read_file(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _credentials(conn: Connection, scheme: str) -> Any:
    if scheme != "https" and not conn.ca_file and not conn.cert_file:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read_file(conn.ca_file),
        private_key=_read_file(conn.key_file),
        certificate_chain=_read_file(conn.cert_file),
    )


def _to_kv(kv: Any) -> KV:
    return KV(
        key=kv.key.decode(),
        value=kv.value,
        mod_revision=kv.mod_revision,
        create_revision=kv.create_revision,
        version=kv.version,
        lease=kv.lease,
    )


def _compare(compare: Compare) -> Any:
    message = rpc.Compare(
        key=compare.key.encode(),
        result=rpc.Compare.EQUAL,
        target=_COMPARE_TARGETS[compare.target],
    )
    if compare.target == "mod":
        message.mod_revision = int(compare.value)
    elif compare.target == "create":
        message.create_revision = int(compare.value)
    else:
        message.value = compare.value if isinstance(compare.value, bytes) else b""
    return message


def _request_op(op: Op) -> Any:
    if isinstance(op, Put):
        return rpc.RequestOp(
            request_put=rpc.PutRequest(key=op.key.encode(), value=op.value, lease=op.lease)
        )
    if isinstance(op, Delete):
        return rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=op.key.encode()))
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=op.key.encode()))


def _prefix_end(prefix: bytes) -> bytes:
    return aetcd.utils.prefix_range_end(prefix)  # type: ignore[no-any-return]


class EtcdKV:
    """KVBackend on etcd through aetcd; failover across endpoints, retries on transient errors."""

    def __init__(self, conn: Connection) -> None:
        if not conn.endpoints:
            raise O2Error("no etcd endpoints configured (--etcd / O2_ETCD)")
        self.conn = conn
        self.endpoints_label = ",".join(conn.endpoints)
        self._index = 0
        self._client: _Client | None = None
        self._generation = 0

    # ----- connection and retries ---------------------------------------------------

    def _make_client(self) -> _Client:
        url = urlsplit(self.conn.endpoints[self._index % len(self.conn.endpoints)])
        return _Client(
            url.hostname or "127.0.0.1",
            url.port or 2379,
            credentials=_credentials(self.conn, url.scheme),
            username=self.conn.username,
            password=self.conn.password,
            timeout=self.conn.timeout,
            options=dict(_CHANNEL_OPTIONS),
            connect_wait_timeout=int(self.conn.timeout),
        )

    async def _connected(self) -> tuple[_Client, int]:
        if self._client is None:
            self._client = self._make_client()
        client, generation = self._client, self._generation
        await client.connect()
        return client, generation

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
            asyncio.get_running_loop().create_task(_close_quietly(old))

    async def _call(self, fn: Callable[[_Client], Awaitable[T]]) -> T:
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

    async def _attempt(self, fn: Callable[[_Client], Awaitable[T]]) -> T:
        generation = self._generation
        try:
            client, generation = await self._connected()
            return await fn(client)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _TRANSIENT_CODES:
                await self._rotate(generation, exc)
                raise _Transient(exc.details()) from exc
            raise _permanent(exc) from exc
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

    async def close(self) -> None:
        client, self._client = self._client, None
        self._generation += 1
        if client is not None:
            await _close_quietly(client)

    # ----- KV -----------------------------------------------------------------------

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        request = rpc.TxnRequest(
            compare=[_compare(c) for c in compares],
            success=[_request_op(op) for op in success],
            failure=[_request_op(op) for op in failure],
        )

        async def run(client: _Client) -> Any:
            return await client.kvstub.Txn(
                request, timeout=self.conn.timeout, metadata=client.metadata
            )

        response = await self._call(run)
        gets: list[KV | None] = []
        for item in response.responses:
            if item.WhichOneof("response") == "response_range":
                kvs = item.response_range.kvs
                gets.append(_to_kv(kvs[0]) if kvs else None)
        return TxnResult(succeeded=response.succeeded, revision=response.header.revision, gets=gets)

    async def _range(self, request: Any) -> Any:
        async def run(client: _Client) -> Any:
            return await client.kvstub.Range(
                request, timeout=self.conn.timeout, metadata=client.metadata
            )

        return await self._call(run)

    async def get(self, key: str) -> tuple[KV | None, int]:
        response = await self._range(rpc.RangeRequest(key=key.encode()))
        kv = _to_kv(response.kvs[0]) if response.kvs else None
        return kv, response.header.revision

    async def range(self, prefix: str) -> tuple[list[KV], int]:
        """Paged prefix read, every page at the first page's revision (one consistent view)."""
        start, end = prefix.encode(), _prefix_end(prefix.encode())
        out: list[KV] = []
        revision = 0
        while True:
            request = rpc.RangeRequest(
                key=start, range_end=end, limit=_RANGE_PAGE, revision=revision
            )
            response = await self._range(request)
            revision = revision or response.header.revision
            out.extend(_to_kv(kv) for kv in response.kvs)
            if not response.more or not response.kvs:
                return out, revision
            start = response.kvs[-1].key + b"\x00"

    # ----- watch --------------------------------------------------------------------

    async def watch(self, key: str, *, start_revision: int, prefix: bool) -> AsyncIterator[KVEvent]:
        """Resumes from the last seen revision when the stream breaks (e.g. etcd restart)."""
        next_rev = start_revision if start_revision > 0 else (await self.get(key))[1] + 1
        key_b = key.encode()
        range_end = _prefix_end(key_b) if prefix else None
        loop = asyncio.get_running_loop()
        broken_since: float | None = None
        while True:
            try:
                client, generation = await self._connected()
                watch = await client.watch(
                    key_b, range_end=range_end, start_revision=next_rev, prev_kv=True
                )
            except aetcd.exceptions.RevisionCompactedError as exc:
                raise CompactedError(next_rev, exc.compacted_revision) from exc
            except (aetcd.exceptions.ClientError, grpc.aio.AioRpcError, TimeoutError) as exc:
                broken_since = broken_since or loop.time()
                await self._watch_backoff(exc, broken_since, generation=self._generation)
                continue
            try:
                async for event in watch:
                    broken_since = None
                    kv_event = _to_event(event)
                    next_rev = kv_event.revision + 1
                    yield kv_event
            except aetcd.exceptions.RevisionCompactedError as exc:
                raise CompactedError(next_rev, exc.compacted_revision) from exc
            except (aetcd.exceptions.ClientError, grpc.aio.AioRpcError) as exc:
                broken_since = broken_since or loop.time()
                log.info("etcd watch broke; resuming", extra={"revision": next_rev})
                await self._watch_backoff(exc, broken_since, generation=generation)
            finally:
                await _cancel_quietly(watch)

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
        async def run(client: _Client) -> Any:
            return await client.leasestub.LeaseGrant(
                rpc.LeaseGrantRequest(TTL=ttl, ID=0),
                timeout=self.conn.timeout,
                metadata=client.metadata,
            )

        return int((await self._call(run)).ID)

    async def refresh_lease(self, lease_id: int) -> int:
        async def run(client: _Client) -> Any:
            return await client.refresh_lease(lease_id)

        reply = await self._call(run)
        if reply is None or reply.TTL <= 0:
            raise NotFoundError("lease", str(lease_id))
        return int(reply.TTL)

    async def revoke_lease(self, lease_id: int) -> None:
        async def run(client: _Client) -> Any:
            return await client.leasestub.LeaseRevoke(
                rpc.LeaseRevokeRequest(ID=lease_id),
                timeout=self.conn.timeout,
                metadata=client.metadata,
            )

        try:
            await self._call(run)
        except NotFoundError:
            return

    async def compact(self, revision: int) -> None:
        async def run(client: _Client) -> Any:
            return await client.kvstub.Compact(
                rpc.CompactionRequest(revision=revision, physical=True),
                timeout=self.conn.timeout,
                metadata=client.metadata,
            )

        try:
            await self._call(run)
        except CompactedError:
            return


def _permanent(exc: grpc.aio.AioRpcError) -> O2Error:
    details = exc.details() or ""
    if exc.code() == grpc.StatusCode.NOT_FOUND and "lease" in details:
        return NotFoundError("lease", details)
    if exc.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
        return CompactedError(0)
    if exc.code() == grpc.StatusCode.PERMISSION_DENIED or any(
        text in details for text in ("authentication failed", "user name is empty", "auth token")
    ):
        return StoreUnavailableError(
            f"etcd refused the request ({details}): check --etcd-user/--etcd-password "
            "(O2_ETCD_USER/O2_ETCD_PASSWORD) and the user's role"
        )
    return O2Error(f"etcd error {exc.code().name}: {details}")


def _to_event(event: Any) -> KVEvent:
    kv = _to_kv(event.kv)
    prev = _to_kv(event.prev_kv) if event.prev_kv is not None else None
    if event.kind == "DELETE":
        return KVEvent("DELETE", kv, prev, kv.mod_revision)
    return KVEvent("PUT", kv, prev, kv.mod_revision)


async def _close_quietly(client: _Client) -> None:
    try:
        await client.close()
    except Exception as exc:  # closing a broken channel may fail; nothing to recover
        log.debug("closing etcd client failed", extra={"error": str(exc)})


async def _cancel_quietly(watch: Any) -> None:
    try:
        await watch.cancel()
    except Exception as exc:
        log.debug("cancelling etcd watch failed", extra={"error": str(exc)})


class EtcdStore(ResourceStore):
    """Store + RuntimeKV on etcd. Build it with store.config.open_store(config)."""

    def __init__(self, conn: Connection, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.kv = EtcdKV(conn)
        super().__init__(self.kv, prefix=prefix)

    async def ping(self) -> int:
        """One read, to fail fast when etcd is unreachable; returns the current revision."""
        return (await self.kv.get(self.prefix + "/"))[1]
