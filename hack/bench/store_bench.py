"""Benchmark: EtcdStore vs raw aetcd for create/update/get, on the same etcd in the same run.

Run: .venv/bin/python -m hack.bench.store_bench [--quick] [--etcd URL]. Starts a private etcd
(real fsync) unless --etcd is given; alternates raw/store rounds and reports medians, the
store/raw ratio (target >= 0.70) and the etcd floor (hack.bench.floor). Writes
hack/bench/results/store_bench.json. Shared 2-core machine: absolute numbers are noisy.
`get` reads objects this store just wrote (its revision cache skips decoding); `get-cold` uses
a fresh store, so every read parses and validates the JSON (raw does neither).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from pathlib import Path

import aetcd

from crds.kinds import Task
from crds.kinds.common import Command, Wants
from crds.kinds.task import TaskSpec, TaskStatus
from crds.meta import ObjectMeta
from hack.bench.floor import (
    TXN_OPS,
    Floor,
    client_for,
    measure_floor,
    print_floor,
    run_in_flight,
    write_json,
)
from store import codec
from store.config import StoreConfig, open_store
from store.etcd import EtcdStore

TARGET_RATIO = 0.70
OPS = ("create", "update", "get", "get-cold", "status-many")
"""`status-many`: every object's status in 128-op CAS txns, 8 txns in flight (both sides)."""
Result = dict[str, float]


def make_task(i: int) -> Task:
    """A realistic Task (~1 KiB stored), as the task controller writes them."""
    return Task(
        metadata=ObjectMeta(
            name=f"physics-1-flp-{i:05d}-readout",
            labels={"o2.io/env": "physics-1", "o2.io/role": "readout"},
        ),
        spec=TaskSpec(
            environment="physics-1",
            role=f"flp-{i:05d}.readout",
            task_class="readout",
            command=Command(value="o2-readout-exe", arguments=("--detector", "TPC", "-v")),
            wants=Wants(cpus=0.5, memory=512, ports=2),
            state="CONFIGURED",
            properties={f"key{j}": f"value-{j}-{'x' * 40}" for j in range(10)},
        ),
        status=TaskStatus(phase="Running", state="CONFIGURED", hostname="flp-001", pid=1000 + i),
    )


def changed(task: Task, round_: int) -> Task:
    spec = task.spec.model_copy(update={"run_number": round_ + 1, "state": "RUNNING"})
    return task.model_copy(update={"spec": spec})


async def bench_store(store: EtcdStore, tasks: list[Task], *, in_flight: int) -> Result:
    written: list[Task] = [t for t in tasks]

    async def create(i: int) -> None:
        written[i] = await store.create(tasks[i])

    async def update(i: int) -> None:
        written[i] = await store.update(changed(written[i], 1))

    async def get(i: int) -> None:
        await store.get(Task, tasks[i].metadata.name)

    result = await _phases(len(tasks), in_flight, {"create": create, "update": update, "get": get})
    cold = EtcdStore(store.kv.conn, prefix=store.prefix)  # empty cache: every get decodes
    try:
        result["get-cold"] = await run_in_flight(
            len(tasks), in_flight, lambda i: cold.get(Task, tasks[i].metadata.name)
        )
    finally:
        await cold.close()
    statuses = [with_phase(w, "Finished") for w in written]
    start = time.perf_counter()
    outcomes = await store.update_status_many(statuses)
    result["status-many"] = len(tasks) / (time.perf_counter() - start)
    assert all(isinstance(o, Task) for o in outcomes)
    return result


def with_phase(task: Task, phase: str) -> Task:
    return task.model_copy(update={"status": task.status.model_copy(update={"phase": phase})})


async def bench_raw(
    client: aetcd.Client, prefix: str, tasks: list[Task], *, in_flight: int
) -> Result:
    keys = [f"{prefix}/registry/tasks/{t.metadata.name}".encode() for t in tasks]
    values = [codec.encode(t) for t in tasks]
    updates = [codec.encode(changed(t, 1)) for t in tasks]
    revisions = [0] * len(tasks)
    tx = client.transactions

    async def create(i: int) -> None:
        ok, responses = await client.transaction(
            compare=[tx.create(keys[i]) == 0], success=[tx.put(keys[i], values[i])], failure=[]
        )
        assert ok
        revisions[i] = responses[0].response_put.header.revision

    async def update(i: int) -> None:
        ok, responses = await client.transaction(
            compare=[tx.mod(keys[i]) == revisions[i]],
            success=[tx.put(keys[i], updates[i])],
            failure=[],
        )
        assert ok
        revisions[i] = responses[0].response_put.header.revision

    async def get(i: int) -> None:
        assert await client.get(keys[i]) is not None

    ops = {"create": create, "update": update, "get": get, "get-cold": get}
    result = await _phases(len(tasks), in_flight, ops)
    finished = [codec.encode(with_phase(changed(t, 1), "Finished")) for t in tasks]
    batches = [range(i, min(i + TXN_OPS, len(tasks))) for i in range(0, len(tasks), TXN_OPS)]

    async def status_batch(b: int) -> None:
        ok, _ = await client.transaction(
            compare=[tx.mod(keys[i]) == revisions[i] for i in batches[b]],
            success=[tx.put(keys[i], finished[i]) for i in batches[b]],
            failure=[],
        )
        assert ok

    start = time.perf_counter()
    await run_in_flight(len(batches), 8, status_batch)
    result["status-many"] = len(tasks) / (time.perf_counter() - start)
    return result


