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
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hack.bench.cli_bench import O2, installed_env, timed
from hack.bench.cpu import cpu_seconds
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
    """Cold and warm first loads of the GUI's task feed (see the module docstring), each with
    the server's CPU seconds, its RSS after, and the longest answer to a heartbeat request
    (`/api/info`, asked again as soon as answered) while it loaded: how long the server's loop
    was stalled for everyone else."""
    from tests.gui.procs import gui_process

    started = time.perf_counter()
    beats = [await _heartbeat(), await _heartbeat()]  # imported before they are needed
    with gui_process(etcd=endpoint, prefix=prefix) as gui:
        cold = await _probed(gui.url, gui.pid, tasks=tasks, beat=beats[0])
        cold["seconds"] = time.perf_counter() - started
        cold["server_cpu_seconds"] = cpu_seconds(gui.pid)
        warm = await _probed(gui.url, gui.pid, tasks=tasks, beat=beats[1])
    return {"cold": cold, "warm": warm}


async def _heartbeat() -> asyncio.subprocess.Process:
    """`heartbeat` in its own process, waiting for the URL on its stdin."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hack.bench.scale_reads",
        "--heartbeat",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def _probed(url: str, pid: int, *, tasks: int, beat: asyncio.subprocess.Process) -> Json:
    """`_load` with the heartbeat asking beside it; the server's CPU seconds and RSS."""
    cpu = cpu_seconds(pid)
    assert beat.stdin is not None
    beat.stdin.write(f"{url}\n".encode())
    await beat.stdin.drain()
    try:
        load = await _load(url, tasks=tasks)
    finally:
        out, _ = await beat.communicate(b"")  # closes its stdin: it stops
    beats = json.loads(out)
    return {
        **load,
        "server_cpu_seconds": cpu_seconds(pid) - cpu,
        "server_rss_mb": _rss_mb(pid),
        "longest_stall_seconds": beats["longest"],
        "heartbeats": beats["answered"],
    }


def heartbeat() -> Json:
    """Ask `/api/info` at the URL read from stdin again 20 ms after each answer until
    stdin closes: the longest wait and how many answers came. Its own process, so the
    browser's parsing in the benchmark's loop is not counted as the server's stall."""
    import http.client
    import select
    from urllib.parse import urlsplit

    where = urlsplit(sys.stdin.readline().strip())
    longest, answered = 0.0, 0
    while not select.select([sys.stdin], [], [], 0.02)[0]:
        asked = time.perf_counter()
        conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=600)
        try:
            conn.request("GET", "/api/info")
            conn.getresponse().read()
        except OSError:
            continue
        finally:
            conn.close()
        longest = max(longest, time.perf_counter() - asked)
        answered += 1
    return {"longest": longest, "answered": answered}


def _rss_mb(pid: int) -> float:
    """The process's resident set now, in MB (/proc/<pid>/status VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


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


async def measure(endpoint: str, prefix: str, *, tasks: int, cli: bool = True) -> Json:
    """Both reads (the CLI's in a thread: it is a subprocess run to completion); `cli=False`
    times the GUI feed only."""
    reads: Json = {}
    if cli:
        reads["o2_get_tasks"] = await asyncio.to_thread(get_tasks, endpoint, prefix)
    reads["gui_feed"] = await gui_feed(endpoint, prefix, tasks=tasks)
    return reads


def describe(reads: Json) -> str:
    """One line for the benchmark's table."""
    feed, line = reads["gui_feed"], ""
    if "o2_get_tasks" in reads:
        cli = reads["o2_get_tasks"]
        line = (
            f"o2 get tasks {cli['wall_seconds']:.2f} s wall ({cli['cpu_seconds']:.2f} s CPU, "
            f"{cli['rows']} rows); "
        )
    cold, warm = feed["cold"], feed["warm"]
    return line + (
        f"GUI feed first load cold {cold['seconds']:.2f} s, warm {warm['seconds']:.2f} s "
        f"({warm['snapshot_bytes'] / 1e6:.1f} MB); server CPU {cold['server_cpu_seconds']:.2f} "
        f"+ {warm['server_cpu_seconds']:.2f} s, RSS {warm['server_rss_mb']:.0f} MB, longest "
        f"heartbeat wait {cold['longest_stall_seconds'] * 1e3:.0f} / "
        f"{warm['longest_stall_seconds'] * 1e3:.0f} ms"
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
    if args.etcd and args.fill_only:
        await fill(args.etcd, args.prefix, tasks=args.tasks)
        return {}
    if args.etcd:
        return await measure(args.etcd, args.prefix, tasks=args.tasks, cli=not args.gui_only)
    from tests.etcd_fixture import start_etcd

    with tempfile.TemporaryDirectory(prefix="o2-scale-reads-") as work:
        etcd = start_etcd(Path(work) / "etcd")
        try:
            started = time.perf_counter()
            await fill(etcd.endpoint, args.prefix, tasks=args.tasks)
            print(f"wrote {args.tasks} Tasks in {time.perf_counter() - started:.1f} s", flush=True)
            return await measure(
                etcd.endpoint, args.prefix, tasks=args.tasks, cli=not args.gui_only
            )
        finally:
            etcd.stop_sync()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="o2 get tasks and the GUI feed at scale")
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--etcd", default="", help="an etcd already holding the Tasks")
    parser.add_argument("--prefix", default="/o2")
    parser.add_argument("--gui-only", action="store_true", help="skip `o2 get tasks`")
    parser.add_argument("--fill-only", action="store_true", help="with --etcd: write the Tasks")
    parser.add_argument("--heartbeat", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.heartbeat:
        print(json.dumps(heartbeat()))
        return 0
    reads = asyncio.run(standalone(args))
    if not reads:
        return 0
    print(describe(reads))
    from hack.bench.floor import write_json

    write_json("scale_reads", {"tasks": args.tasks, **reads})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
