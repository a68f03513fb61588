"""What one cached Task costs an informer, from tracemalloc: the manager holds every Task of
every environment in its cache, so its bytes per Task bound the manager's memory at scale."""

from __future__ import annotations

import gc
import tracemalloc
import uuid
from datetime import UTC, datetime

from crds.kinds.task import Task
from crds.labels import ENV_LABEL
from crds.meta import ObjectMeta, OwnerReference
from store import codec
from store.compact import compact
from store.informer import Informer
from store.memory import MemoryStore

COUNT = 1000
AGENTS = 50
NOW = datetime(2026, 12, 6, tzinfo=UTC)
BOUND = 6000
"""Bytes per cached Task, with margin: 9.6 KB before the cache shared what repeats, 4.2 KB
after (a RUNNING Task of the environments benchmark's shape, ~1.5 KB of JSON)."""


def running_task(i: int) -> Task:
    """A RUNNING task as the task controller leaves it: placed, launched, configured."""
    agent = i % AGENTS
    raw = {
        "kind": "Task",
        "metadata": {
            "name": f"bench-flp-d{agent:02d}-readout-{i}",
            "uid": str(uuid.UUID(int=i)),
            "generation": 1,
            "labels": {ENV_LABEL: "bench"},
            "finalizers": ["o2.dev/task-cleanup"],
            "creationTimestamp": NOW.isoformat(),
        },
        "spec": {
            "environment": "bench",
            "role": f"flp-d{agent:02d}.readout-{i}",
            "taskClass": "readout",
            "command": {"value": "o2-sample-task", "arguments": ["--role", "readout"]},
            "wants": {"cpus": 0.1, "memory": 64, "ports": 1},
            "constraints": [{"attribute": "detector", "value": f"d{agent:02d}"}],
            "state": "RUNNING",
            "properties": {"rate": "100", "detector": f"d{agent:02d}"},
            "runNumber": 1,
        },
        "status": {
            "phase": "Running",
            "state": "RUNNING",
            "agentId": f"agent-{agent}-S0",
            "hostname": f"flp-d{agent:02d}",
            "ports": [31000 + i],
            "pid": 1000 + i,
            "mesosTaskId": f"bench-flp-d{agent:02d}-readout-{i}.{uuid.UUID(int=i + 1)}",
            "executorId": f"o2-executor-flp-d{agent:02d}",
            "lastTransitionId": "3f0e8d4c-2a57-4a35-9d2b-6b1f4f8c2a10",
            "configuredProperties": "addda595b9312f51",
            "startedAt": NOW.isoformat(),
        },
    }
    task = Task.model_validate(raw)
    owner = OwnerReference(kind="Environment", name="bench", uid="env-uid", controller=True)
    meta = ObjectMeta.model_validate(
        task.metadata.model_dump() | {"owner_references": (owner.model_dump(),)}
    )
    return task.model_copy(update={"metadata": meta})


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
