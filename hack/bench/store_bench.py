"""Benchmark: EtcdStore vs raw aetcd for create/update/get, on the same etcd in the same run.

Run: .venv/bin/python -m hack.bench.store_bench [--quick] [--etcd URL]. Starts a private etcd
(real fsync) unless --etcd is given. Each phase is cut into slices run alternately by the raw
client and by the store, so both sides see the same background load (the machine is a shared
2-core box: absolute numbers are noisy, the ratio much less so). Reports throughput, the
store/raw ratio (target >= 0.70), client CPU per op, and the etcd floor (hack.bench.floor).
Writes hack/bench/results/store_bench.json.

`get` reads objects this store just wrote (its revision cache skips parsing); `get-cold` uses a
fresh store, so every read parses and validates the JSON (raw parses nothing).
`status-many`: the status of every object in 128-op CAS txns, 8 txns in flight (both sides).
Last, the store's own CPU per op on MemoryStore (no grpc, no etcd; best of 5, GC on and off):
the steadiest measure of the store's overhead when the machine is loaded. The load average at
the end of the run is printed and saved with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
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
from store.resources import ResourceStore

TARGET_RATIO = 0.70
OPS = ("create", "update", "get", "get-cold", "status-many")
STORE_OPS = (*OPS, "update-many")
"""The store's own CPU (MemoryStore) also times `update-many`: each object's spec (the
environment controller's write of every task of a transition) in batched txns."""
SLICES = 10
OpFn = Callable[[int], Awaitable[object]]


def make_task(i: int) -> Task:
    """A realistic Task (~1.3 KiB stored), as the task controller writes them."""
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


def changed(task: Task) -> Task:
    spec = task.spec.model_copy(update={"run_number": 1, "state": "RUNNING"})
    return task.model_copy(update={"spec": spec})


def restarted(task: Task) -> Task:
    spec = task.spec.model_copy(update={"run_number": (task.spec.run_number or 0) + 1})
    return task.model_copy(update={"spec": spec})


def with_phase(task: Task, phase: str) -> Task:
    return task.model_copy(update={"status": task.status.model_copy(update={"phase": phase})})


class StoreSide:
    """The operations through EtcdStore. Inputs are prepared outside the timed calls."""

    def __init__(self, store: ResourceStore, cold: ResourceStore, tasks: list[Task]) -> None:
        self.store, self.cold, self.tasks = store, cold, tasks
        self.written: list[Task] = list(tasks)
        self.pending: list[Task] = []

    def prepare(self, op: str) -> None:
        if op == "update":
            self.pending = [changed(t) for t in self.written]
        elif op == "status-many":
            self.pending = [with_phase(t, "Finished") for t in self.written]
        elif op == "update-many":
            self.pending = [restarted(t) for t in self.written]

    async def create(self, i: int) -> None:
        self.written[i] = await self.store.create(self.tasks[i])

    async def update(self, i: int) -> None:
        self.written[i] = await self.store.update(self.pending[i])

    async def get(self, i: int) -> None:
        await self.store.get(Task, self.tasks[i].metadata.name)

    async def get_cold(self, i: int) -> None:
        await self.cold.get(Task, self.tasks[i].metadata.name)

    async def status_many(self, indexes: range) -> None:
        result = await self.store.update_status_many([self.pending[i] for i in indexes])
        assert result.ok
        for i, written in zip(indexes, result.written, strict=True):
            self.written[i] = written

    async def update_many(self, indexes: range) -> None:
        result = await self.store.update_many([self.pending[i] for i in indexes])
        assert result.ok


class RawSide:
    """The same operations with the raw aetcd client on pre-encoded values."""

    def __init__(self, client: aetcd.Client, prefix: str, tasks: list[Task]) -> None:
        self.client = client
        self.keys = [f"{prefix}/registry/tasks/{t.metadata.name}".encode() for t in tasks]
        self.values = [codec.encode(t) for t in tasks]
        self.updates = [codec.encode(changed(t)) for t in tasks]
        self.finished = [codec.encode(with_phase(changed(t), "Finished")) for t in tasks]
        self.revisions = [0] * len(tasks)

    def prepare(self, op: str) -> None:
        return None

    async def create(self, i: int) -> None:
        tx = self.client.transactions
        await self._put(i, [tx.create(self.keys[i]) == 0], self.values[i])

    async def update(self, i: int) -> None:
        tx = self.client.transactions
        await self._put(i, [tx.mod(self.keys[i]) == self.revisions[i]], self.updates[i])

    async def _put(self, i: int, compare: list[object], value: bytes) -> None:
        tx = self.client.transactions
        ok, responses = await self.client.transaction(
            compare=compare, success=[tx.put(self.keys[i], value)], failure=[]
        )
        assert ok
        self.revisions[i] = responses[0].response_put.header.revision

    async def get(self, i: int) -> None:
        assert await self.client.get(self.keys[i]) is not None

    async def get_cold(self, i: int) -> None:
        await self.get(i)

    async def status_many(self, indexes: range) -> None:
        tx = self.client.transactions
        batches = [indexes[j : j + TXN_OPS] for j in range(0, len(indexes), TXN_OPS)]

        async def one(b: int) -> None:
            ok, _ = await self.client.transaction(
                compare=[tx.mod(self.keys[i]) == self.revisions[i] for i in batches[b]],
                success=[tx.put(self.keys[i], self.finished[i]) for i in batches[b]],
                failure=[],
            )
            assert ok

        await run_in_flight(len(batches), 8, one)


@dataclass
class Tally:
    """Wall and CPU seconds and op count, summed over the slices of one side."""

    wall: float = 0.0
    cpu: float = 0.0
    ops: int = 0
    rates: list[float] = field(default_factory=list)

    async def measure(self, count: int, work: Awaitable[object]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        await work
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        self.ops += count

    @property
    def rate(self) -> float:
        return self.ops / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.ops * 1e6


def _work(side: StoreSide | RawSide, op: str, indexes: range, in_flight: int) -> Awaitable[object]:
    if op == "status-many":
        return side.status_many(indexes)
    if op == "update-many":
        assert isinstance(side, StoreSide)  # the store's own CPU only (STORE_OPS)
        return side.update_many(indexes)
    fn: OpFn = {
        "create": side.create,
        "update": side.update,
        "get": side.get,
        "get-cold": side.get_cold,
    }[op]
    return run_in_flight(len(indexes), in_flight, lambda i: fn(indexes[i]))


async def interleave(
    sides: dict[str, StoreSide | RawSide], op: str, *, count: int, in_flight: int
) -> dict[str, Tally]:
    """Run `op` over all objects on every side, in SLICES slices alternating the side order."""
    tallies = {name: Tally() for name in sides}
    for side in sides.values():
        side.prepare(op)
    step = count // SLICES
    for s in range(SLICES):
        indexes = range(s * step, count if s == SLICES - 1 else (s + 1) * step)
        order = list(sides) if s % 2 == 0 else list(reversed(sides))
        for name in order:
            await tallies[name].measure(len(indexes), _work(sides[name], op, indexes, in_flight))
    return tallies


async def run_mode(
    endpoint: str, client: aetcd.Client, *, count: int, in_flight: int
) -> dict[str, dict[str, Tally]]:
    tasks = [make_task(i) for i in range(count)]
    raw_prefix, store_prefix = (f"/bench-{s}-{secrets.token_hex(4)}" for s in ("raw", "store"))
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=store_prefix))
    cold = await open_store(StoreConfig(endpoints=(endpoint,), prefix=store_prefix))
    sides: dict[str, StoreSide | RawSide] = {
        "raw": RawSide(client, raw_prefix, tasks),
        "store": StoreSide(store, cold, tasks),
    }
    try:
        for warm in (store, cold):  # connect outside the timed slices
            await warm.ping()
        await client.get(b"/bench-warm-up")
        return {op: await interleave(sides, op, count=count, in_flight=in_flight) for op in OPS}
    finally:
        await store.close()
        await cold.close()
        for prefix in (raw_prefix, store_prefix):
            await client.delete_prefix(prefix.encode())


