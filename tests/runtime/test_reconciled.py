"""The reconciled record's follower (controller.runtime.reconciled) on the in-memory store: it
sees the record already there, each later put once, and a record put while its watch revision
was compacted away."""

from __future__ import annotations

from controller.runtime.reconciled import ReconciledFollower, reconciled_key
from store.memory import MemoryStore
from tests.waiting import eventually


async def test_follower_sees_each_put_of_the_record_once_even_across_a_compaction() -> None:
    store = MemoryStore()
    key = reconciled_key(store.prefix)
    seen: list[int] = []
    first = await store.put_raw(key, b"manager-1")
    follower = ReconciledFollower(store, key, changed=seen.append, floor=lambda: 0)
    follower.start()
    try:
        await eventually(lambda: seen == [first], within=5.0)
        second = await store.put_raw(key, b"manager-2")
        await eventually(lambda: seen == [first, second], within=5.0)
        assert follower.revision == second
    finally:
        await follower.stop()

    compacted = MemoryStore()  # absent at first, its floor's revision compacted away
    await compacted.put_raw(f"{compacted.prefix}/runtime/other", b"x")
    later = await compacted.put_raw(f"{compacted.prefix}/runtime/other", b"y")
    await compacted.kv.compact(later)
    late: list[int] = []
    follower = ReconciledFollower(compacted, key, changed=late.append, floor=lambda: 1)
    follower.start()
    try:
        put = await compacted.put_raw(key, b"manager-1")
        await eventually(lambda: late == [put], within=5.0)
    finally:
        await follower.stop()
