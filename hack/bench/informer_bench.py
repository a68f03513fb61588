"""Informer benchmark: microseconds per watch event and bytes per cached object.

The manager's Task informer applies every status write of every task (~90,000 events for a
10,000-task walk): what one event costs it (the store's decode, the informer's compaction,
indexes and handler fan-out) is the per-task CPU this measures, apart from etcd and Mesos.
Three feeds over N RUNNING tasks (the environments benchmark's shape), each task's status
changed once per round:

- `echo`: this process's own status writes (`update_status_many`), handed on from the
  store's object cache as the manager's writes are;
- `late`: the same, but each task's status written twice before the watch delivers the
  first (a busy manager's watch lags its writes: the cache already holds the second);
- `foreign`: status writes of another process (its own store on the same etcd), which this
  process's store decodes.

The writes of a round are made while the informer is stopped; the timed part is the informer
catching up from the store's history (process CPU seconds, the least over the rounds: a busy
machine matters less). Bytes per task come from a separate untimed pass under tracemalloc:
what the process holds per task after the rounds (the fake etcd's values, the store's object
cache and the informer's; for `foreign`, the writer's store too).

With `--etcd` the store is an EtcdStore on a private etcd (no fsync) instead of the in-memory
store: the watch path through grpc and aetcd is then timed too (the manager's), and the bytes
per task are not measured (`--feeds` picks the feeds).

`.venv/bin/python -m hack.bench.informer_bench [--tasks N] [--rounds N] [--etcd] [--feeds F,..]`
prints a table and writes hack/bench/results/informer_bench.json (informer_bench_etcd.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from crds.kinds.task import Task, TaskStatus
from crds.labels import ENV_LABEL
from crds.meta import Condition
from hack.bench.floor import write_json
from store import codec
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd, free_port
from store.informer import CacheEvent, Informer
from store.memory import MemoryStore
from store.resources import ResourceStore

AGENTS = 50
NOW = datetime(2026, 12, 7, tzinfo=UTC)
Feed = Literal["echo", "late", "foreign"]
FEEDS: tuple[Feed, ...] = ("echo", "late", "foreign")
STATES = ("CONFIGURED", "RUNNING")


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
            "ownerReferences": [
                {"kind": "Environment", "name": "bench", "uid": "env-uid", "controller": True}
            ],
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
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Running"},
            ],
        },
    }
    return Task.model_validate(raw)


def next_status(status: TaskStatus, round_: int) -> TaskStatus:
    """The status a transition leaves: new OCC state, transition id and Ready condition."""
    state = STATES[round_ % 2]
    ready = Condition(
        type="Ready",
        status="True",
        reason=state.title(),
        last_transition_time=NOW + timedelta(seconds=round_),
    )
    return status.model_copy(  # as the task controller's status updates copy
        update={
            "state": state,
            "last_transition_id": str(uuid.UUID(int=round_ + 7)),
            "conditions": (ready,),
        },
    )


async def load(store: ResourceStore, tasks: int) -> None:
    for i in range(tasks):  # raw puts: the informer decodes its own copies, as from etcd
        task = running_task(i)
        await store.put_raw(codec.registry_key(store.prefix, Task, task.name), codec.encode(task))


async def write_round(store: ResourceStore, tasks: list[Task], r: int) -> list[Task]:
    """Change every task's status once; the tasks as written."""
    changed = [codec.replaced(t, {"status": next_status(t.status, r)}) for t in tasks]
    result = await store.update_status_many(changed)
    assert result.ok, result
    return result.written


async def catch_up(informer: Informer[Task], revision: int) -> float:
    """Process CPU seconds the informer takes to apply everything up to `revision`."""
    gc.collect()
    start = time.process_time()
    informer.start()
    await informer.wait_for_revision(revision)
    spent = time.process_time() - start
    await informer.stop()
    return spent


