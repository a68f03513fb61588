"""Controller runtime benchmark: no-op reconciles/s over 10,000 objects, and write -> reconcile
start delay (p50/p99) next to the raw etcd put -> watch delay measured in the same run.
Each reconciles/s row has a CPU row beside it (`*_cpu_us_per_object`: this process's CPU over
the same pass, per object): the rates are wall-clock and move with the machine's load, the CPU
much less.

`.venv/bin/python -m hack.bench.runtime_bench [--etcd URL] [--objects N] [--samples N]`
prints a table and writes hack/bench/results/runtime_bench.json. On a shared 2-core machine
the absolute numbers are noisy; compare with the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from controller.runtime.reconciler import Context, Reconciler, Result
from controller.runtime.runner import Controller
from crds.meta import O2Model, ObjectMeta, Status
from crds.resource import Resource
from hack.bench.floor import (
    TXN_OPS,
    Floor,
    client_for,
    measure_floor,
    percentile,
    print_floor,
    write_json,
)
from store.api import Store
from store.codec import encode
from store.config import StoreConfig, open_store
from store.etcd import EtcdStore
from store.informer import InformerFactory

WORKERS = 4


class BenchSpec(O2Model):
    value: int = 0


class BenchItem(Resource):
    """An unregistered kind (plural `benchitems`) so the benchmark touches nothing real."""

    KIND: ClassVar[str] = "BenchItem"
    kind: Literal["BenchItem"] = "BenchItem"
    spec: BenchSpec = Field(default_factory=BenchSpec)
    status: Status = Field(default_factory=Status)


class NoOp(Reconciler):
    """Reads the object from the cache and returns; records when each key started."""

    name = "noop"
    kind = BenchItem
    workers = WORKERS
    resync_period = None

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.count = 0
        self.started: dict[str, float] = {}
        self.target = 0
        self.done = asyncio.Event()

    async def reconcile(self, key: str) -> Result:
        self.started[key] = time.perf_counter()
        self.ctx.cache(BenchItem).get(key)
        self.count += 1
        if self.count >= self.target:
            self.done.set()
        return Result()


class NullSink:
    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        return None


def item(i: int) -> BenchItem:
    return BenchItem(metadata=ObjectMeta(name=f"item-{i:05d}", uid=f"u{i}", generation=1))


async def load(store: EtcdStore, count: int) -> None:
    """Write `count` objects, 64 puts in flight (raw puts of valid documents)."""
    sem = asyncio.Semaphore(64)

    async def put(i: int) -> None:
        async with sem:
            obj = item(i)
            await store.put_raw(store.key_for(BenchItem, obj.metadata.name), encode(obj))

    await asyncio.gather(*(put(i) for i in range(count)))


async def throughput(reconciler: NoOp, ctl: Controller, *, count: int) -> dict[str, float]:
    """Initial sync (every cached object queued by the list) and one full resync pass."""
    informer = reconciler.ctx.cache(BenchItem)
    await informer.wait_synced()
    reconciler.target, reconciler.count = count, 0
    reconciler.done.clear()
    start, cpu = time.perf_counter(), time.process_time()
    ctl.start()
    await asyncio.wait_for(reconciler.done.wait(), 120)
    initial = count / (time.perf_counter() - start)
    initial_cpu = _cpu_us_per(cpu, count)
    reconciler.target, reconciler.count = count, 0
    reconciler.done.clear()
    start, cpu = time.perf_counter(), time.process_time()
    for key in informer.names():
        ctl.queue.add(key)
    await asyncio.wait_for(reconciler.done.wait(), 120)
    resync = count / (time.perf_counter() - start)
    return {
        "initial_sync_reconciles_per_s": initial,
        "initial_sync_cpu_us_per_object": initial_cpu,
        "resync_reconciles_per_s": resync,
        "resync_cpu_us_per_object": _cpu_us_per(cpu, count),
    }


def _cpu_us_per(since: float, count: int) -> float:
    """This process's CPU microseconds since `since` (time.process_time), per object."""
    return (time.process_time() - since) * 1e6 / count


async def end_to_end(
    endpoint: str, store: Store, reconciler: NoOp, *, count: int
) -> dict[str, float]:
    """Update every object through etcd, then reconciles/s from the first write to the last
    reconcile start, and this process's CPU per object meanwhile. The writes go in 128-put txns
    (8 in flight) from a raw client, so the benchmark's own writer costs little (its encoding
    and sends are in the CPU row) and the watch -> cache -> queue -> worker path is what is
    measured."""
    reconciler.target, reconciler.count = count, 0
    reconciler.done.clear()
    batches = [list(range(i, min(count, i + TXN_OPS))) for i in range(0, count, TXN_OPS)]
    sem = asyncio.Semaphore(8)
    async with client_for(endpoint) as client:

        async def txn(batch: list[int]) -> None:
            puts = []
            for i in batch:
                obj = item(i).model_copy(update={"spec": BenchSpec(value=1)})
                key = store.key_for(BenchItem, obj.metadata.name).encode()
                puts.append(client.transactions.put(key, encode(obj)))
            async with sem:
                await client.transaction(compare=[], success=puts, failure=[])

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(txn(b) for b in batches))
        await asyncio.wait_for(reconciler.done.wait(), 120)
        rate = count / (time.perf_counter() - start)
    return {
        "watch_driven_reconciles_per_s": rate,
        "watch_driven_cpu_us_per_object": _cpu_us_per(cpu, count),
    }


