"""Informers -> Feed -> connected browsers, with the limits that keep the GUI's memory bounded.

No HTTP here (gui.server owns aiohttp). Memory per browser is bounded three ways: at most
`max_clients` browsers; one encoded snapshot per feed state, shared by every browser that
subscribes at that state (bytes are immutable, so sharing is free); and a browser whose
pending bytes (frames queued plus its socket's write buffer) pass `client_buffer` is dropped:
its connection is aborted and it reconnects to a fresh snapshot when it reads again.

Tasks (50,000 of them at scale) are read from their stored JSON (store.rawlist, gui.rawtasks):
no model is built or cached for them. Nothing holds the loop long: the list is handed on in
time slices, a snapshot is encoded in slices while others are answered, a delta carries at
most `max_delta` changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from gui.feed import KINDS, Feed, KindFeed, Wire, sse_frame, sse_pieces, wire_name
from gui.rawtasks import task_row
from store import codec
from store.api import Store
from store.informer import CacheEvent, InformerFactory, default_inactivity_timeout
from store.rawlist import RawInformer
from store.resources import ResourceStore

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05
SYNC_WAIT = 10.0
MAX_CLIENTS = 100
CLIENT_BUFFER = 8 * 1024 * 1024
"""Bytes a browser may be behind (queued frames + socket buffer) before it is dropped."""
WRITE_TIMEOUT = 60.0
"""A browser that takes no bytes for this long is dropped (it reconnects when it reads again)."""
MAX_DELTA = 5_000
"""Changes per delta message; more wait for the next flush (each delta is encoded in one
piece: 50,000 changes would hold the loop ~0.3 s)."""
SLICE_SECONDS = 0.02
"""Encoding time of a snapshot between two turns of the loop."""

RawRow = Callable[[str, bytes, int], Wire | None]
"""(key, stored value, mod_revision) -> the kind's wire row; None when unreadable."""
RAW_ROWS: Mapping[str, RawRow] = {"tasks": task_row}
"""Kinds the feed reads from the stored JSON, without models (gui.rawtasks)."""


def _nothing() -> None:
    return None


def _zero() -> int:
    return 0


class Client:
    """One connected browser: queued frames (shared bytes) and how far behind it is."""

    def __init__(
        self,
        *,
        abort: Callable[[], None] = _nothing,
        buffered: Callable[[], int] = _zero,
    ) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.queued_bytes = 0
        self.bytes_sent = 0
        self.abort = abort
        """Closes the connection at once, waking a handler stuck writing to it."""
        self.buffered = buffered
        """Bytes handed to the socket but not yet taken by the browser."""

    def offer(self, frame: bytes) -> None:
        self.queue.put_nowait(frame)
        self.queued_bytes += len(frame)

    async def next_frame(self) -> bytes | None:
        """The next frame to write; None once the hub dropped this client."""
        frame = await self.queue.get()
        if frame is not None:
            self.queued_bytes -= len(frame)
        return frame

    def pending(self) -> int:
        return self.queued_bytes + self.buffered()


