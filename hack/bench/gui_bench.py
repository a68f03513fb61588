"""GUI server cost while 10,000 tasks change state: server CPU and SSE bytes/s to one browser.

A real etcd, the real GUI process (`python -m gui`), 10,000 Task objects, and one SSE client in
this process. The benchmark plays a START_ACTIVITY (every task CONFIGURED -> RUNNING, written
with update_status_many, as the task controller does) and a STOP_ACTIVITY, and measures for
each: wall time until the browser holds the new state of all tasks, server CPU seconds (from
/proc), bytes and messages received. Run: `.venv/bin/python -m hack.bench.gui_bench [--tasks N]`.
Numbers come from a shared 2-core machine: treat them as an order of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from crds.kinds.task import Task
from store.config import StoreConfig, open_store
from store.etcd import EtcdStore
from tests.etcd_fixture import start_etcd
from tests.gui.procs import gui_process
from tests.gui.samples import task

RESULTS = Path(__file__).resolve().parent / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    name: str
    tasks: int
    write_seconds: float
    seen_seconds: float
    server_cpu_seconds: float
    bytes: int
    messages: int

    @property
    def bytes_per_second(self) -> float:
        return self.bytes / self.seen_seconds

    @property
    def cpu_percent(self) -> float:
        return 100 * self.server_cpu_seconds / self.seen_seconds


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class Browser:
    """One SSE client holding the task states, counting bytes and messages."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.bytes = 0
        self.messages = 0
        self.snapshot_bytes = 0
        self.changed = asyncio.Event()

    async def run(self, url: str, ready: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as http, http.get(url + "api/stream") as response:
            event, partial = "", list[bytes]()
            async for chunk in response.content.iter_any():
                self.bytes += len(chunk)
                if b"\n" not in chunk:  # a long line (a snapshot): join it once, at its end
                    partial.append(chunk)
                    continue
                *lines, rest = b"".join([*partial, chunk]).split(b"\n")
                partial = [rest]
                for line in lines:
                    event = self.on_line(line.decode(), event, ready)

    def on_line(self, text: str, event: str, ready: asyncio.Event) -> str:
        if text.startswith("event: "):
            return text[7:].strip()
        if text.startswith("data: "):
            self.apply(event, json.loads(text[6:]))
            self.messages += 1
            if event == "snapshot":
                self.snapshot_bytes = self.bytes
                ready.set()
            self.changed.set()
        return event

    def apply(self, event: str, message: dict[str, Any]) -> None:
        if event == "snapshot":
            self.states = {t["name"]: t.get("state", "") for t in message["objects"]["tasks"]}
            return
        for change in message["changes"]:
            if change["kind"] == "tasks" and change["op"] == "put":
                self.states[change["obj"]["name"]] = change["obj"].get("state", "")

    async def wait_all(self, state: str) -> None:
        while sum(1 for s in self.states.values() if s == state) < len(self.states):
            self.changed.clear()
            await self.changed.wait()


async def create_tasks(store: EtcdStore, count: int) -> None:
    gate = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with gate:
            await store.create(
                task(f"task-{i:05d}", role=f"flp-{i % 40}.readout", state="CONFIGURED")
            )

    await asyncio.gather(*(one(i) for i in range(count)))


async def transition(
    store: EtcdStore, browser: Browser, pid: int, *, name: str, state: str
) -> Phase:
    listed = (await store.list(Task)).items
    updated = [
        t.model_copy(update={"status": t.status.model_copy(update={"state": state})})
        for t in listed
    ]
    bytes0, messages0, cpu0 = browser.bytes, browser.messages, cpu_seconds(pid)
    started = time.perf_counter()
    result = await store.update_status_many(updated)
    written = time.perf_counter() - started
    assert result.ok
    await asyncio.wait_for(browser.wait_all(state), timeout=120)
    seen = time.perf_counter() - started
    return Phase(
        name,
        len(updated),
        written,
        seen,
        cpu_seconds(pid) - cpu0,
        browser.bytes - bytes0,
        browser.messages - messages0,
    )


async def bench(endpoint: str, *, tasks: int, flush_ms: float) -> dict[str, Any]:
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix="/o2"))
    await create_tasks(store, tasks)
    with gui_process(etcd=endpoint, prefix="/o2", flush_ms=flush_ms) as gui:
        browser = Browser()
        ready = asyncio.Event()
        reader = asyncio.create_task(browser.run(gui.url, ready))
        await asyncio.wait_for(ready.wait(), timeout=60)
        await asyncio.sleep(1.0)  # let the server's startup work settle before measuring
        idle0, idle_t = cpu_seconds(gui.pid), time.perf_counter()
        await asyncio.sleep(2.0)
        idle_cpu = 100 * (cpu_seconds(gui.pid) - idle0) / (time.perf_counter() - idle_t)
        phases = [
            await transition(store, browser, gui.pid, name="START_ACTIVITY", state="RUNNING"),
            await transition(store, browser, gui.pid, name="STOP_ACTIVITY", state="CONFIGURED"),
        ]
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    await store.close()
    return {
        "tasks": tasks,
        "flush_ms": flush_ms,
        "snapshot_bytes": browser.snapshot_bytes,
        "idle_cpu_percent": idle_cpu,
        "phases": [
            asdict(p) | {"bytes_per_second": p.bytes_per_second, "cpu_percent": p.cpu_percent}
            for p in phases
        ],
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        f"GUI bench: {result['tasks']} tasks, flush {result['flush_ms']:.0f} ms, "
        f"snapshot {result['snapshot_bytes'] / 1e6:.2f} MB, "
        f"idle server CPU {result['idle_cpu_percent']:.1f}%"
    )
    head = ("phase", "writes s", "seen s", "srv CPU s", "CPU %", "MB sent", "KB/s", "msgs")
    print("{:<16}{:>10}{:>9}{:>11}{:>8}{:>9}{:>9}{:>7}".format(*head))
    for p in result["phases"]:
        cells = (
            p["name"],
            f"{p['write_seconds']:.2f}",
            f"{p['seen_seconds']:.2f}",
            f"{p['server_cpu_seconds']:.2f}",
            f"{p['cpu_percent']:.0f}",
            f"{p['bytes'] / 1e6:.2f}",
            f"{p['bytes_per_second'] / 1e3:.0f}",
            str(p["messages"]),
        )
        print("{:<16}{:>10}{:>9}{:>11}{:>8}{:>9}{:>9}{:>7}".format(*cells))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--flush-ms", type=float, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="o2-gui-bench-") as tmp:
        etcd = start_etcd(Path(tmp) / "data")
        try:
            result = asyncio.run(bench(etcd.endpoint, tasks=args.tasks, flush_ms=args.flush_ms))
        finally:
            etcd.stop_sync()
    print_table(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gui_bench.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