@contextlib.contextmanager
def private_etcd() -> Iterator[EmbeddedEtcd]:
    with tempfile.TemporaryDirectory(prefix="informer-bench-") as tmp:
        etcd = EmbeddedEtcd(
            Path(tmp) / "data", free_port(), free_port(), extra_args=("--unsafe-no-fsync",)
        )
        etcd.start_sync()
        try:
            yield etcd
        finally:
            etcd.stop_sync()


async def open_bench_store(etcd: EmbeddedEtcd | None) -> ResourceStore:
    if etcd is None:
        return MemoryStore(prefix="/bench")
    prefix = f"/bench-{uuid.uuid4().hex[:8]}"
    return await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix=prefix))


async def run_feed(
    feed: Feed, *, tasks: int, rounds: int, measure: bool, etcd: EmbeddedEtcd | None = None
) -> dict[str, float]:
    """us per event over `rounds` rounds; with `measure`, bytes per cached task instead."""
    store = await open_bench_store(etcd)
    try:
        return await _run_feed(store, feed, tasks=tasks, rounds=rounds, measure=measure)
    finally:
        await store.close()


async def _run_feed(
    store: ResourceStore, feed: Feed, *, tasks: int, rounds: int, measure: bool
) -> dict[str, float]:
    await load(store, tasks)
    if measure:
        gc.collect()
        tracemalloc.start()
    informer = Informer(store, Task)
    events = 0

    def count(_: CacheEvent[Any]) -> None:
        nonlocal events
        events += 1

    informer.add_handler(count)
    informer.start()
    await informer.wait_synced()
    await informer.stop()
    writer: ResourceStore = store
    if feed == "foreign":  # another process: its own store (and object cache) on the same KV
        writer = ResourceStore(store.backend, prefix=store.prefix)
    written = (await writer.list(Task)).items
    spent = float("inf")
    per_round = 2 if feed == "late" else 1
    for r in range(rounds):
        for w in range(per_round):
            written = await write_round(writer, written, r * per_round + w)
        events = 0
        spent = min(
            spent, await catch_up(informer, max(t.metadata.resource_version or 0 for t in written))
        )
        assert events == tasks * per_round, (events, tasks)
    if not measure:
        return {f"{feed}_us_per_event": spent / (tasks * per_round) * 1e6}
    await store.compact(informer.revision)  # the fake keeps every value since: not the cache's
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {f"{feed}_bytes_per_task": held / tasks}


async def bench(
    *, tasks: int, rounds: int, feeds: tuple[Feed, ...] = FEEDS, etcd: EmbeddedEtcd | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {"tasks": tasks, "rounds": rounds, "etcd": etcd is not None}
    for feed in feeds:
        result |= await run_feed(feed, tasks=tasks, rounds=rounds, measure=False, etcd=etcd)
        if etcd is None:
            result |= await run_feed(feed, tasks=tasks, rounds=rounds, measure=True)
    return result


def print_table(result: dict[str, Any]) -> None:
    where = "etcd" if result["etcd"] else "in-memory store"
    print(f"informer ({where}), {result['tasks']:,} tasks x {result['rounds']} status rounds")
    for feed in FEEDS:
        us, size = result.get(f"{feed}_us_per_event"), result.get(f"{feed}_bytes_per_task")
        if us is not None:
            print(
                f"  {feed:8s} {us:8.1f} us/event  " + (f"{size:8,.0f} bytes/task" if size else "")
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--etcd", action="store_true", help="EtcdStore on a private etcd")
    parser.add_argument("--feeds", default=",".join(FEEDS), help="comma-separated feeds")
    args = parser.parse_args(argv)
    feeds = tuple(f for f in FEEDS if f in args.feeds.split(","))
    with contextlib.ExitStack() as stack:
        etcd = stack.enter_context(private_etcd()) if args.etcd else None
        result = asyncio.run(bench(tasks=args.tasks, rounds=args.rounds, feeds=feeds, etcd=etcd))
    print_table(result)
    name = "informer_bench_etcd" if args.etcd else "informer_bench"
    print(f"wrote {write_json(name, result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
