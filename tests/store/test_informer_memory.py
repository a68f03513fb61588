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

COUNT = 1000
BOUND = 6000
"""Bytes per cached Task, with margin: 9.6 KB before the cache shared what repeats, 4.2 KB
after (a RUNNING Task of the environments benchmark's shape, ~1.5 KB of JSON)."""


async def test_a_cached_task_costs_under_six_kilobytes() -> None:
    store = MemoryStore(prefix="/mem")
    for i in range(COUNT):  # raw puts: the informer decodes its own copies, as from etcd
        task = running_task(i)
        await store.put_raw(codec.registry_key(store.prefix, Task, task.name), codec.encode(task))
    informer = Informer(store, Task)
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
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per_task = held / COUNT
    assert per_task <= BOUND, f"{per_task:.0f} bytes per cached Task (bound {BOUND})"
    print(f"{per_task:.0f} bytes per cached Task")


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