async def delays(
    endpoint: str, store: Store, reconciler: NoOp, *, samples: int
) -> tuple[list[float], list[float]]:
    """Interleaved samples, same writer (one raw etcd client doing plain puts):
    put -> raw watch event, and put -> start of that object's reconcile."""
    raw_key = b"/bench-runtime-raw/w"
    probe_key = store.key_for(BenchItem, "probe").encode()
    raw: list[float] = []
    runtime: list[float] = []
    async with client_for(endpoint) as client:
        watch = await client.watch(raw_key)
        stream = aiter(watch)
        try:
            for i in range(samples + 20):
                start = time.perf_counter()
                await client.put(raw_key, b"x")
                await asyncio.wait_for(anext(stream), 10)
                raw.append(time.perf_counter() - start)
                obj = BenchItem(metadata=ObjectMeta(name="probe", uid="p"), spec=BenchSpec(value=i))
                reconciler.target, reconciler.count = 1, 0
                reconciler.done.clear()
                start = time.perf_counter()
                await client.put(probe_key, encode(obj))
                await asyncio.wait_for(reconciler.done.wait(), 10)
                runtime.append(reconciler.started["probe"] - start)
        finally:
            await watch.cancel()
    return raw[20:], runtime[20:]


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def bench(endpoint: str, *, objects: int, samples: int) -> dict[str, Any]:
    floor = await measure_floor(endpoint, quick=True)
    prefix = f"/bench-runtime-{secrets.token_hex(4)}"
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=prefix))
    factory = InformerFactory(store)
    ctx = Context(store=store, kv=store, informers=factory, events=NullSink())
    reconciler = NoOp(ctx)
    ctl = Controller(reconciler)
    try:
        await load(store, objects)
        ctl.attach()
        gc.collect()
        before = rss_bytes()
        factory.start()
        await factory.wait_synced()
        gc.collect()
        cache_bytes = rss_bytes() - before
        rates = await throughput(reconciler, ctl, count=objects)
        rates["cache_rss_bytes_per_object"] = cache_bytes / objects
        rates |= await end_to_end(endpoint, store, reconciler, count=objects)
        raw, d = await delays(endpoint, store, reconciler, samples=samples)
    finally:
        await ctl.stop()
        await factory.stop()
        await store.close()
    return summarize(floor, rates, raw, d, objects=objects)


def summarize(
    floor: Floor, rates: dict[str, float], raw: list[float], d: list[float], *, objects: int
) -> dict[str, Any]:
    p50, p99 = statistics.median(d) * 1000, percentile(d, 0.99) * 1000
    raw50, raw99 = statistics.median(raw) * 1000, percentile(raw, 0.99) * 1000
    return {
        "objects": objects,
        "workers": WORKERS,
        **rates,
        "write_to_reconcile_p50_ms": p50,
        "write_to_reconcile_p99_ms": p99,
        "raw_watch_p50_ms": raw50,
        "raw_watch_p99_ms": raw99,
        "added_p50_ms": p50 - raw50,
        "added_p99_ms": p99 - raw99,
        "targets": {"added_p99_ms_max": 5.0, "reconciles_per_s_min": 2000},
        "floor": asdict(floor),
    }


def print_table(result: dict[str, Any]) -> None:
    rows = [
        (
            f"no-op reconciles/s, initial sync of {result['objects']:,}",
            "initial_sync_reconciles_per_s",
            ",.0f",
        ),
        ("  CPU us per object", "initial_sync_cpu_us_per_object", ".1f"),
        (f"no-op reconciles/s, resync of {result['objects']:,}", "resync_reconciles_per_s", ",.0f"),
        ("  CPU us per object", "resync_cpu_us_per_object", ".1f"),
        (
            f"reconciles/s, {result['objects']:,} etcd writes -> reconciled",
            "watch_driven_reconciles_per_s",
            ",.0f",
        ),
        ("  CPU us per object (the writer's included)", "watch_driven_cpu_us_per_object", ".1f"),
        ("cache RSS per object, bytes (approx.)", "cache_rss_bytes_per_object", ",.0f"),
        ("write -> reconcile start p50 ms", "write_to_reconcile_p50_ms", ".2f"),
        ("write -> reconcile start p99 ms", "write_to_reconcile_p99_ms", ".2f"),
        ("raw etcd put -> watch p50 ms (interleaved)", "raw_watch_p50_ms", ".2f"),
        ("raw etcd put -> watch p99 ms (interleaved)", "raw_watch_p99_ms", ".2f"),
        ("runtime adds, p50 ms", "added_p50_ms", ".2f"),
        ("runtime adds, p99 ms (target <= 5)", "added_p99_ms", ".2f"),
    ]
    width = max(len(label) for label, _, _ in rows)
    print(f"{'controller runtime'.ljust(width)}  value")
    for label, key, fmt in rows:
        print(f"{label.ljust(width)}  {format(result[key], fmt):>10}")


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    if args.etcd:
        return await bench(args.etcd, objects=args.objects, samples=args.samples)
    from store.embedded import EmbeddedEtcd, free_port

    with tempfile.TemporaryDirectory(prefix="o2-runtime-bench-") as tmp:
        async with EmbeddedEtcd(Path(tmp) / "etcd", free_port(), free_port()) as etcd:
            return await bench(etcd.endpoint, objects=args.objects, samples=args.samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--etcd", help="use an existing etcd instead of a private one")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args(argv)
    result = asyncio.run(_main(args))
    print_floor(Floor(**result["floor"]))
    print()
    print_table(result)
    print(f"wrote {write_json('runtime_bench', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