async def _phases(
    count: int, in_flight: int, ops: Mapping[str, Callable[[int], Awaitable[None]]]
) -> Result:
    return {name: await run_in_flight(count, in_flight, op) for name, op in ops.items()}


async def _store_side(endpoint: str, prefix: str, tasks: list[Task], *, in_flight: int) -> Result:
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=prefix))
    try:
        return await bench_store(store, tasks, in_flight=in_flight)
    finally:
        await store.close()


async def run(endpoint: str, *, quick: bool) -> dict[str, object]:
    rounds = 1 if quick else 3
    modes = {"sequential": (1, 300 if quick else 600), "16 in flight": (16, 800 if quick else 2000)}
    samples: dict[tuple[str, str, str], list[float]] = {}
    async with client_for(endpoint) as client:
        for round_ in range(rounds):
            for mode, (in_flight, count) in modes.items():
                tasks = [make_task(i) for i in range(count)]
                sides = ("raw", "store") if round_ % 2 == 0 else ("store", "raw")  # alternate
                for side in sides:
                    prefix = f"/bench-{side}-{secrets.token_hex(4)}"
                    if side == "raw":
                        result = await bench_raw(client, prefix, tasks, in_flight=in_flight)
                    else:
                        result = await _store_side(endpoint, prefix, tasks, in_flight=in_flight)
                    await client.delete_prefix(prefix.encode())
                    for op in OPS:
                        samples.setdefault((mode, op, side), []).append(result[op])
            print(f"round {round_ + 1}/{rounds} done", flush=True)
    floor = await measure_floor(endpoint, quick=quick)
    return _report(samples, floor, modes=list(modes), rounds=rounds)


def _report(
    samples: dict[tuple[str, str, str], list[float]],
    floor: Floor,
    *,
    modes: list[str],
    rounds: int,
) -> dict[str, object]:
    rows = []
    for mode in modes:
        for op in OPS:
            raw = statistics.median(samples[(mode, op, "raw")])
            ours = statistics.median(samples[(mode, op, "store")])
            rows.append({"op": op, "mode": mode, "raw": raw, "store": ours, "ratio": ours / raw})
    return {"rows": rows, "floor": asdict(floor), "rounds": rounds, "target_ratio": TARGET_RATIO}


def print_report(report: dict[str, object]) -> None:
    print(f"{'op':<13}{'mode':<14}{'raw aetcd/s':>13}{'EtcdStore/s':>13}{'ratio':>8}")
    rows = report["rows"]
    assert isinstance(rows, list)
    for row in rows:
        flag = "" if row["ratio"] >= TARGET_RATIO else "  < target"
        print(
            f"{row['op']:<13}{row['mode']:<14}{row['raw']:>13,.0f}{row['store']:>13,.0f}"
            f"{row['ratio']:>8.2f}{flag}"
        )
    print()
    floor = report["floor"]
    assert isinstance(floor, dict)
    print_floor(Floor(**floor))


async def _main(args: argparse.Namespace) -> dict[str, object]:
    if args.etcd:
        return await run(args.etcd, quick=args.quick)
    from store.embedded import EmbeddedEtcd, free_port

    with tempfile.TemporaryDirectory(prefix="o2-store-bench-") as tmp:
        async with EmbeddedEtcd(Path(tmp) / "etcd", free_port(), free_port()) as etcd:
            return await run(etcd.endpoint, quick=args.quick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--etcd", help="benchmark an existing etcd instead of a private one")
    parser.add_argument("--quick", action="store_true", help="one short round")
    args = parser.parse_args(argv)
    report = asyncio.run(_main(args))
    print_report(report)
    report["quick"] = args.quick
    print(f"wrote {write_json('store_bench', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
