"""Reads at scale, for the stack benchmarks: `o2 get tasks` (the CLI's raw fast path) and the
GUI's task feed first load, timed over a prefix holding many Tasks. Not a benchmark itself
(hack.bench's runner skips it): environments_bench --reads calls it with the environment's
tasks still in etcd.

- `o2 get tasks`: the installed CLI as a user runs it (bytecode cached, warm-up run first),
  wall and CPU seconds of each of 3 runs, and the rows it printed.
- GUI feed: a fresh `python -m gui` on the prefix; `cold` is the time from starting the server
  until one browser holds every task (its informers list first: what a user opening the
  control room after `o2 gui` waits), `warm` a second browser's load on the running server
  (SSE `/api/stream` until the snapshot and the deltas after it hold every task), with the
  snapshot's bytes.

Standalone, without the cluster: `python -m hack.bench.scale_reads --tasks 50000` writes that
many Tasks (store_bench.make_task's shape, ~1.5 KiB stored) into a private etcd in 128-put
txns and times both reads over them; `--etcd URL --prefix P` times an existing prefix instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hack.bench.cli_bench import O2, installed_env, timed
from hack.bench.gui_bench import Browser

Json = dict[str, Any]
RUNS = 3


def get_tasks(endpoint: str, prefix: str) -> Json:
    """`o2 get tasks` over the whole prefix: median wall/CPU of RUNS runs after a warm-up."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="o2-reads-") as cache:
        env = installed_env(endpoint, prefix, Path(cache))
        cmd = [*O2, "get", "tasks"]
        shown = subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=300)
        rows = max(0, len(shown.stdout.splitlines()) - 1)  # less the header
        runs = [timed(cmd, env) for _ in range(RUNS)]
    return {
        "rows": rows,
        "wall_seconds": statistics.median(w for w, _ in runs),
        "cpu_seconds": statistics.median(c for _, c in runs),
        "runs": runs,
    }


async def gui_feed(endpoint: str, prefix: str, *, tasks: int) -> Json:
    """Cold and warm first loads of the GUI's task feed (see the module docstring)."""
    from tests.gui.procs import gui_process

    started = time.perf_counter()
    with gui_process(etcd=endpoint, prefix=prefix) as gui:
        cold = await _load(gui.url, tasks=tasks)
        cold["seconds"] = time.perf_counter() - started
        warm = await _load(gui.url, tasks=tasks)
    return {"cold": cold, "warm": warm}


async def _load(url: str, *, tasks: int) -> Json:
    """One browser: seconds until it holds `tasks` tasks; snapshot bytes and tasks in it."""
    browser, ready = Browser(), asyncio.Event()
    started = time.perf_counter()
    reader = asyncio.create_task(browser.run(url, ready))
    try:
        async with asyncio.timeout(600):
            await ready.wait()
            in_snapshot = len(browser.states)
            while len(browser.states) < tasks:
                browser.changed.clear()
                await browser.changed.wait()
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return {
        "seconds": time.perf_counter() - started,
        "snapshot_bytes": browser.snapshot_bytes,
        "tasks_in_snapshot": in_snapshot,
    }


async def measure(endpoint: str, prefix: str, *, tasks: int) -> Json:
    """Both reads (the CLI's in a thread: it is a subprocess run to completion)."""
    cli = await asyncio.to_thread(get_tasks, endpoint, prefix)
    return {"o2_get_tasks": cli, "gui_feed": await gui_feed(endpoint, prefix, tasks=tasks)}


def describe(reads: Json) -> str:
    """One line for the benchmark's table."""
    cli, feed = reads["o2_get_tasks"], reads["gui_feed"]
    return (
        f"o2 get tasks {cli['wall_seconds']:.2f} s wall ({cli['cpu_seconds']:.2f} s CPU, "
        f"{cli['rows']} rows); GUI feed first load cold {feed['cold']['seconds']:.2f} s, "
        f"warm {feed['warm']['seconds']:.2f} s ({feed['warm']['snapshot_bytes'] / 1e6:.1f} MB)"
    )


FILL_TXN = 128


async def fill(endpoint: str, prefix: str, *, tasks: int) -> None:
    """`tasks` Tasks under `prefix`, as the task controller stores them, in 128-put txns."""
    from hack.bench.floor import client_for
    from hack.bench.store_bench import make_task
    from store import codec

    now = datetime.now(UTC)
    template = json.loads(codec.encode(codec.prepare_create(make_task(0), now=now)))

    def value(i: int) -> bytes:
        doc = json.loads(json.dumps(template))
        doc["metadata"]["name"] = f"physics-1-flp-{i:05d}-readout"
        doc["metadata"]["creationTimestamp"] = (now - timedelta(minutes=i % 600)).isoformat()
        doc["spec"]["role"] = f"flp-{i:05d}.readout"
        doc["status"]["pid"] = 1000 + i
        return json.dumps(doc, separators=(",", ":")).encode()

    async with client_for(endpoint) as client:
        for first in range(0, tasks, FILL_TXN):
            puts = [
                client.transactions.put(
                    f"{prefix}/registry/tasks/physics-1-flp-{i:05d}-readout".encode(), value(i)
                )
                for i in range(first, min(tasks, first + FILL_TXN))
            ]
            await client.transaction(compare=[], success=puts, failure=[])


async def standalone(args: argparse.Namespace) -> Json:
    if args.etcd:
        return await measure(args.etcd, args.prefix, tasks=args.tasks)
    from tests.etcd_fixture import start_etcd

    with tempfile.TemporaryDirectory(prefix="o2-scale-reads-") as work:
        etcd = start_etcd(Path(work) / "etcd")
        try:
            started = time.perf_counter()
            await fill(etcd.endpoint, args.prefix, tasks=args.tasks)
            print(f"wrote {args.tasks} Tasks in {time.perf_counter() - started:.1f} s", flush=True)
            return await measure(etcd.endpoint, args.prefix, tasks=args.tasks)
        finally:
            etcd.stop_sync()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="o2 get tasks and the GUI feed at scale")
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--etcd", default="", help="an etcd already holding the Tasks")
    parser.add_argument("--prefix", default="/o2")
    args = parser.parse_args(argv)
    reads = asyncio.run(standalone(args))
    print(describe(reads))
    from hack.bench.floor import write_json

    write_json("scale_reads", {"tasks": args.tasks, **reads})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
