"""What one cached Task costs an informer, from tracemalloc: the manager holds every Task of
every environment in its cache, so its bytes per Task bound the manager's memory at scale."""

from __future__ import annotations

import gc
import tracemalloc

from crds.kinds.task import Task
from hack.bench.informer_bench import running_task
from store import codec
from store.compact import compact
from store.informer import Informer
from store.memory import MemoryStore
from store.resources import ResourceStore

COUNT = 1000
BOUND = 6000
"""Bytes per cached Task, with margin: 9.6 KB before the cache shared what repeats, 4.2 KB
after (a RUNNING Task of the environments benchmark's shape, ~1.5 KB of JSON); 4.8 KB with
the fields Tasks gained since."""
WINDOWS = 3
"""Informers measured one after the other, each on a store of its own over the same keys: the
cost is the cheapest. tracemalloc counts every allocation of the process that is alive at the
end of a window, whoever made it; what is made once (the compaction's shared field sets, a
first decode's caches) lands in one window only, a Task's own cost in every one."""


async def _held_per_task(store: MemoryStore) -> tuple[float, list[tracemalloc.StatisticDiff]]:
    """What a new informer of the Tasks in `store` holds per Task (the bytes the process holds
    more once it has listed, cached and stopped; the store's object cache included), and where
    (the allocating lines, largest first). A store of its own (the same keys): the objects a
    previous window's store cached would be listed again without a decode."""
    own = ResourceStore(store.kv, prefix=store.prefix)
    informer = Informer(own, Task)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        informer.start()
        await informer.wait_synced()
        await informer.stop()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert len(informer) == COUNT
    where = after.compare_to(before, "lineno")
    return sum(stat.size_diff for stat in where) / COUNT, where


async def test_a_cached_task_costs_under_six_kilobytes() -> None:
    store = MemoryStore(prefix="/mem")
    for i in range(COUNT):  # raw puts: the informer decodes its own copies, as from etcd
        task = running_task(i)
        await store.put_raw(codec.registry_key(store.prefix, Task, task.name), codec.encode(task))
    windows = [await _held_per_task(store) for _ in range(WINDOWS)]
    per_task, where = min(windows, key=lambda window: window[0])
    costs = ", ".join(f"{cost:.0f}" for cost, _ in windows)
    lines = "\n".join(f"{stat.size_diff / COUNT:8.0f} {stat.traceback}" for stat in where[:8])
    assert per_task <= BOUND, (
        f"{per_task:.0f} bytes per cached Task (bound {BOUND}; windows: {costs}); per Task by "
        f"line in the cheapest window:\n{lines}"
    )
    print(f"{per_task:.0f} bytes per cached Task (windows: {costs})")


def test_compacting_changes_no_value() -> None:
    """Equal before and after, same JSON, and the field-name sets shared between tasks."""
    first, second = running_task(1), running_task(2)
    encoded = codec.encode(first)
    copy = Task.model_validate_json(encoded)
    compact(copy)
    compact(first)
    compact(second)
    assert copy == Task.model_validate_json(encoded)
    assert codec.encode(copy) == encoded
    assert first.status.__pydantic_fields_set__ is second.status.__pydantic_fields_set__
    assert first.spec.command.value is second.spec.command.value
    assert first.status.hostname != second.status.hostname
