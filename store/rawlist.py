"""One registry prefix listed then watched as stored bytes, without building models. No client
imports: any KVBackend.

For readers that need a few fields of many objects: the GUI's task table at 50,000 Tasks, where
decoding every Task into its model (~155 us each) in one piece kept the GUI's event loop busy
for seconds. Here nothing is decoded: the handler gets each key, its value and mod_revision
(value None: deleted) and reads what it needs. The list is handed on in slices of at most
`slice_seconds` of handler time, the loop yielded between them, so a server reading a large
prefix keeps answering its other requests. Like store.informer: a compacted watch relists (what
vanished is handed on as deleted), a broken one resumes from the last revision, a watch silent
for longer than `inactivity_timeout` (no event, no progress) is restarted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from crds.errors import CompactedError
from store.kv import KV, KVBackend, KVEvent

log = logging.getLogger(__name__)

RawHandler = Callable[[str, bytes | None, int], None]
"""(key, stored value or None when deleted, the key's mod_revision or the delete's revision)."""

SLICE_SECONDS = 0.02
"""Handler time per slice of a list before the loop gets a turn."""
RESCHEDULE_EVERY = 1.0
"""Seconds between moves of the inactivity deadline (not per event: a busy watch's CPU)."""


class RawInformer:
    """Stored values under `prefix` (a registry prefix: `<prefix>/registry/<plural>/`)."""

    def __init__(
        self,
        backend: KVBackend,
        prefix: str,
        handler: RawHandler,
        *,
        inactivity_timeout: float,
        slice_seconds: float = SLICE_SECONDS,
        retry_delay: float = 0.5,
        max_retry_delay: float = 10.0,
    ) -> None:
        self.backend = backend
        self.prefix = prefix
        self.handler = handler
        self.inactivity_timeout = inactivity_timeout
        self.slice_seconds = slice_seconds
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.revision = 0
        self.relists = 0
        self.watch_restarts = 0
        self.stalls = 0
        self.slices = 0
        self._revisions: dict[str, int] = {}
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    async def wait_for_revision(self, revision: int) -> None:
        """Until every change up to `revision` has been handed on."""
        if self.revision < revision:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append((revision, waiter))
            await waiter

    def _advance(self, revision: int) -> None:
        self.revision = max(self.revision, revision)
        if self._waiters:
            for wanted, waiter in [w for w in self._waiters if w[0] <= self.revision]:
                self._waiters.remove((wanted, waiter))
                if not waiter.done():
                    waiter.set_result(None)

    def __len__(self) -> int:
        return len(self._revisions)

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"raw-informer {self.prefix}")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run(self) -> None:
        """List, then watch forever; every failure is retried with a capped backoff."""
        need_list, delay = not self.synced, self.retry_delay
        while True:
            try:
                if need_list:
                    await self.relist()
                    need_list = False
                await self._watch()
                delay = self.retry_delay
            except CompactedError:
                self.relists += 1
                log.warning("Watch revision compacted; relisting", extra={"prefix": self.prefix})
                need_list = True
            except Exception as exc:  # any broken stream: resume from the last revision
                self.watch_restarts += 1
                log.warning(
                    "Watch broken; resuming",
                    extra={"prefix": self.prefix, "revision": self.revision, "error": str(exc)},
                )
                await asyncio.sleep(delay)
                delay = min(self.max_retry_delay, delay * 2)

    async def relist(self) -> None:
        """Read the prefix (paged by the backend) and hand on what changed, slice by slice."""
        kvs, revision = await self.backend.range(self.prefix)
        fresh = await self._hand_on(kvs)
        for key in [k for k in self._revisions if k not in fresh]:
            del self._revisions[key]
            self.handler(key, None, revision)
        self._advance(revision)
        self._synced.set()
        log.info("Listed", extra={"prefix": self.prefix, "items": len(kvs), "revision": revision})

    async def _hand_on(self, kvs: Sequence[KV]) -> set[str]:
        """Every listed key; the loop gets a turn every `slice_seconds`."""
        loop = asyncio.get_running_loop()
        keys: set[str] = set()
        ends = loop.time() + self.slice_seconds
        for i, kv in enumerate(kvs):
            keys.add(kv.key)
            self._put(kv)
            if i % 16 == 15 and loop.time() > ends:
                self.slices += 1
                await asyncio.sleep(0)
                ends = loop.time() + self.slice_seconds
        return keys

    def _put(self, kv: KV) -> None:
        if self._revisions.get(kv.key) == kv.mod_revision:
            return
        self._revisions[kv.key] = kv.mod_revision
        self.handler(kv.key, kv.value, kv.mod_revision)

    async def _watch(self) -> None:
        """Follow one watch stream until it ends or stays silent too long."""
        stream = self.backend.watch(self.prefix, start_revision=self.revision + 1, prefix=True)
        loop = asyncio.get_running_loop()
        every = min(RESCHEDULE_EVERY, self.inactivity_timeout / 4)
        try:
            async with asyncio.timeout(self.inactivity_timeout) as deadline:
                moved = loop.time()
                async for event in stream:
                    self._on_event(event)
                    now = loop.time()
                    if now - moved > every:
                        deadline.reschedule(now + self.inactivity_timeout)
                        moved = now
        except TimeoutError:
            self.stalls += 1
            log.warning("Watch silent too long; restarting it", extra={"prefix": self.prefix})
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _on_event(self, event: KVEvent) -> None:
        if event.type == "PUT":
            self._put(event.kv)
        elif event.type == "DELETE" and self._revisions.pop(event.kv.key, None) is not None:
            self.handler(event.kv.key, None, event.revision)
        self._advance(event.revision)
