"""RawInformer: a prefix's stored bytes listed then watched, with no models: every change is
handed on once, in order; a watch whose revision was compacted relists and hands on what
vanished meanwhile as deleted; a large list gives the loop turns."""

from __future__ import annotations

import asyncio

from store.kv import Delete, Put
from store.memory import MemoryKV
from store.rawlist import RawInformer
from tests.waiting import eventually

PREFIX = "/o2/registry/things/"


class Recorder:
    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.calls: list[tuple[str, bytes | None, int]] = []

    def __call__(self, key: str, value: bytes | None, revision: int) -> None:
        self.calls.append((key, value, revision))
        if value is None:
            self.state.pop(key, None)
        else:
            self.state[key] = value


async def put(kv: MemoryKV, key: str, value: bytes) -> int:
    return (await kv.txn([], [Put(PREFIX + key, value)])).revision


async def test_the_list_and_every_later_change_are_handed_on_once() -> None:
    kv, seen = MemoryKV(), Recorder()
    await put(kv, "a", b"1")
    await kv.txn([], [Put("/o2/registry/other/x", b"not ours")])
    informer = RawInformer(kv, PREFIX, seen, inactivity_timeout=60)
    informer.start()
    try:
        await informer.wait_synced()
        assert seen.state == {PREFIX + "a": b"1"}
        await put(kv, "b", b"2")
        revision = (await kv.txn([], [Delete(PREFIX + "a")])).revision
        await informer.wait_for_revision(revision)
    finally:
        await informer.stop()
    assert seen.state == {PREFIX + "b": b"2"}
    assert [(k[len(PREFIX) :], v) for k, v, _ in seen.calls] == [
        ("a", b"1"),
        ("b", b"2"),
        ("a", None),
    ]


async def test_a_compacted_watch_relists_and_hands_on_what_vanished() -> None:
    kv, seen = MemoryKV(), Recorder()
    await put(kv, "gone", b"1")
    await put(kv, "kept", b"1")
    informer = RawInformer(kv, PREFIX, seen, inactivity_timeout=60)
    await informer.relist()  # listed; its watch is not running
    await kv.txn([], [Delete(PREFIX + "gone")])
    await put(kv, "kept", b"2")
    revision = await put(kv, "new", b"1")
    await kv.compact(revision)
    informer.start()
    try:
        await informer.wait_for_revision(revision)
    finally:
        await informer.stop()
    assert seen.state == {PREFIX + "kept": b"2", PREFIX + "new": b"1"}
    assert informer.relists == 1


async def test_a_large_list_gives_the_loop_turns() -> None:
    kv, seen = MemoryKV(), Recorder()
    for start in range(0, 2000, 100):
        await kv.txn([], [Put(f"{PREFIX}k{i:05d}", b"x") for i in range(start, start + 100)])
    turns = 0

    def slow(key: str, value: bytes | None, revision: int) -> None:
        seen(key, value, revision)
        for _ in range(2000):  # a handler doing real work
            pass

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counting = asyncio.create_task(count_turns())
    informer = RawInformer(kv, PREFIX, slow, inactivity_timeout=60, slice_seconds=0.001)
    try:
        await informer.relist()
    finally:
        counting.cancel()
    assert len(seen.state) == 2000
    assert informer.slices > 0 and turns >= informer.slices - 1


async def test_a_watch_silent_too_long_is_restarted_and_misses_nothing() -> None:
    kv, seen = MemoryKV(), Recorder()  # no progress events: an idle watch is silent
    informer = RawInformer(kv, PREFIX, seen, inactivity_timeout=0.05)
    informer.start()
    try:
        await informer.wait_synced()
        await eventually(lambda: informer.stalls > 0, within=10, message="a restarted watch")
        revision = await put(kv, "late", b"1")
        await informer.wait_for_revision(revision)
    finally:
        await informer.stop()
    assert seen.state == {PREFIX + "late": b"1"}
