"""How o2 reaches etcd: endpoints, TLS, auth and timeouts, and the aetcd client with TLS.

aetcd's connect() only opens insecure channels; `Client` adds grpc's secure channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import aetcd
import aetcd.exceptions
import aetcd.watcher
import grpc
from aetcd import rpc

log = logging.getLogger(__name__)


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
    progress_interval: float = 5.0
    """How often an idle watch asks etcd for a progress notification (a sign of life)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """A watch response without events. `revision` is set only for a notification sent to this
    watch alone (etcd sends those only once the watch has caught up, so every change up to it
    was delivered); None for an answer to a progress request, which proves only liveness."""

    revision: int | None


class Watcher(aetcd.watcher.Watcher):  # type: ignore[misc]
    """aetcd's watcher, also delivering progress notifications (aetcd drops them), with a
    cancel that does not wait on aetcd's lock (see `cancel_nowait`), client-chosen watch ids
    (see `_handle_created`) and the time of the stream's last response (see `idle`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ids = itertools.count(1)  # 0 would mean "etcd assigns"
        self._creating: int | None = None
        """The id of the last create request sent: the one `_new_callback` waits for."""
        self._last_response = asyncio.get_running_loop().time()
        self._late_cancels: set[asyncio.Task[None]] = set()

    def idle(self) -> float:
        """Seconds (of the event loop's clock) since this stream last delivered anything (an
        event, a progress answer, a created or cancelled answer) to any of its watches."""
        return asyncio.get_running_loop().time() - self._last_response

    def _build_watch_create_request(self, *args: Any, **kwargs: Any) -> Any:
        # aetcd never sends a watch id; ours are unique per Watcher, so per stream
        request = super()._build_watch_create_request(*args, **kwargs)
        self._creating = request.create_request.watch_id = next(self._ids)
        return request

    async def add_callback(self, key: bytes, callback: Any, **kwargs: Any) -> Any:
        """aetcd's registration, which can fail (time out) after etcd's answer was accepted,
        while the wait was being cancelled: then nobody has the watch, so cancel it."""
        try:
            return await super().add_callback(key, callback, **kwargs)
        except BaseException:
            for watch_id, registered in list(self._callbacks.items()):
                if registered.callback is callback:
                    del self._callbacks[watch_id]
                    self._queue_cancel(watch_id)
            raise

    async def _handle_response(self, response: Any) -> None:
        self._last_response = asyncio.get_running_loop().time()
        if response.created:
            await self._handle_created(response)
            return
        if response.canceled or response.compact_revision or response.events:
            await super()._handle_response(response)
            return
        if response.watch_id == -1:  # answer to a progress request: for every watch
            targets = list(self._callbacks.values())
            progress = Progress(None)
        else:
            found = self._callbacks.get(response.watch_id)
            targets = [found] if found is not None else []
            progress = Progress(response.header.revision)
        for target in targets:
            await self._process_callback(target, progress)

    async def _handle_created(self, response: Any) -> None:
        """etcd's answer to a create request. aetcd allows one create at a time and gave the
        next `created` answer to whichever registration was waiting: an answer arriving after
        its registration timed out went to the next one (another key range), whose own answer
        was then dropped. Answers are matched by watch id here: one that is not for the
        request in flight belongs to an abandoned request, and its watch is cancelled on etcd.
        (etcd sends `created` answers without events, and a start revision already compacted
        comes in a later answer, handled by aetcd.)"""
        async with self._lock:
            waiting = self._new_callback
            if waiting is None or response.watch_id != self._creating:
                if not response.canceled:  # a refused create made nothing to cancel
                    log.info(
                        "Cancelling an abandoned etcd watch", extra={"watch_id": response.watch_id}
                    )
                    self._queue_cancel(response.watch_id)
                return
            if response.canceled:
                waiting.error = aetcd.exceptions.ClientError(
                    f"etcd refused the watch: {response.cancel_reason}"
                )
            else:
                self._callbacks[response.watch_id] = waiting
                waiting.watch_id = response.watch_id
            self._new_callback_ready.notify_all()

    def _queue_cancel(self, watch_id: int) -> None:
        """Queue etcd's cancel request without blocking the stream's reader."""
        request = self._build_watch_cancel_request(watch_id)
        try:
            self._request_queue.put_nowait(request)
        except asyncio.QueueFull:
            queue = self._request_queue
            task = asyncio.get_running_loop().create_task(self._put_later(queue, request))
            self._late_cancels.add(task)
            task.add_done_callback(self._late_cancels.discard)

    async def _put_later(self, queue: asyncio.Queue[Any], request: Any) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await queue.put(request)
        except TimeoutError:  # the stream is not draining: it is broken, its watches go with it
            log.warning("Could not queue an etcd watch cancel")

    async def shutdown(self) -> None:
        for task in list(self._late_cancels):
            task.cancel()
        await super().shutdown()

    def cancel_nowait(self, watch_id: int) -> bool:
        """Stop delivering to `watch_id` at once and queue etcd's cancel request, without
        aetcd's lock: `cancel()` waits on that lock, which a watch registration in flight on the
        same stream holds. False when the request queue is full (the caller queues it later)."""
        if self._callbacks.pop(watch_id, None) is None:
            return True  # already gone, or the stream was torn down with every watch on it
        try:
            self._request_queue.put_nowait(self._build_watch_cancel_request(watch_id))
        except asyncio.QueueFull:
            return False
        return True

    async def enqueue_cancel(self, watch_id: int) -> None:
        """The slow path of `cancel_nowait`: wait for room in the request queue."""
        await self._enqueue_watch_cancel(watch_id=watch_id)

    _asked_at = float("-inf")

    def request_progress(self, *, min_gap: float) -> None:
        """Ask etcd for a progress answer on this stream, which every watch on it receives; so
        at most once per `min_gap` s however many watches ask. Skipped with no stream open."""
        now = asyncio.get_running_loop().time()
        if self._request_handler is None or now - self._asked_at < min_gap:
            return
        self._asked_at = now
        with contextlib.suppress(asyncio.QueueFull):
            self._request_queue.put_nowait(
                rpc.WatchRequest(progress_request=rpc.WatchProgressRequest())
            )


class Client(aetcd.Client):  # type: ignore[misc]
    """aetcd's client with TLS: aetcd's connect() only opens insecure channels."""

    def __init__(self, host: str, port: int, *, credentials: Any, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self._credentials = credentials

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        if self._is_connecting:  # type: ignore[has-type]
            # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation
            # that arrives as the wait completes, and the cancelled task then runs on
            async with asyncio.timeout(self._connect_wait_timeout):
                await self._connected.wait()
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
        self._watcher = Watcher(
            rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata
        )

    def request_progress(self, *, min_gap: float) -> None:
        watcher = getattr(self, "_watcher", None)
        if isinstance(watcher, Watcher):
            watcher.request_progress(min_gap=min_gap)

    def watcher(self) -> Watcher | None:
        """The watch stream multiplexer of the open channel (None before connect/after close)."""
        watcher = getattr(self, "_watcher", None)
        return watcher if isinstance(watcher, Watcher) else None


def read_file(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def credentials(conn: Connection, scheme: str) -> Any:
    if scheme != "https" and not conn.ca_file and not conn.cert_file:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=read_file(conn.ca_file),
        private_key=read_file(conn.key_file),
        certificate_chain=read_file(conn.cert_file),
    )


CLOSE_TIMEOUT = 2.0
"""Seconds a client gets to close: aetcd's close waits on its watch stream's lock and request
queue with no deadline, which a stream broken by a dead etcd may never release."""


async def close_quietly(client: Client) -> None:
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await client.close()
    except TimeoutError:  # the watch stream is stuck: close the channel under it directly
        log.warning("Closing an etcd client timed out", extra={"timeout": CLOSE_TIMEOUT})
        channel = getattr(client, "channel", None)
        if channel is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await channel.close()
    except Exception as exc:  # closing a broken channel may fail; nothing to recover
        log.debug("closing etcd client failed", extra={"error": str(exc)})
