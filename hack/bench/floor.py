"""The etcd floor (DESIGN §7) from one Python client, measured in the same run as a benchmark.

(a) single puts at 1/16/64 in flight, (b) 128-op txns with 8 in flight, and put -> watch delay
p50/p99. Import `measure_floor(endpoint)` (rates) or `same_writes(endpoint, n)` (the seconds n
writes take) from other benchmarks; run alone with
`.venv/bin/python -m hack.bench.floor [--etcd URL] [--quick]` (writes results/floor.json).
Numbers from a shared 2-core machine are noisy: compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aetcd

RESULTS = Path(__file__).resolve().parent / "results"
VALUE = b'{"pad":"' + b"x" * 1012 + b'"}'  # 1 KiB JSON, as in DESIGN §7
TXN_OPS = 128


@dataclass(frozen=True)
class Floor:
    puts_seq: float
    puts_16: float
    puts_64: float
    txn_writes: float
    """Writes/s through 128-op txns with 8 txns in flight."""
    watch_p50_ms: float
    watch_p99_ms: float

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("(a) puts/s, sequential", f"{self.puts_seq:,.0f}"),
            ("(a) puts/s, 16 in flight", f"{self.puts_16:,.0f}"),
            ("(a) puts/s, 64 in flight", f"{self.puts_64:,.0f}"),
            (f"(b) writes/s, {TXN_OPS}-op txns x 8 in flight", f"{self.txn_writes:,.0f}"),
            ("put -> watch delay p50 ms", f"{self.watch_p50_ms:.2f}"),
            ("put -> watch delay p99 ms", f"{self.watch_p99_ms:.2f}"),
        ]


def client_for(endpoint: str) -> aetcd.Client:
    url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    return aetcd.Client(url.hostname or "127.0.0.1", url.port or 2379, timeout=30)


async def run_in_flight(
    count: int, in_flight: int, op: Callable[[int], Awaitable[object]]
) -> float:
    """Run op(0..count-1) with at most `in_flight` outstanding; returns ops/s."""
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            await op(index)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return count / (time.perf_counter() - start)


async def put_rate(client: aetcd.Client, prefix: str, *, count: int, in_flight: int) -> float:
    return await run_in_flight(
        count, in_flight, lambda i: client.put(f"{prefix}/p{i % 4096:05d}".encode(), VALUE)
    )


async def txn_rate(client: aetcd.Client, prefix: str, *, txns: int, in_flight: int = 8) -> float:
    async def txn(i: int) -> object:
        puts = [
            client.transactions.put(f"{prefix}/t{(i * TXN_OPS + j) % 8192:05d}".encode(), VALUE)
            for j in range(TXN_OPS)
        ]
        return await client.transaction(compare=[], success=puts, failure=[])

    return TXN_OPS * await run_in_flight(txns, in_flight, txn)


async def watch_delays(client: aetcd.Client, prefix: str, *, samples: int) -> list[float]:
    """Seconds from just before put() to the watch iterator yielding that key."""
    key = f"{prefix}/w".encode()
    watch = await client.watch(key)
    stream = aiter(watch)
    delays: list[float] = []
    try:
        for _ in range(samples + 20):
            start = time.perf_counter()
            await client.put(key, VALUE)
            await asyncio.wait_for(anext(stream), timeout=10)
            delays.append(time.perf_counter() - start)
    finally:
        await watch.cancel()
    return delays[20:]


async def same_writes(endpoint: str, writes: int) -> tuple[float, float]:
    """Seconds `writes` raw writes take, as puts 16 in flight (a) and in 128-op txns 8 in
    flight (b), under a throwaway prefix: the floor of a benchmark step that needs `writes`."""
    prefix = f"/bench-same-{secrets.token_hex(4)}"
    async with client_for(endpoint) as client:
        try:
            puts = writes / await put_rate(client, prefix, count=writes, in_flight=16)
            txns = max(1, round(writes / TXN_OPS))
            batched = writes / await txn_rate(client, prefix, txns=txns)
        finally:
            await client.delete_prefix(prefix.encode())
    return puts, batched


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure_floor(endpoint: str, *, quick: bool = False) -> Floor:
    """Measure the floor on `endpoint` under a throwaway prefix, then delete it."""
    scale = 1 if quick else 3
    prefix = f"/bench-floor-{secrets.token_hex(4)}"
    async with client_for(endpoint) as client:
        try:
            await put_rate(client, prefix, count=100, in_flight=16)  # warm-up
            puts_seq = await put_rate(client, prefix, count=500 * scale, in_flight=1)
            puts_16 = await put_rate(client, prefix, count=1000 * scale, in_flight=16)
            puts_64 = await put_rate(client, prefix, count=1500 * scale, in_flight=64)
            txn = await txn_rate(client, prefix, txns=40 * scale)
            delays = await watch_delays(client, prefix, samples=200 * scale)
        finally:
            await client.delete_prefix(prefix.encode())
    return Floor(
        puts_seq=puts_seq,
        puts_16=puts_16,
        puts_64=puts_64,
        txn_writes=txn,
        watch_p50_ms=statistics.median(delays) * 1000,
        watch_p99_ms=percentile(delays, 0.99) * 1000,
    )


def print_floor(floor: Floor) -> None:
    width = max(len(label) for label, _ in floor.rows())
    print(f"{'etcd floor (one Python client)'.ljust(width)}  value")
    for label, value in floor.rows():
        print(f"{label.ljust(width)}  {value:>10}")


def write_json(name: str, payload: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


async def _main(args: argparse.Namespace) -> Floor:
    if args.etcd:
        return await measure_floor(args.etcd, quick=args.quick)
    from store.embedded import EmbeddedEtcd, free_port

    with tempfile.TemporaryDirectory(prefix="o2-floor-") as tmp:
        async with EmbeddedEtcd(Path(tmp) / "etcd", free_port(), free_port()) as etcd:
            return await measure_floor(etcd.endpoint, quick=args.quick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--etcd", help="measure an existing etcd instead of a private one")
    parser.add_argument("--quick", action="store_true", help="fewer operations")
    args = parser.parse_args(argv)
    floor = asyncio.run(_main(args))
    print_floor(floor)
    path = write_json("floor", {"floor": asdict(floor), "quick": args.quick})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
