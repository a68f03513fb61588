"""GUI memory with many stalled browsers: RSS of the real GUI process with 10,000 tasks and
200 SSE clients that never read, the 503 past --max-clients, and action / info latency.

A real etcd and `python -m gui --max-clients 200`. Each stalled client sends the stream request
and never reads a byte: the worst case for the server's buffers. The benchmark then plays one
START_ACTIVITY (every task's state changes) so deltas pile up behind the stalled clients, and
reports RSS before, with the clients, after the deltas (and the peak), and after they leave.
Run: `.venv/bin/python -m hack.bench.gui_clients_bench [--tasks N] [--clients N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from crds.kinds.task import Task
from hack.bench.gui_bench import RESULTS, create_tasks
from store.config import StoreConfig, open_store
from store.etcd import EtcdStore
from tests.etcd_fixture import start_etcd
from tests.gui.procs import gui_process
from tests.gui.samples import environment
from tests.waiting import eventually

TOKEN = "bench:bench-token-123"


def rss_mb(pid: int) -> dict[str, float]:
    """Current and peak resident set size of `pid` in MB, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


async def stalled_client(port: int) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    await writer.drain()
    return writer


async def timed(http: aiohttp.ClientSession, method: str, url: str) -> tuple[int, float]:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {TOKEN.split(':')[1]}"}
    async with http.request(method, url, headers=headers) as response:
        await response.read()
        return response.status, time.perf_counter() - started


async def wait_clients(http: aiohttp.ClientSession, url: str, count: int) -> None:
    async def clients() -> int:
        return int((await (await http.get(url + "api/info")).json())["clients"])

    def reached(seen: int) -> bool:
        return seen == count

    await eventually(clients, until=reached, within=60, interval=0.2)


async def change_all(store: EtcdStore, state: str) -> None:
    listed = (await store.list(Task)).items
    updated = [
        t.model_copy(update={"status": t.status.model_copy(update={"state": state})})
        for t in listed
    ]
    assert (await store.update_status_many(updated)).ok


async def bench(endpoint: str, token_file: Path, *, tasks: int, clients: int) -> dict[str, Any]:
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix="/o2"))
    await create_tasks(store, tasks)
    await store.create(environment("bench-env"))
    extra = ("--max-clients", str(clients))
    with gui_process(etcd=endpoint, prefix="/o2", token_file=token_file, extra=extra) as gui:
        port = int(gui.url.rstrip("/").rsplit(":", 1)[1])
        result: dict[str, Any] = {"tasks": tasks, "clients": clients}
        async with aiohttp.ClientSession() as http:
            async with http.get(gui.url + "api/stream") as first:  # wait for the informers
                await first.content.readline()
            await asyncio.sleep(1.0)
            result["rss_before"] = rss_mb(gui.pid)
            writers = [await stalled_client(port) for _ in range(clients)]
            await wait_clients(http, gui.url, clients)
            result["rss_with_clients"] = rss_mb(gui.pid)
            async with http.get(gui.url + "api/stream") as refused:
                result["beyond_cap_status"] = refused.status
            await change_all(store, "RUNNING")
            await asyncio.sleep(3.0)
            result["rss_after_deltas"] = rss_mb(gui.pid)
            result["clients_after_deltas"] = (await (await http.get(gui.url + "api/info")).json())[
                "clients"
            ]
            status, seconds = await timed(
                http, "POST", gui.url + "api/environments/bench-env/deploy"
            )
            result["action"] = {"status": status, "seconds": seconds}
            status, seconds = await timed(http, "GET", gui.url + "api/info")
            result["info"] = {"status": status, "seconds": seconds}
            for writer in writers:
                writer.close()
            await wait_clients(http, gui.url, 0)
            await asyncio.sleep(1.0)
            result["rss_after_leaving"] = rss_mb(gui.pid)
    await store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="o2-gui-clients-") as tmp:
        token_file = Path(tmp) / "tokens"
        token_file.write_text(TOKEN + "\n")
        token_file.chmod(0o600)
        etcd = start_etcd(Path(tmp) / "data")
        try:
            result = asyncio.run(
                bench(etcd.endpoint, token_file, tasks=args.tasks, clients=args.clients)
            )
        finally:
            etcd.stop_sync()
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gui_clients_bench.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