async def run(endpoint: str, *, quick: bool) -> dict[str, object]:
    modes = {
        "sequential": (1, 400 if quick else 1000),
        "16 in flight": (16, 1000 if quick else 4000),
    }
    rows: list[dict[str, object]] = []
    async with client_for(endpoint) as client:
        for mode, (in_flight, count) in modes.items():
            results = await run_mode(endpoint, client, count=count, in_flight=in_flight)
            rows.extend(_row(op, mode, results[op]) for op in OPS)
            print(f"{mode}: done", flush=True)
    floor = await measure_floor(endpoint, quick=quick)
    cpu = {"gc on": await store_cpu(count=1000 if quick else 3000)}
    gc.disable()
    try:
        cpu["gc off"] = await store_cpu(count=1000 if quick else 3000)
    finally:
        gc.enable()
    return {
        "store_cpu_us": cpu,
        "rows": rows,
        "floor": asdict(floor),
        "slices": SLICES,
        "target_ratio": TARGET_RATIO,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


async def store_cpu(*, count: int, repeats: int = 5) -> dict[str, float]:
    """The store's own CPU per op (MemoryStore: no grpc, no etcd), best of `repeats`: steadier
    than throughput on a loaded machine. With GC on and off: decoding allocates a lot."""
    from store.memory import MemoryStore

    tasks = [make_task(i) for i in range(count)]
    best: dict[str, float] = {}
    for _ in range(repeats):
        store = MemoryStore()
        side = StoreSide(store, ResourceStore(store.kv), tasks)  # cold: same data, no cache
        for op in STORE_OPS:
            side.prepare(op)
            started = time.process_time()
            await _work(side, op, range(count), 1)
            used = (time.process_time() - started) / count * 1e6
            best[op] = min(best.get(op, used), used)
    return best


def _row(op: str, mode: str, tallies: dict[str, Tally]) -> dict[str, object]:
    raw, ours = tallies["raw"], tallies["store"]
    return {
        "op": op,
        "mode": mode,
        "raw": raw.rate,
        "store": ours.rate,
        "ratio": ours.rate / raw.rate,
        "raw_cpu_us": raw.cpu_us,
        "store_cpu_us": ours.cpu_us,
    }


def print_report(report: dict[str, object]) -> None:
    print(
        f"{'op':<13}{'mode':<14}{'raw aetcd/s':>12}{'EtcdStore/s':>12}{'ratio':>7}"
        f"{'raw cpu us/op':>15}{'store cpu us/op':>17}"
    )
    rows = report["rows"]
    assert isinstance(rows, list)
    for row in rows:
        flag = "" if row["ratio"] >= TARGET_RATIO else "  < target"
        print(
            f"{row['op']:<13}{row['mode']:<14}{row['raw']:>12,.0f}{row['store']:>12,.0f}"
            f"{row['ratio']:>7.2f}{row['raw_cpu_us']:>15,.0f}{row['store_cpu_us']:>17,.0f}{flag}"
        )
    print(f"load average at the end (1/5/15 min): {report['load_average']}")
    cpu = report["store_cpu_us"]
    assert isinstance(cpu, dict)
    print(
        "\nstore's own CPU us/op (MemoryStore, best of 5): "
        + "; ".join(
            f"{mode}: " + ", ".join(f"{op} {us:.0f}" for op, us in ops.items())
            for mode, ops in cpu.items()
        )
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
    parser.add_argument("--quick", action="store_true", help="fewer operations")
    args = parser.parse_args(argv)
    report = asyncio.run(_main(args))
    print_report(report)
    report["quick"] = args.quick
    print(f"wrote {write_json('store_bench', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
