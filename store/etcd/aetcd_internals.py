"""Every override of aetcd's private internals, in one place (store.etcd only; nothing else
subclasses or reaches into aetcd).

Written against aetcd ``1.0.0`` exactly (`PINNED_VERSION`, pinned in pyproject.toml); aetcd has
no public hook for any of this, so it leans on names aetcd may change in any release.
tests/store/test_aetcd_pin.py checks the installed aetcd against every name listed here and the
signatures of the methods overridden or called, and fails naming what moved.

Why each override exists:
- `Watcher` (subclass of ``aetcd.watcher.Watcher``): delivers etcd's progress notifications
  (aetcd drops them), sends client-chosen watch ids and matches ``created`` answers by id (aetcd
  hands a late answer to whichever registration waits next), cancels a watch without aetcd's lock
  (which a registration in flight holds), records when its stream last answered and the
  newest event revision it delivered, and asks etcd to split a response over its request size
  limit into parts, which it joins (a watch far behind got one message past the channel's limit).
  A watch opened with `Client.watch_batches` receives each etcd response's events as one list
  of store.kv events, read from the protobuf message (`convert.to_events`): aetcd builds an
  Event and two KeyValues per event and queues each apart: a quarter of what an informer
  spent on each watched write.
- `Client` (subclass of ``aetcd.Client``): opens a TLS channel (aetcd's connect() only opens
  insecure ones) and bounds the wait on a concurrent connect with ``asyncio.timeout``.

Private names of aetcd relied upon (read, written or overridden): `WATCHER_PRIVATE` on
``aetcd.watcher.Watcher`` and `CLIENT_PRIVATE` on ``aetcd.Client``; plus the attributes aetcd's
client sets on connect (``channel``, ``metadata``, ``auth_stub``, ``kvstub``, ``clusterstub``,
``leasestub``, ``maintenancestub``) and ``WatcherCallback.callback/watch_id/error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aetcd
import aetcd.exceptions
import aetcd.watcher
from aetcd import rpc

from store.etcd.convert import to_events
from store.kv import KVEvent

log = logging.getLogger(__name__)

PINNED_VERSION = "1.0.0"
"""The aetcd release these overrides were written against and checked on."""

WATCHER_PRIVATE = (
    "_build_watch_cancel_request",
    "_build_watch_create_request",
    "_callbacks",
    "_enqueue_watch_cancel",
    "_handle_response",
    "_lock",
    "_new_callback",
    "_new_callback_ready",
    "_process_callback",
    "_request_handler",
    "_request_queue",
    "_terminate_stream",
    "_timeout",
)
"""aetcd.watcher.Watcher's private methods and attributes that `Watcher` uses."""

CLIENT_PRIVATE = (
    "_connect_wait_timeout",
    "_connected",
    "_host",
    "_is_connecting",
    "_options",
    "_password",
    "_port",
    "_timeout",
    "_username",
    "_watcher",
)
"""aetcd.Client's private attributes that `Client` reads or sets."""

