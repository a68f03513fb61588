"""The hub's first load of many Tasks leaves the event loop free for other requests: the stored
documents are read into rows a time slice at a time (no models), the snapshot is encoded in
slices, and a heartbeat on the same loop is never kept waiting long. The snapshot's bytes are
the ones the one-piece encoding gives (the feed contract is unchanged)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import UTC, datetime

from crds.kinds.task import Task
from gui.feed import sse_frame
from gui.hub import Hub
from store import codec
from store.kv import Put
from store.memory import MemoryStore
from tests.gui.samples import task

TASKS = 20_000
BEAT = 0.005
STALL_BOUND = 0.5
"""CPU seconds the loop may work between two turns of the heartbeat (CPU, not wall: on a busy
machine the process also waits for a core, which no code of ours can help). Decoding 20,000
Task models in one piece took ~3 s; a slice is ~20 ms."""


async def filled(count: int) -> MemoryStore:
    """`count` Tasks written as the store writes them, straight into the backend (fast)."""
    store = MemoryStore()
    doc = json.loads(codec.encode(codec.prepare_create(task("t"), now=datetime.now(UTC))))
    doc["metadata"]["name"], doc["status"]["pid"] = "NAME", 987654321
    template = json.dumps(doc)
    ops = [
        Put(
            codec.registry_key(store.prefix, Task, f"t-{i:05d}"),
            template.replace("NAME", f"t-{i:05d}").replace("987654321", str(1000 + i)).encode(),
        )
        for i in range(count)
    ]
    for start in range(0, count, 128):
        await store.backend.txn([], ops[start : start + 128])
    return store


async def test_a_snapshot_of_20000_tasks_never_holds_the_loop_long() -> None:
    store = await filled(TASKS)
    wakes = [time.thread_time()]

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(BEAT)
            wakes.append(time.thread_time())

    beating = asyncio.create_task(heartbeat())
    hub = Hub(store)
    try:
        await hub.start()
        assert await hub.wait_synced(within=120)
        _, frame = await hub.connect()
        wakes.append(time.thread_time())  # a heartbeat still waiting now waited this long
    finally:
        beating.cancel()
        await hub.stop()
    longest = max(later - earlier for earlier, later in itertools.pairwise(wakes))
    assert longest < STALL_BOUND, f"the loop was held {longest:.2f} s ({len(wakes)} heartbeats)"
    assert frame == sse_frame("snapshot", hub.feed.snapshot())
    message = json.loads(frame.decode().split("data: ", 1)[1])
    assert len(message["objects"]["tasks"]) == TASKS
    assert message["objects"]["tasks"][7]["pid"] == 1007


async def test_browsers_joining_while_the_snapshot_is_encoded_share_one_encoding() -> None:
    store = await filled(3000)
    hub = Hub(store)
    try:
        await hub.start()
        assert await hub.wait_synced()
        first, second = await asyncio.gather(hub.connect(), hub.connect())
    finally:
        await hub.stop()
    assert first[1] is second[1]
    assert hub.snapshot_encodes == 1
