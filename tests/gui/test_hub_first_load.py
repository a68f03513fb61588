"""The hub's first load: changes flushed while no browser is connected are folded into the feed
but not encoded as a delta nobody reads (after the informers list 50,000 Tasks, that delta is
~14 MB of JSON); the first browser gets them in its snapshot, and later deltas as before."""

from __future__ import annotations

import json

import pytest

import gui.hub
from gui.feed import Wire
from gui.hub import Hub
from store.memory import MemoryStore


def task(name: str, state: str) -> Wire:
    return {"name": name, "state": state}


def frames(data: bytes) -> tuple[str, Wire]:
    lines = data.decode().splitlines()
    event = next(line for line in lines if line.startswith("event: "))[len("event: ") :]
    payload = next(line for line in lines if line.startswith("data: "))[len("data: ") :]
    return event, json.loads(payload)


async def test_a_flush_without_browsers_encodes_nothing_and_the_snapshot_holds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[str] = []
    real = gui.hub.sse_frame

    def counting(event: str, message: Wire) -> bytes:
        encoded.append(event)
        return real(event, message)

    monkeypatch.setattr(gui.hub, "sse_frame", counting)
    hub = Hub(MemoryStore())
    for i in range(1000):
        hub.feed.apply("tasks", f"t{i}", task(f"t{i}", "RUNNING"), revision=i + 1)
    hub.flush()
    assert encoded == []
    assert hub.feed.count("tasks") == 1000

    client, snapshot = hub.subscribe()
    event, message = frames(snapshot)
    assert event == "snapshot" and len(message["objects"]["tasks"]) == 1000
    hub.feed.apply("tasks", "t0", task("t0", "CONFIGURED"), revision=1001)
    hub.flush()
    assert encoded == ["snapshot", "delta"]
    event, message = frames(await client.next_frame() or b"")
    assert event == "delta"
    assert message["changes"] == [{"op": "put", "kind": "tasks", "obj": task("t0", "CONFIGURED")}]