class Hub:
    """Informers -> Feed -> clients. Everything runs on one event loop: no locks needed."""

    def __init__(
        self,
        store: Store,
        *,
        kinds: tuple[KindFeed, ...] = KINDS,
        flush_interval: float = FLUSH_INTERVAL,
        max_clients: int = MAX_CLIENTS,
        client_buffer: int = CLIENT_BUFFER,
        write_timeout: float = WRITE_TIMEOUT,
        raw_rows: Mapping[str, RawRow] = RAW_ROWS,
        max_delta: int = MAX_DELTA,
    ) -> None:
        self.store = store
        self.kinds = kinds
        self.flush_interval = flush_interval
        self.max_clients = max_clients
        self.client_buffer = client_buffer
        self.write_timeout = write_timeout
        self.raw_rows = raw_rows
        self.max_delta = max_delta
        self.feed = Feed(tuple(k.plural for k in kinds))
        self.factory = InformerFactory(store)
        self.raw: list[RawInformer] = []
        self.clients: set[Client] = set()
        self.bytes_sent = 0
        self.messages_sent = 0
        self.snapshot_encodes = 0
        self._snapshot: tuple[tuple[int, int, bool], bytes] | None = None
        self._encoding: dict[tuple[int, int, bool], asyncio.Task[bytes]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        for kind in self.kinds:
            row = self.raw_rows.get(kind.plural)
            if row is not None and isinstance(self.store, ResourceStore):
                self.raw.append(self._raw_informer(self.store, kind, row))
                continue
            informer = self.factory.informer(kind.model)
            informer.add_handler(partial(self._on_change, kind))
        self.factory.start()
        for raw in self.raw:
            raw.start()
        self._flusher = asyncio.create_task(self._flush_loop(), name="gui-flusher")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        for client in list(self.clients):
            self.drop(client)
        for raw in self.raw:
            await raw.stop()
        for encoding in self._encoding.values():
            encoding.cancel()
        await self.factory.stop()

    def _raw_informer(self, store: ResourceStore, kind: KindFeed, row: RawRow) -> RawInformer:
        """The kind's stored JSON listed and watched, each value turned into its row."""

        def on_raw(key: str, value: bytes | None, revision: int) -> None:
            name = codec.name_from_key(key)
            if value is None:
                self.feed.apply(kind.plural, name, None, revision=revision)
            elif (wire := row(key, value, revision)) is not None and wire_name(wire) == name:
                self.feed.apply(kind.plural, name, wire, revision=revision)
            else:
                log.warning("Unreadable object skipped", extra={"key": key})
                return
            self._wake.set()

        prefix = codec.registry_prefix(store.prefix, kind.model)
        timeout = default_inactivity_timeout(store)
        return RawInformer(store.backend, prefix, on_raw, inactivity_timeout=timeout)

    def _on_change(self, kind: KindFeed, event: CacheEvent[Any]) -> None:
        obj = event.obj
        wire = None if event.type == "DELETED" else kind.project(obj)
        revision = obj.metadata.resource_version or 0
        self.feed.apply(kind.plural, event.name, wire, revision=revision)
        self._wake.set()

    async def wait_synced(self, *, within: float = SYNC_WAIT) -> bool:
        try:
            async with asyncio.timeout(within):
                await self.factory.wait_synced()
                for raw in self.raw:
                    await raw.wait_synced()
        except TimeoutError:
            return False
        self.feed.synced = True
        return True

    async def wait_for_revision(self, revision: int) -> None:
        """Until every kind's changes up to `revision` are in the feed (pending or flushed)."""
        for informer in self.factory.all():
            await informer.wait_for_revision(revision)
        for raw in self.raw:
            await raw.wait_for_revision(revision)

    def revision(self) -> int:
        """The newest etcd revision any informer has applied (kinds are watched separately)."""
        revisions = [i.revision for i in self.factory.all()] + [r.revision for r in self.raw]
        return max(revisions, default=0)

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            started = loop.time()
            self.flush()
            if self.feed.pending:
                self._wake.set()
            await asyncio.sleep(max(0.0, self.flush_interval - (loop.time() - started)))

    def flush(self) -> None:
        """Broadcast the pending changes as one delta (encoded once for all clients). With no
        client the delta is folded into the feed but not encoded: the first flush after the
        informers list holds every object (at 50,000 Tasks, ~14 MB of JSON for nobody), and
        the first browser gets them in its snapshot."""
        delta = self.feed.flush(revision=self.revision(), limit=self.max_delta)
        if delta is not None and self.clients:
            self.broadcast(sse_frame("delta", delta))

    def broadcast(self, frame: bytes) -> None:
        for client in list(self.clients):
            client.offer(frame)
            if client.pending() > self.client_buffer:
                log.warning(
                    "Browser too slow; dropping it",
                    extra={"pending_bytes": client.pending(), "clients": len(self.clients)},
                )
                client.abort()
                self.drop(client)

    @property
    def full(self) -> bool:
        return len(self.clients) >= self.max_clients

    def subscribe(
        self, *, abort: Callable[[], None] = _nothing, buffered: Callable[[], int] = _zero
    ) -> tuple[Client, bytes]:
        """A new client and its snapshot frame; no await in between, so no delta is missed.

        Pending changes are flushed to the existing clients first, so the snapshot is current.
        """
        while self.feed.pending:
            self.flush()
        client = Client(abort=abort, buffered=buffered)
        self.clients.add(client)
        return client, self.snapshot_frame()

    async def connect(
        self, *, abort: Callable[[], None] = _nothing, buffered: Callable[[], int] = _zero
    ) -> tuple[Client, bytes]:
        """`subscribe` for a server: the pending changes flushed and the snapshot encoded a
        slice at a time, the loop answering others in between. The client joins at the state
        its snapshot holds (no await in between); the deltas after it wait in its queue."""
        while self.feed.pending:
            self.flush()
            await asyncio.sleep(0)
        client = Client(abort=abort, buffered=buffered)
        self.clients.add(client)
        key = (self.feed.seq, self.feed.revision, self.feed.synced)
        try:
            return client, await self._encoded(key)
        except BaseException:
            self.drop(client)
            raise

    async def _encoded(self, key: tuple[int, int, bool]) -> bytes:
        """The snapshot frame at `key` (the current state), encoded once however many
        browsers wait for it; a browser that leaves does not cancel it for the others."""
        if self._snapshot is not None and self._snapshot[0] == key:
            return self._snapshot[1]
        task = self._encoding.get(key)
        if task is None:
            task = asyncio.create_task(self._encode(key, self.feed.snapshot()))
            self._encoding = {key: task}
        return await asyncio.shield(task)

    async def _encode(self, key: tuple[int, int, bool], snapshot: Wire) -> bytes:
        loop = asyncio.get_running_loop()
        pieces: list[bytes] = []
        ends = loop.time() + SLICE_SECONDS
        for piece in sse_pieces("snapshot", snapshot):
            pieces.append(piece)
            if loop.time() > ends:
                await asyncio.sleep(0)
                ends = loop.time() + SLICE_SECONDS
        frame = b"".join(pieces)
        self.snapshot_encodes += 1
        if (self.feed.seq, self.feed.revision, self.feed.synced) == key:
            self._snapshot = (key, frame)
        self._encoding.pop(key, None)
        return frame

    def snapshot_frame(self) -> bytes:
        """The encoded snapshot of the flushed state, encoded once per state and shared."""
        key = (self.feed.seq, self.feed.revision, self.feed.synced)
        if self._snapshot is None or self._snapshot[0] != key:
            self._snapshot = (key, sse_frame("snapshot", self.feed.snapshot()))
            self.snapshot_encodes += 1
        return self._snapshot[1]

    def drop(self, client: Client) -> None:
        """Forget the client and wake its handler with the end marker (pending frames go)."""
        self.clients.discard(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queued_bytes = 0
        client.queue.put_nowait(None)
