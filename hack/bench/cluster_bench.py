"""The local Mesos cluster's own cost: CPU seconds of the `python -m localmesos` process per
1,000 tasks launched (and per 1,000 status updates), with 50 hollow agents.

    .venv/bin/python -m hack.bench.cluster_bench [--tasks 5000] [--agents 50] [--acks 32]

A minimal raw-HTTP scheduler in this file drives the cluster (so the number is the cluster's,
not o2's client's): phase 1 accepts offers with LAUNCHes until every task is TASK_RUNNING and
each RUNNING update is ACKed; phase 2 KILLs every task until every TASK_KILLED is ACKed. The
cluster's CPU comes from /proc/<pid>/stat. Prints a table and writes
hack/bench/results/cluster_bench.json. A shared 2-core machine: noisy, compare on one box only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from mesosapi.recordio import RecordIODecoder

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results" / "cluster_bench.json"
Json = dict[str, Any]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_cluster(agents: int) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localmesos",
            "--port",
            "0",
            "--agents",
            "0",
            "--hollow-agents",
            str(agents),
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("localmesos master listening on "):
        proc.kill()
        raise RuntimeError(f"localmesos did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1]


class Driver:
    """Just enough scheduler: subscribe, accept, kill, explicit ACKs with bounded concurrency."""

    def __init__(self, url: str, *, acks: int) -> None:
        self.url = url
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=acks + 4))
        self.acks = asyncio.Semaphore(acks)
        self.stream_id = ""
        self.framework_id: Json = {}
        self.states: dict[str, str] = {}
        self.offers: asyncio.Queue[list[Json]] = asyncio.Queue()
        self.changed = asyncio.Event()
        self.pending_acks: set[asyncio.Task[None]] = set()

    async def call(self, body: Json) -> None:
        body = {"framework_id": self.framework_id, **body}
        async with self.session.post(
            f"{self.url}/api/v1/scheduler", json=body, headers={"Mesos-Stream-Id": self.stream_id}
        ) as resp:
            await resp.read()
            if resp.status >= 300:
                raise RuntimeError(f"{body['type']}: HTTP {resp.status}")

    async def subscribe(self) -> asyncio.Task[None]:
        info = {"user": "bench", "name": "cluster-bench", "failover_timeout": 60}
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        resp = await self.session.post(f"{self.url}/api/v1/scheduler", json=body)
        self.stream_id = resp.headers["Mesos-Stream-Id"]
        subscribed = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(self._read(resp, subscribed))
        self.framework_id = await subscribed
        return reader

    async def _read(self, resp: aiohttp.ClientResponse, subscribed: asyncio.Future[Json]) -> None:
        decoder = RecordIODecoder()
        async for chunk in resp.content.iter_any():
            for event in decoder.feed(chunk):
                kind = event["type"]
                if kind == "SUBSCRIBED":
                    subscribed.set_result(event["subscribed"]["framework_id"])
                elif kind == "OFFERS":
                    self.offers.put_nowait(event["offers"]["offers"])
                elif kind == "UPDATE":
                    self._update(event["update"]["status"])

    def _update(self, status: Json) -> None:
        self.states[status["task_id"]["value"]] = status["state"]
        self.changed.set()
        if "uuid" in status:
            ack = asyncio.create_task(self._ack(status))
            self.pending_acks.add(ack)
            ack.add_done_callback(self.pending_acks.discard)

    async def _ack(self, status: Json) -> None:
        async with self.acks:
            await self.call(
                {
                    "type": "ACKNOWLEDGE",
                    "acknowledge": {
                        "agent_id": status["agent_id"],
                        "task_id": status["task_id"],
                        "uuid": status["uuid"],
                    },
                }
            )

    async def wait_all(self, ids: list[str], state: str) -> None:
        while not all(self.states.get(t) == state for t in ids):
            self.changed.clear()
            await self.changed.wait()
        while self.pending_acks:
            await asyncio.gather(*list(self.pending_acks))


def task(task_id: str, offer: Json) -> Json:
    def scalar(name: str, value: float) -> Json:
        return {"name": name, "type": "SCALAR", "scalar": {"value": value}}

    return {
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "name": task_id,
        "resources": [scalar("cpus", 0.01), scalar("mem", 1)],
        "executor": {
            "executor_id": {"value": "o2-executor"},
            "command": {"value": "true"},
            "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
        },
    }


async def launch(driver: Driver, ids: list[str], *, per_offer: int) -> None:
    todo = list(ids)
    while todo:
        for offer in await driver.offers.get():
            batch, todo = todo[:per_offer], todo[per_offer:]
            if not batch:
                break
            await driver.call(
                {
                    "type": "ACCEPT",
                    "accept": {
                        "offer_ids": [offer["id"]],
                        "operations": [
                            {
                                "type": "LAUNCH",
                                "launch": {"task_infos": [task(t, offer) for t in batch]},
                            }
                        ],
                        "filters": {"refuse_seconds": 0},
                    },
                }
            )
    await driver.wait_all(ids, "TASK_RUNNING")


async def kill(driver: Driver, ids: list[str]) -> None:
    await asyncio.gather(
        *(driver.call({"type": "KILL", "kill": {"task_id": {"value": t}}}) for t in ids)
    )
    await driver.wait_all(ids, "TASK_KILLED")


@dataclass
class Result:
    tasks: int
    hollow_agents: int
    launch_wall_s: float
    launch_tasks_per_s: float
    cluster_cpu_s_per_1000_launched: float
    cluster_rss_mib_idle: float
    cluster_rss_mib_running: float
    kill_wall_s: float
    kill_updates_per_s: float
    cluster_cpu_s_per_1000_killed: float
    driver_cpu_s: float


async def run(*, tasks: int, agents: int, acks: int) -> Result:
    proc, url = start_cluster(agents)
    driver = Driver(url, acks=acks)
    try:
        reader = await driver.subscribe()
        ids = [f"task-{i}" for i in range(tasks)]
        per_offer = -(-tasks // agents)
        rss0 = rss_mib(proc.pid)
        cpu0, drv0, t0 = cpu_seconds(proc.pid), self_cpu(), time.perf_counter()
        await launch(driver, ids, per_offer=per_offer)
        cpu1, t1 = cpu_seconds(proc.pid), time.perf_counter()
        rss1 = rss_mib(proc.pid)
        await kill(driver, ids)
        cpu2, drv2, t2 = cpu_seconds(proc.pid), self_cpu(), time.perf_counter()
        reader.cancel()
    finally:
        await driver.session.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    return Result(
        tasks=tasks,
        hollow_agents=agents,
        launch_wall_s=round(t1 - t0, 3),
        launch_tasks_per_s=round(tasks / (t1 - t0)),
        cluster_cpu_s_per_1000_launched=round((cpu1 - cpu0) * 1000 / tasks, 3),
        cluster_rss_mib_idle=rss0,
        cluster_rss_mib_running=rss1,
        kill_wall_s=round(t2 - t1, 3),
        kill_updates_per_s=round(tasks / (t2 - t1)),
        cluster_cpu_s_per_1000_killed=round((cpu2 - cpu1) * 1000 / tasks, 3),
        driver_cpu_s=round(drv2 - drv0, 3),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--acks", type=int, default=32, help="ACKs in flight")
    args = parser.parse_args()
    result = asyncio.run(run(tasks=args.tasks, agents=args.agents, acks=args.acks))
    width = max(len(k) for k in asdict(result))
    print(f"{'metric':<{width}}  value")
    for key, value in asdict(result).items():
        print(f"{key:<{width}}  {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {**asdict(result), "time": time.time(), "note": "shared 2-core machine; noisy"},
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