CLIENT_CHANNEL_ATTRIBUTES = (
    "channel",
    "metadata",
    "auth_stub",
    "kvstub",
    "clusterstub",
    "leasestub",
    "maintenancestub",
)
"""Set by aetcd's connect and cleared by its close; `Client._open` sets them instead."""


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
        self._last_events = float("-inf")
        self._position = 0
        """The newest revision of any event this stream delivered (see `behind`)."""
        self._late_cancels: set[asyncio.Task[None]] = set()
        self._fragments: dict[int, list[Any]] = {}
        """Per watch, the events of the parts of one response etcd split and has not finished
        sending (see `_joined`)."""

    def idle(self) -> float:
        """Seconds (of the event loop's clock) since this stream last delivered anything (an
        event, a progress answer, a created or cancelled answer) to any of its watches."""
        return asyncio.get_running_loop().time() - self._last_response

    def behind(self, revision: int, *, within: float) -> bool:
        """This stream delivered events in the last `within` s, none of them at or after
        `revision`: a backlog (the manager reads slower than etcd commits) still ahead of a
        write at `revision`, whose events, for any watch on the stream, come after it."""
        recent = asyncio.get_running_loop().time() - self._last_events <= within
        return recent and self._position < revision

    def watch_count(self) -> int:
        """Watches registered on this stream (created by etcd and not cancelled)."""
        return len(self._callbacks)

    def _build_watch_create_request(self, *args: Any, **kwargs: Any) -> Any:
        # aetcd never sends a watch id; ours are unique per Watcher, so per stream
        request = super()._build_watch_create_request(*args, **kwargs)
        self._creating = request.create_request.watch_id = next(self._ids)
        # A watch behind by many revisions gets up to 1,000 of them in one response: at 128
        # writes of a few KB (and, then, their previous values) per revision, past the channel's
        # message limit, which broke the stream, and every watch on it then asked again from
        # the same revision. Asked for, etcd splits such a response into parts under its
        # request size limit (--max-request-bytes, 1.5 MiB) and marks all but the last.
        request.create_request.fragment = True
        return request

    def _joined(self, response: Any, parts: list[Any]) -> Any:
        """The last part of a split `response` whole: with the events of the parts before it
        (`parts`). etcd sends one response's parts one after the other on the stream."""
        whole = type(response)()
        whole.CopyFrom(response)
        del whole.events[:]
        whole.events.extend(parts)
        whole.events.extend(response.events)
        return whole

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
        self._last_response = now = asyncio.get_running_loop().time()
        if response.fragment:  # a part of a split response: its events kept until the last
            self._last_events = now
            self._fragments.setdefault(response.watch_id, []).extend(response.events)
            return
        parts = self._fragments.pop(response.watch_id, None) if self._fragments else None
        if parts is not None:
            parts.extend(response.events)
            self._last_events = now
            self._position = max(self._position, parts[-1].kv.mod_revision)
            target = self._callbacks.get(response.watch_id)
            plain = not (response.created or response.canceled or response.compact_revision)
            if plain and target is not None and isinstance(target.callback, BatchSink):
                # the parts' events read where they are: joining them into one message copied
                # each (a sixth of what a watch far behind spent per event)
                await self._process_callback(target, to_events(parts))
                return
            response = self._joined(response, parts[: len(parts) - len(response.events)])
        elif response.events:
            self._last_events = now
            self._position = max(self._position, response.events[-1].kv.mod_revision)
        if response.created:
            await self._handle_created(response)
            return
        if response.canceled or response.compact_revision:
            await super()._handle_response(response)
            return
        if response.events:
            target = self._callbacks.get(response.watch_id)
            if target is None:
                return  # a leftover of a cancelled watch (as aetcd)
            if not isinstance(target.callback, BatchSink):
                await super()._handle_response(response)
                return
            await self._process_callback(target, to_events(response.events))
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

    async def _terminate_stream(self, error: Any) -> None:
        self._fragments.clear()  # a new stream starts every watch on it again
        await super()._terminate_stream(error)

    def cancel_nowait(self, watch_id: int) -> bool:
        """Stop delivering to `watch_id` at once and queue etcd's cancel request, without
        aetcd's lock: `cancel()` waits on that lock, which a watch registration in flight on the
        same stream holds. False when the request queue is full (the caller queues it later)."""
        self._fragments.pop(watch_id, None)
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


class BatchSink:
    """The callback of a `Client.watch_batches` watch: queues what the watcher delivers (a list
    of events, a `Progress`, an error, or None when the stream shut down) for `BatchWatch`."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def __call__(self, item: Any) -> None:
        self.queue.put_nowait(item)


@dataclass(frozen=True, slots=True)
class BatchWatch:
    """A watch registered by `Client.watch_batches`; `watch_id` cancels it (as aetcd's Watch)."""

    watch_id: int
    sink: BatchSink

    async def batches(self) -> AsyncIterator[list[KVEvent] | Progress]:
        """Each etcd response's events (one list) and progress notifications, in order; raises
        the stream's error (aetcd's or grpc's), ends when the stream shuts down."""
        queue = self.sink.queue
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


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

    async def watch_batches(
        self, key: bytes, *, range_end: bytes | None, start_revision: int
    ) -> BatchWatch:
        """aetcd's `watch(progress_notify=True)`, delivering each etcd response's events as one
        list (see the module docstring). The client must be connected. Without prev_kv: a
        DELETE's value is read apart (EtcdKV), and etcd would send every PUT's previous value
        too (half of each watched write's bytes, and a read of history per event in etcd)."""
        sink = BatchSink()
        registered = await self._watcher.add_callback(
            key,
            sink,
            range_end=range_end,
            start_revision=start_revision,
            progress_notify=True,
        )
        return BatchWatch(registered.watch_id, sink)

    def request_progress(self, *, min_gap: float) -> None:
        watcher = getattr(self, "_watcher", None)
        if isinstance(watcher, Watcher):
            watcher.request_progress(min_gap=min_gap)

    def watcher(self) -> Watcher | None:
        """The watch stream multiplexer of the open channel (None before connect/after close)."""
        watcher = getattr(self, "_watcher", None)
        return watcher if isinstance(watcher, Watcher) else None
